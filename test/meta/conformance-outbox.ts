import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutboxEntry } from '../../src/meta/types.js';
import { at, completionOf, insertUser, randomId, sampleFile, sampleUpload, sha256Of, useStore, type StoreFactory } from './conformance-fixtures.js';

function entry(destination: string, orderingKey: string, minutes = 0): OutboxEntry {
  const id = randomId();
  return { id, destination, orderingKey, body: JSON.stringify({ id, note: 'é' }), createdAt: at(minutes) };
}

/** OutboxRecords: messages delivered at least once, one at a time per line, in order. */
export function outboxConformance(factory: StoreFactory): void {
  describe('outbox', () => {
    const store = useStore(factory);

    it('lists due messages oldest first, one per line (destination and ordering key)', async () => {
      const [a1, a2, b1, c1] = [entry('http://x/a', 'u1'), entry('http://x/a', 'u1'), entry('http://x/a', 'u2'), entry('http://x/c', 'u1')];
      await store().outbox.enqueue([a1!, a2!, b1!]);
      await store().outbox.enqueue([c1!]);
      const due = await store().outbox.listDue(at(1), 10);
      assert.deepEqual(due.map((m) => m.id), [a1!.id, b1!.id, c1!.id], 'a2 waits behind a1');
      assert.deepEqual({ ...due[0]!, seq: 0 }, { ...a1!, seq: 0, attempts: 0 });
      await store().outbox.markDelivered(due[0]!.seq);
      assert.deepEqual((await store().outbox.listDue(at(1), 10)).map((m) => m.id), [a2!.id, b1!.id, c1!.id]);
      assert.deepEqual((await store().outbox.listDue(at(1), 1)).map((m) => m.id), [a2!.id]);
    });

    it('holds a failed message until its next attempt, blocking its line, and counts attempts', async () => {
      const [first, second] = [entry('http://x/a', 'u1'), entry('http://x/a', 'u1')];
      await store().outbox.enqueue([first!, second!]);
      const [due] = await store().outbox.listDue(at(0), 10);
      await store().outbox.markFailed(due!.seq, at(5), 'answered 500');
      assert.deepEqual(await store().outbox.listDue(at(4), 10), [], 'neither the failed message nor the one behind it');
      const [again] = await store().outbox.listDue(at(5), 10);
      assert.equal(again!.id, first!.id);
      assert.equal(again!.attempts, 1);
      assert.deepEqual(await store().outbox.counts(), { pending: 2, dead: 0 });
    });

    it('gives a message up without blocking its line any longer', async () => {
      const [first, second] = [entry('http://x/a', 'u1'), entry('http://x/a', 'u1')];
      await store().outbox.enqueue([first!, second!]);
      const [due] = await store().outbox.listDue(at(0), 10);
      await store().outbox.markFailed(due!.seq, null, 'gone');
      assert.deepEqual((await store().outbox.listDue(at(0), 10)).map((m) => m.id), [second!.id]);
      assert.deepEqual(await store().outbox.counts(), { pending: 1, dead: 1 });
    });

    it('queues completion messages in the completion transaction, and none when it fails', async () => {
      const owner = await insertUser(store());
      const upload = sampleUpload({ ownerId: owner.id, offset: 1000 });
      await store().uploads.insert(upload);
      const message = entry('http://x/hook', upload.id);
      const file = sampleFile(owner.id, { size: 1000, sha256: sha256Of('with message') });
      await store().library.completeUpload({ ...completionOf(upload, file), outbox: [message] });
      assert.deepEqual((await store().outbox.listDue(at(1), 10)).map((m) => m.id), [message.id]);

      const ghost = sampleUpload({ ownerId: randomId() });
      await store().uploads.insert(ghost);
      const lost = entry('http://x/hook', ghost.id);
      await assert.rejects(store().library.completeUpload({ ...completionOf(ghost, sampleFile(ghost.ownerId)), outbox: [lost] }));
      assert.deepEqual((await store().outbox.listDue(at(1), 10)).map((m) => m.id), [message.id]);
    });
  });
}
