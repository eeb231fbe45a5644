import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredFile } from '../../src/core/file.js';
import type { User } from '../../src/core/account.js';
import type { Upload } from '../../src/core/upload.js';
import type { MetaStore } from '../../src/meta/types.js';
import {
  allDeadBlobs, at, completionOf, fileQuery, insertUser, sampleFile, sampleUpload, sha256Of, useStore, type StoreFactory,
} from './conformance-fixtures.js';

const CONTENT = sha256Of('contended');

type Op =
  | { kind: 'complete'; upload: Upload; file: StoredFile; instant: boolean }
  | { kind: 'delete'; file: StoredFile };

interface Ledger {
  /** Files of CONTENT that exist, as far as the store's answers tell. */
  live: Map<string, StoredFile>;
  /** Uploads whose own bytes were handed to the store by a completion that succeeded. */
  completedKeys: Set<string>;
}

/** Every reference is a file, the blob exists iff a file names it, and no completed upload's bytes are lost track of. */
async function assertConsistent(store: MetaStore, users: readonly User[], ledger: Ledger, round: number): Promise<void> {
  const label = `after round ${round}`;
  let files = 0;
  for (const user of users) {
    const listed = await store.library.listFiles(user.id, fileQuery({ limit: 1000 }));
    files += listed.total;
    for (const file of listed.files) assert.ok(ledger.live.has(file.id), `${label}: unexpected file ${file.id}`);
  }
  assert.equal(files, ledger.live.size, `${label}: files in the store`);
  const blob = await store.library.getBlob(CONTENT);
  if (ledger.live.size === 0) {
    assert.equal(blob, null, `${label}: a blob without files`);
  } else {
    assert.equal(blob?.refs, ledger.live.size, `${label}: refs`);
  }
  const dead = new Set(await allDeadBlobs(store));
  if (blob) assert.ok(!dead.has(blob.storageKey), `${label}: the live blob's bytes are queued for removal`);
  for (const key of ledger.completedKeys) {
    assert.ok(dead.has(key) || blob?.storageKey === key, `${label}: the bytes of upload ${key} are neither a blob nor queued`);
  }
}

async function run(store: MetaStore, op: Op, ledger: Ledger): Promise<void> {
  if (op.kind === 'delete') {
    assert.equal(await store.library.deleteFile(op.file.ownerId, op.file.id), true, 'a live file must delete');
    ledger.live.delete(op.file.id);
    return;
  }
  const result = await store.library.completeUpload(completionOf(op.upload, op.file, op.instant));
  if (result === null) {
    assert.ok(op.instant, 'only an instant upload may be declined');
    assert.equal((await store.uploads.get(op.upload.id))?.state, 'open');
    return;
  }
  assert.equal(result.upload.fileId, op.file.id);
  if (op.instant) assert.equal(result.deduplicated, true);
  ledger.live.set(op.file.id, op.file);
  if (!op.instant) ledger.completedKeys.add(op.upload.id);
}

/** Interleaves two lists: a0, b0, a1, b1, ... */
function interleave<T>(a: readonly T[], b: readonly T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}

/** Reference counting must hold however completions and deletions of one content interleave. */
export function concurrencyConformance(factory: StoreFactory): void {
  describe('concurrent completions and deletions', () => {
    const store = useStore(factory);

    it('keep refs equal to the files, and the blob iff a file names it', async () => {
      const users = [await insertUser(store()), await insertUser(store()), await insertUser(store(), { tenant: 'other' })];
      const ledger: Ledger = { live: new Map(), completedKeys: new Set() };
      let serial = 0;

      async function completions(count: number, instantEvery: number): Promise<Op[]> {
        const ops: Op[] = [];
        for (let i = 0; i < count; i++) {
          const owner = users[serial++ % users.length]!;
          const upload = sampleUpload({ ownerId: owner.id, size: 1000 });
          await store().uploads.insert(upload);
          const file = sampleFile(owner.id, { sha256: CONTENT, name: `f${serial}`, createdAt: at(serial), updatedAt: at(serial) });
          ops.push({ kind: 'complete', upload, file, instant: instantEvery > 0 && i % instantEvery === 0 });
        }
        return ops;
      }

      // [new completions, which live files to delete, whether deletions go first]
      const rounds: [number, (index: number) => boolean, boolean][] = [
        [8, () => false, false],
        [10, (i) => i % 2 === 0, false],
        [6, () => true, true],
        [12, (i) => i % 3 !== 0, false],
        [0, () => true, false],
      ];
      for (const [round, [count, doomed, deletionsFirst]] of rounds.entries()) {
        const creates = await completions(count, round === 0 ? 0 : 3);
        const deletes: Op[] = [...ledger.live.values()].filter((_, i) => doomed(i)).map((file) => ({ kind: 'delete', file }));
        const ops = deletionsFirst ? [...deletes, ...creates] : interleave(creates, deletes);
        await Promise.all(ops.map((op) => run(store(), op, ledger)));
        await assertConsistent(store(), users, ledger, round);
      }
      assert.equal(ledger.live.size, 0);
      assert.equal(await store().library.getBlob(CONTENT), null);
    });

    it('complete many copies at once into one blob', async () => {
      const owner = await insertUser(store());
      const copies: { upload: Upload; file: StoredFile }[] = [];
      for (let i = 0; i < 20; i++) {
        const upload = sampleUpload({ ownerId: owner.id });
        await store().uploads.insert(upload);
        copies.push({ upload, file: sampleFile(owner.id, { sha256: CONTENT, name: `copy-${i}` }) });
      }
      const results = await Promise.all(copies.map(({ upload, file }) => store().library.completeUpload(completionOf(upload, file))));
      assert.equal(results.filter((result) => result?.deduplicated === false).length, 1, 'exactly one completion stores the bytes');
      const blob = await store().library.getBlob(CONTENT);
      assert.equal(blob?.refs, 20);
      const stored = results.find((result) => result?.deduplicated === false);
      assert.equal(blob?.storageKey, stored?.upload.id);
      const dead = new Set(await allDeadBlobs(store()));
      assert.deepEqual(copies.filter(({ upload }) => !dead.has(upload.id)).map(({ upload }) => upload.id), [blob?.storageKey]);
    });
  });
}
