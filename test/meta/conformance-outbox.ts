import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutboxEntry } from '../../src/meta/types.js';
import { at, completionOf, insertUser, randomId, sampleFile, sampleUpload, sha256Of, useStore, type StoreFactory } from './conformance-fixtures.js';

const LEASE = 60_000;

function entry(destination: string, orderingKey: string, minutes = 0): OutboxEntry {
  const id = randomId();
  return { id, destination, orderingKey, body: JSON.stringify({ id, note: 'é' }), createdAt: at(minutes) };
}

/** OutboxRecords: messages delivered at least once, one at a time per line, in order. */
export function outboxConformance(factory: StoreFactory): void {
  describe('outbox', () => {
    const store = useStore(factory);

    it('claims due messages oldest first, one per line (destination and ordering key)', async () => {
      const [a1, a2, b1, c1] = [entry('http://x/a', 'u1'), entry('http://x/a', 'u1'), entry('http://x/a', 'u2'), entry('http://x/c', 'u1')];
      await store().outbox.enqueue([a1!, a2!, b1!]);
      await store().outbox.enqueue([c1!]);
      const due = await store().outbox.claimDue(at(1), 10, LEASE);
      assert.deepEqual(due.map((m) => m.id), [a1!.id, b1!.id, c1!.id], 'a2 waits behind a1');
      assert.deepEqual({ ...due[0]!, seq: 0 }, { ...a1!, seq: 0, attempts: 0 });
      assert.deepEqual(await store().outbox.claimDue(at(1), 10, LEASE), [], 'claimed messages are not handed out twice, nor is a2 while a1 is claimed');
      await store().outbox.markDelivered(due[0]!.seq);
      assert.deepEqual((await store().outbox.claimDue(at(1), 10, LEASE)).map((m) => m.id), [a2!.id]);
      assert.deepEqual((await store().outbox.claimDue(at(1), 1, LEASE)), []);
    });

    it('hands a claimed message out again once its lease has run out (its worker died)', async () => {
      const message = entry('http://x/a', 'u1');
      await store().outbox.enqueue([message]);
      await store().outbox.claimDue(at(0), 10, LEASE);
      assert.deepEqual(await store().outbox.claimDue(new Date(at(0).getTime() + LEASE - 1), 10, LEASE), []);
      assert.deepEqual((await store().outbox.claimDue(new Date(at(0).getTime() + LEASE), 10, LEASE)).map((m) => m.id), [message.id]);
    });

    it('gives concurrent claims disjoint messages', async () => {
      const entries = Array.from({ length: 12 }, (_, n) => entry('http://x/a', `u${n}`));
      await store().outbox.enqueue(entries);
      const claims = await Promise.all([1, 2, 3].map(() => store().outbox.claimDue(at(1), 5, LEASE)));
      const ids = claims.flat().map((m) => m.id);
      assert.equal(new Set(ids).size, ids.length, 'no message claimed twice');
      assert.equal(ids.length, 12);
    });

    it('holds a failed message until its next attempt, blocking its line, and counts attempts', async () => {
      const [first, second] = [entry('http://x/a', 'u1'), entry('http://x/a', 'u1')];
      await store().outbox.enqueue([first!, second!]);
      const [due] = await store().outbox.claimDue(at(0), 10, LEASE);
      await store().outbox.markFailed(due!.seq, at(5), 'answered 500');
      assert.deepEqual(await store().outbox.claimDue(at(4), 10, LEASE), [], 'neither the failed message nor the one behind it');
      const [again] = await store().outbox.claimDue(at(5), 10, LEASE);
      assert.equal(again!.id, first!.id);
      assert.equal(again!.attempts, 1);
      assert.deepEqual(await store().outbox.counts(), { pending: 2, dead: 0 });
    });

    it('gives a message up without blocking its line any longer', async () => {
      const [first, second] = [entry('http://x/a', 'u1'), entry('http://x/a', 'u1')];
      await store().outbox.enqueue([first!, second!]);
      const [due] = await store().outbox.claimDue(at(0), 10, LEASE);
      await store().outbox.markFailed(due!.seq, null, 'gone');
      assert.deepEqual((await store().outbox.claimDue(at(0), 10, LEASE)).map((m) => m.id), [second!.id]);
      assert.deepEqual(await store().outbox.counts(), { pending: 1, dead: 1 });
    });

    it('queues completion messages in the completion transaction, and none when it fails', async () => {
      const owner = await insertUser(store());
      const upload = sampleUpload({ ownerId: owner.id, offset: 1000 });
      await store().uploads.insert(upload);
      const message = entry('http://x/hook', upload.id);
      const file = sampleFile(owner.id, { size: 1000, sha256: sha256Of('with message') });
      await store().library.completeUpload({ ...completionOf(upload, file), outbox: [message] });
      assert.deepEqual((await store().outbox.claimDue(at(1), 10, LEASE)).map((m) => m.id), [message.id]);

      const ghost = sampleUpload({ ownerId: randomId() });
      await store().uploads.insert(ghost);
      const lost = entry('http://x/hook', ghost.id);
      await assert.rejects(store().library.completeUpload({ ...completionOf(ghost, sampleFile(ghost.ownerId)), outbox: [lost] }));
      assert.deepEqual(await store().outbox.claimDue(at(1), 10, LEASE), [], 'the failed completion queued nothing');
    });
  });
}
