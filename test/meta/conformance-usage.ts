import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newUploadId } from '../../src/core/upload.js';
import type { StorageUsage } from '../../src/meta/types.js';
import { insertUser, randomId, sampleUpload, sha256Of, storeFile, useStore, type StoreFactory } from './conformance-fixtures.js';

/** UploadRecords.usage, insertIf and updateIf: what a user's quota is measured by, and reserved through. */
export function usageConformance(factory: StoreFactory): void {
  describe('storage usage', () => {
    const store = useStore(factory);

    it('is nothing for a user without files or uploads', async () => {
      const user = await insertUser(store());
      assert.deepEqual(await store().uploads.usage(user.id), { bytes: 0, openUploads: 0, quotaBytes: null });
    });

    it('counts every library file, reservations of unfinished uploads and completed partials, and nothing else', async () => {
      const user = await insertUser(store());
      const other = await insertUser(store());
      // The same content twice: each file is the user's, so each counts.
      await storeFile(store(), user.id, { size: 1000, sha256: sha256Of('twice') });
      await storeFile(store(), user.id, { size: 1000, sha256: sha256Of('twice') });
      await storeFile(store(), other.id, { size: 50_000, sha256: sha256Of('theirs') });
      const deleted = await storeFile(store(), user.id, { size: 7000, sha256: sha256Of('deleted') });
      assert.ok(await store().library.deleteFile(user.id, deleted.file.id));
      const uploads = [
        sampleUpload({ ownerId: user.id, size: 300, offset: 10 }), // reserves its declared size
        sampleUpload({ ownerId: user.id, size: null, offset: 40 }), // deferred: what it holds
        sampleUpload({ ownerId: user.id, size: 5, state: 'paused' }),
        sampleUpload({ ownerId: user.id, size: 20, offset: 20, state: 'completed', concat: { kind: 'partial' }, expiresAt: null }),
        sampleUpload({ ownerId: user.id, size: 900, state: 'terminated' }),
        sampleUpload({ ownerId: user.id, size: 900, state: 'expired' }),
        sampleUpload({ ownerId: other.id, size: 900 }),
      ];
      for (const upload of uploads) await store().uploads.insert(upload);
      assert.deepEqual(await store().uploads.usage(user.id), { bytes: 2000 + 300 + 40 + 5 + 20, openUploads: 3, quotaBytes: null });
      assert.deepEqual(await store().uploads.usage(other.id), { bytes: 50_900, openUploads: 1, quotaBytes: null });
    });

    it('follows an upload as it grows, declares its length and becomes a file', async () => {
      const user = await insertUser(store());
      const upload = sampleUpload({ ownerId: user.id, size: null });
      await store().uploads.insert(upload);
      await store().uploads.update(upload.id, { offset: 64 });
      assert.deepEqual(await store().uploads.usage(user.id), { bytes: 64, openUploads: 1, quotaBytes: null });
      await store().uploads.update(upload.id, { size: 100 });
      assert.deepEqual(await store().uploads.usage(user.id), { bytes: 100, openUploads: 1, quotaBytes: null });
      await storeFile(store(), user.id, { size: 100 });
      await store().uploads.update(upload.id, { state: 'terminated' });
      assert.deepEqual(await store().uploads.usage(user.id), { bytes: 100, openUploads: 0, quotaBytes: null });
    });

    it('carries the quota a user was given, until it is taken back', async () => {
      const user = await insertUser(store());
      assert.equal(await store().accounts.setQuota(user.id, 5 * 1024 ** 4), true);
      assert.deepEqual(await store().uploads.usage(user.id), { bytes: 0, openUploads: 0, quotaBytes: 5 * 1024 ** 4 });
      const { usage } = await store().uploads.insertIf(sampleUpload({ ownerId: user.id }), () => true);
      assert.equal(usage.quotaBytes, 5 * 1024 ** 4);
      assert.equal(await store().accounts.setQuota(user.id, null), true);
      assert.equal((await store().uploads.usage(user.id)).quotaBytes, null);
      assert.equal(await store().accounts.setQuota(randomId(), 1), false, 'an unknown user');
      assert.equal((await store().accounts.getUser(user.id))?.id, user.id);
    });

    it('insertIf inserts only what the check allows, and reports the usage it checked', async () => {
      const user = await insertUser(store());
      await storeFile(store(), user.id, { size: 1000 });
      const seen: StorageUsage[] = [];
      const refused = sampleUpload({ ownerId: user.id, size: 10 });
      assert.deepEqual(await store().uploads.insertIf(refused, (usage) => { seen.push(usage); return false; }), {
        inserted: false, usage: { bytes: 1000, openUploads: 0, quotaBytes: null },
      });
      assert.equal(await store().uploads.get(refused.id), null);
      const accepted = sampleUpload({ ownerId: user.id, size: 10 });
      assert.deepEqual(await store().uploads.insertIf(accepted, () => true), { inserted: true, usage: { bytes: 1000, openUploads: 0, quotaBytes: null } });
      assert.deepEqual(await store().uploads.get(accepted.id), accepted);
      assert.deepEqual(seen, [{ bytes: 1000, openUploads: 0, quotaBytes: null }]);
      assert.deepEqual(await store().uploads.usage(user.id), { bytes: 1010, openUploads: 1, quotaBytes: null });
    });

    it('updateIf changes only what the check allows', async () => {
      const user = await insertUser(store());
      const upload = sampleUpload({ ownerId: user.id, size: null, offset: 30 });
      await store().uploads.insert(upload);
      assert.deepEqual(await store().uploads.updateIf(user.id, upload.id, { size: 500 }, () => false), {
        upload: null, usage: { bytes: 30, openUploads: 1, quotaBytes: null },
      });
      assert.equal((await store().uploads.get(upload.id))?.size, null);
      const { upload: updated, usage } = await store().uploads.updateIf(user.id, upload.id, { size: 500 }, () => true);
      assert.deepEqual({ updated, usage }, { updated: { ...upload, size: 500 }, usage: { bytes: 30, openUploads: 1, quotaBytes: null } });
      assert.equal((await store().uploads.updateIf(user.id, newUploadId(), { size: 1 }, () => true)).upload, null);
    });

    it('lets concurrent insertIf calls for one user fit into the quota together, never past it', async () => {
      const user = await insertUser(store());
      const quota = 1000;
      const attempts = Array.from({ length: 12 }, () => sampleUpload({ ownerId: user.id, size: 300 }));
      const results = await Promise.all(attempts.map((upload) =>
        store().uploads.insertIf(upload, (usage) => usage.bytes + (upload.size ?? 0) <= quota)));
      assert.equal(results.filter((result) => result.inserted).length, 3);
      assert.deepEqual(await store().uploads.usage(user.id), { bytes: 900, openUploads: 3, quotaBytes: null });
    });

    it('counts the reservations of each user apart', async () => {
      const [one, two] = [await insertUser(store()), await insertUser(store())];
      const results = await Promise.all([one, two, one, two].map((user) =>
        store().uploads.insertIf(sampleUpload({ ownerId: user.id, size: 600 }), (usage) => usage.bytes + 600 <= 1000)));
      assert.deepEqual(results.map((result) => result.inserted).sort(), [false, false, true, true]);
      assert.equal((await store().uploads.usage(one.id)).bytes, 600);
      assert.equal((await store().uploads.usage(two.id)).bytes, 600);
    });
  });
}
