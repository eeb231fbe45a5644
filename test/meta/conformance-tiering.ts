import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UPLOAD_STORE, type StoredBytes } from '../../src/core/file.js';
import type { MetaStore } from '../../src/meta/types.js';
import { at, insertUser, sha256Of, storeFile, useStore, type StoreFactory } from './conformance-fixtures.js';

const TIER = 's3';
const FAR_FUTURE = new Date(8.64e15);

async function dead(store: MetaStore, now = FAR_FUTURE): Promise<StoredBytes[]> {
  return store.library.listDeadBlobs(now, 10_000);
}

/** LibraryRecords for moving blobs between stores: what is due to move, planned copies, and the move itself. */
export function tieringConformance(factory: StoreFactory): void {
  describe('tiering', () => {
    const store = useStore(factory);

    it('starts every blob in the upload store and lists those created before the cutoff, oldest first', async () => {
      const owner = await insertUser(store());
      const old = await storeFile(store(), owner.id, { sha256: sha256Of('old'), createdAt: at(10) });
      const older = await storeFile(store(), owner.id, { sha256: sha256Of('older'), createdAt: at(5) });
      await storeFile(store(), owner.id, { sha256: sha256Of('new'), createdAt: at(30) });

      assert.equal((await store().library.getBlob(sha256Of('old')))?.store, UPLOAD_STORE);
      const due = await store().library.listBlobsToMove(UPLOAD_STORE, TIER, at(20), 10);
      assert.deepEqual(due.map((blob) => blob.storageKey), [older.upload.id, old.upload.id]);
      assert.deepEqual((await store().library.listBlobsToMove(UPLOAD_STORE, TIER, at(20), 1)).map((blob) => blob.storageKey), [older.upload.id]);
      assert.deepEqual(await store().library.listBlobsToMove(TIER, UPLOAD_STORE, at(20), 10), []);
    });

    it('does not list a blob again once its copy is planned, and plans again move the due time', async () => {
      const owner = await insertUser(store());
      const stored = await storeFile(store(), owner.id, { createdAt: at(0) });
      const copy = { store: TIER, storageKey: stored.upload.id };
      await store().library.planBlobCopy(copy, at(50));

      assert.deepEqual(await store().library.listBlobsToMove(UPLOAD_STORE, TIER, at(20), 10), []);
      assert.deepEqual(await dead(store(), at(49)), [], 'a planned copy is not dead before its due time');
      assert.deepEqual(await dead(store(), at(50)), [copy]);
      await store().library.planBlobCopy(copy, at(70));
      assert.deepEqual(await dead(store(), at(60)), []);
      assert.deepEqual(await dead(store()), [copy], 'planned twice, still one entry');
    });

    it('moves a blob: repoints it, takes the copy off the dead list, queues the old bytes at their due time', async () => {
      const owner = await insertUser(store());
      const stored = await storeFile(store(), owner.id, { sha256: sha256Of('moving'), createdAt: at(0) });
      const key = stored.upload.id;
      await store().library.planBlobCopy({ store: TIER, storageKey: key }, at(5));
      const before = await store().library.getBlob(sha256Of('moving'));

      const move = { sha256: sha256Of('moving'), storageKey: key, from: UPLOAD_STORE, to: TIER, sourceDueAt: at(40) };
      assert.equal(await store().library.moveBlob(move), true);
      assert.deepEqual(await store().library.getBlob(sha256Of('moving')), { ...before, store: TIER });
      assert.deepEqual(await dead(store(), at(39)), [], 'the old copy waits for downloads that began on it');
      assert.deepEqual(await dead(store()), [{ store: UPLOAD_STORE, storageKey: key }]);
      assert.equal(await store().library.moveBlob(move), false, 'a second move of the same blob changes nothing');
      assert.deepEqual(await dead(store()), [{ store: UPLOAD_STORE, storageKey: key }]);
      assert.deepEqual(await store().library.listBlobsToMove(UPLOAD_STORE, TIER, at(60), 10), []);
    });

    it('refuses to move a blob that was deleted or whose content is stored under another key', async () => {
      const owner = await insertUser(store());
      const gone = await storeFile(store(), owner.id, { sha256: sha256Of('gone') });
      await store().library.deleteFile(owner.id, gone.file.id);
      const move = { sha256: sha256Of('gone'), storageKey: gone.upload.id, from: UPLOAD_STORE, to: TIER, sourceDueAt: at(0) };
      assert.equal(await store().library.moveBlob(move), false);

      const again = await storeFile(store(), owner.id, { sha256: sha256Of('gone') });
      assert.equal(await store().library.moveBlob(move), false, 'the same content, stored again under a new key');
      assert.equal((await store().library.getBlob(sha256Of('gone')))?.store, UPLOAD_STORE);
      assert.deepEqual(await dead(store()), [{ store: UPLOAD_STORE, storageKey: gone.upload.id }]);
      assert.equal(again.deduplicated, false);
    });

    it('queues a moved blob\'s bytes in its new store when its last file goes, and forgets dead bytes by store', async () => {
      const owner = await insertUser(store());
      const stored = await storeFile(store(), owner.id, { sha256: sha256Of('tiered') });
      const key = stored.upload.id;
      await store().library.moveBlob({ sha256: sha256Of('tiered'), storageKey: key, from: UPLOAD_STORE, to: TIER, sourceDueAt: at(0) });
      await store().library.deleteFile(owner.id, stored.file.id);

      const both = [{ store: UPLOAD_STORE, storageKey: key }, { store: TIER, storageKey: key }];
      const sorted = (list: StoredBytes[]) => [...list].sort((a, b) => a.store.localeCompare(b.store));
      assert.deepEqual(sorted(await dead(store())), sorted(both));
      await store().library.forgetDeadBlob({ store: TIER, storageKey: key });
      assert.deepEqual(await dead(store()), [{ store: UPLOAD_STORE, storageKey: key }]);
    });
  });
}
