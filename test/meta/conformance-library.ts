import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { UPLOAD_STORE, type Blob, type StoredFile } from '../../src/core/file.js';
import type { Upload } from '../../src/core/upload.js';
import type { MetaStore } from '../../src/meta/types.js';
import {
  allDeadBlobs, at, completionOf, fileQuery, insertUser, randomId, sampleFile, sampleUpload, sha256Of, storeFile, useStore, type StoreFactory,
} from './conformance-fixtures.js';

/** Nothing a failed or declined completion could have touched has changed. */
async function assertUntouched(store: MetaStore, upload: Upload, file: StoredFile, blobBefore: Blob | null, deadBefore: string[]): Promise<void> {
  assert.deepEqual(await store.uploads.get(upload.id), upload);
  assert.deepEqual(await store.library.getBlob(file.sha256), blobBefore);
  assert.equal(await store.library.getFile(file.ownerId, file.id), null);
  assert.deepEqual(await allDeadBlobs(store), deadBefore);
}

/** LibraryRecords, the content side: completing uploads into files over counted blobs, and deleting them. */
export function libraryConformance(factory: StoreFactory): void {
  describe('library', () => {
    const store = useStore(factory);

    it('completes new content into a blob, a file and a completed upload', async () => {
      const owner = await insertUser(store());
      const upload = sampleUpload({ ownerId: owner.id, offset: 1000, chunkSize: 250 });
      await store().uploads.insert(upload);
      const file = sampleFile(owner.id, { size: 1000, sha256: sha256Of('new') });

      const result = await store().library.completeUpload(completionOf(upload, file));
      const completed: Upload = {
        ...upload, state: 'completed', offset: 1000, size: 1000, completedAt: file.createdAt, expiresAt: null, sha256: file.sha256, fileId: file.id,
      };
      assert.deepEqual(result, { upload: completed, file, deduplicated: false });
      assert.deepEqual(await store().uploads.get(upload.id), completed);
      assert.deepEqual(await store().library.getFile(owner.id, file.id), file);
      const blob = await store().library.getBlob(file.sha256);
      assert.deepEqual(blob && { ...blob, createdAt: null }, {
        sha256: file.sha256, storageKey: upload.id, store: UPLOAD_STORE, size: 1000, refs: 1, sha1: null, md5: null, createdAt: null,
      });
      assert.deepEqual(await allDeadBlobs(store()), []);
    });

    it('takes a reference on stored content and queues the duplicate bytes', async () => {
      const [alice, bob] = [await insertUser(store()), await insertUser(store(), { tenant: 'elsewhere' })];
      const first = await storeFile(store(), alice.id, { sha256: sha256Of('same') });
      const second = await storeFile(store(), bob.id, { sha256: sha256Of('same'), name: 'copy.pdf' });

      assert.equal(first.deduplicated, false);
      assert.equal(second.deduplicated, true);
      assert.notEqual(second.file.id, first.file.id);
      assert.equal(second.upload.state, 'completed');
      assert.equal(second.upload.fileId, second.file.id);
      assert.deepEqual(await store().library.getFile(bob.id, second.file.id), second.file);
      const blob = await store().library.getBlob(sha256Of('same'));
      assert.equal(blob?.refs, 2);
      assert.equal(blob?.storageKey, first.upload.id);
      assert.deepEqual(await allDeadBlobs(store()), [second.upload.id]);
    });

    it('counts every file of one owner over the same content', async () => {
      const owner = await insertUser(store());
      for (const name of ['a', 'b', 'c']) await storeFile(store(), owner.id, { name, sha256: sha256Of('thrice') });
      assert.equal((await store().library.getBlob(sha256Of('thrice')))?.refs, 3);
      assert.equal((await store().library.listFiles(owner.id, fileQuery())).total, 3);
    });

    it('declines an instant upload of content that is not stored, changing nothing', async () => {
      const owner = await insertUser(store());
      await storeFile(store(), owner.id, { sha256: sha256Of('other content') });
      const dead = await allDeadBlobs(store());
      const upload = sampleUpload({ ownerId: owner.id });
      await store().uploads.insert(upload);
      const file = sampleFile(owner.id, { sha256: sha256Of('missing') });

      assert.equal(await store().library.completeUpload(completionOf(upload, file, true)), null);
      await assertUntouched(store(), upload, file, null, dead);
      assert.equal((await store().library.listFiles(owner.id, fileQuery())).total, 1);
    });

    it('completes an instant upload of stored content without touching its bytes', async () => {
      const [alice, bob] = [await insertUser(store()), await insertUser(store())];
      const original = await storeFile(store(), alice.id, { sha256: sha256Of('popular') });
      const instant = await storeFile(store(), bob.id, { sha256: sha256Of('popular') }, true);

      assert.equal(instant.deduplicated, true);
      assert.equal(instant.upload.state, 'completed');
      assert.equal(instant.upload.fileId, instant.file.id);
      const blob = await store().library.getBlob(sha256Of('popular'));
      assert.equal(blob?.refs, 2);
      assert.equal(blob?.storageKey, original.upload.id);
      assert.ok(!(await allDeadBlobs(store())).includes(original.upload.id));
    });

    it('changes nothing when a completion fails (the owner does not exist)', async () => {
      const owner = await insertUser(store());
      const stored = await storeFile(store(), owner.id, { sha256: sha256Of('kept') });
      for (const sha256 of [sha256Of('fresh'), sha256Of('kept')]) {
        const ghost = randomId();
        const upload = sampleUpload({ ownerId: ghost });
        await store().uploads.insert(upload);
        const blobBefore = await store().library.getBlob(sha256);
        const deadBefore = await allDeadBlobs(store());
        const file = sampleFile(ghost, { sha256 });
        await assert.rejects(store().library.completeUpload(completionOf(upload, file)));
        await assertUntouched(store(), upload, file, blobBefore, deadBefore);
      }
      assert.equal((await store().library.getBlob(sha256Of('kept')))?.refs, 1);
      assert.deepEqual(await store().library.getFile(owner.id, stored.file.id), stored.file);
    });

    it('leaves no file or blob behind for an unknown upload', async () => {
      const owner = await insertUser(store());
      const file = sampleFile(owner.id, { sha256: sha256Of('orphan') });
      await assert.rejects(store().library.completeUpload(completionOf(sampleUpload({ ownerId: owner.id }), file)), (err) => isFerryError(err, 'upload_not_found'));
      assert.equal(await store().library.getBlob(file.sha256), null);
      assert.equal(await store().library.getFile(owner.id, file.id), null);
    });

    it('refuses to complete an upload twice, leaving the live blob alone', async () => {
      const owner = await insertUser(store());
      const upload = sampleUpload({ ownerId: owner.id, offset: 1000 });
      await store().uploads.insert(upload);
      const file = sampleFile(owner.id, { size: 1000, sha256: sha256Of('once') });
      const { upload: completed } = (await store().library.completeUpload(completionOf(upload, file)))!;
      const blobBefore = await store().library.getBlob(file.sha256);
      const deadBefore = await allDeadBlobs(store());
      const again = sampleFile(owner.id, { size: 1000, sha256: file.sha256 });
      await assert.rejects(store().library.completeUpload(completionOf(completed, again)), (err) => isFerryError(err, 'upload_gone'));
      await assertUntouched(store(), completed, again, blobBefore, deadBefore);
    });

    it('deletes a file for its owner only', async () => {
      const [owner, other] = [await insertUser(store()), await insertUser(store())];
      const { file } = await storeFile(store(), owner.id);
      const blob = await store().library.getBlob(file.sha256);

      assert.equal(await store().library.deleteFile(other.id, file.id), false);
      assert.equal(await store().library.deleteFile(owner.id, randomId()), false);
      assert.deepEqual(await store().library.getFile(owner.id, file.id), file);
      assert.deepEqual(await store().library.getBlob(file.sha256), blob);
      assert.deepEqual(await allDeadBlobs(store()), []);
    });

    it('drops one reference per deleted file, and the blob with the last one', async () => {
      const [alice, bob] = [await insertUser(store()), await insertUser(store())];
      const first = await storeFile(store(), alice.id, { sha256: sha256Of('shared') });
      const second = await storeFile(store(), bob.id, { sha256: sha256Of('shared') });

      assert.equal(await store().library.deleteFile(alice.id, first.file.id), true);
      assert.equal(await store().library.deleteFile(alice.id, first.file.id), false);
      assert.equal(await store().library.getFile(alice.id, first.file.id), null);
      const blob = await store().library.getBlob(sha256Of('shared'));
      assert.equal(blob?.refs, 1);
      assert.equal(blob?.storageKey, first.upload.id, 'the bytes stay where they are');
      assert.deepEqual(await allDeadBlobs(store()), [second.upload.id]);

      assert.equal(await store().library.deleteFile(bob.id, second.file.id), true);
      assert.equal(await store().library.getBlob(sha256Of('shared')), null);
      assert.deepEqual((await allDeadBlobs(store())).sort(), [first.upload.id, second.upload.id].sort());
    });

    it('forgets a dead blob once its bytes are removed', async () => {
      const owner = await insertUser(store());
      const { file, upload } = await storeFile(store(), owner.id);
      const keep = await storeFile(store(), owner.id, { sha256: sha256Of('keep') });
      await store().library.deleteFile(owner.id, keep.file.id);
      await store().library.deleteFile(owner.id, file.id);
      assert.deepEqual((await allDeadBlobs(store())).sort(), [upload.id, keep.upload.id].sort());

      await store().library.forgetDeadBlob({ store: UPLOAD_STORE, storageKey: upload.id });
      assert.deepEqual(await allDeadBlobs(store()), [keep.upload.id]);
      await store().library.forgetDeadBlob({ store: UPLOAD_STORE, storageKey: randomId() });
      assert.deepEqual(await allDeadBlobs(store()), [keep.upload.id]);
    });

    it('lists dead blobs oldest first, up to the limit', async () => {
      const owner = await insertUser(store());
      await storeFile(store(), owner.id, { sha256: sha256Of('x'), createdAt: at(10) });
      const copies = [];
      for (const minutes of [20, 30, 40]) copies.push(await storeFile(store(), owner.id, { sha256: sha256Of('x'), createdAt: at(minutes) }));
      const keys = copies.map((copy) => copy.upload.id);
      const due = async (minutes: number, limit: number) => (await store().library.listDeadBlobs(at(minutes), limit)).map((bytes) => bytes.storageKey);
      assert.deepEqual(await due(60, 10), keys);
      assert.deepEqual(await due(60, 2), keys.slice(0, 2));
      assert.deepEqual(await due(30, 10), keys.slice(0, 2), 'bytes not yet due are not listed');
    });

    it('stores content again as a new blob after its last file went', async () => {
      const owner = await insertUser(store());
      const gone = await storeFile(store(), owner.id, { sha256: sha256Of('phoenix') });
      await store().library.deleteFile(owner.id, gone.file.id);
      const again = await storeFile(store(), owner.id, { sha256: sha256Of('phoenix') });

      assert.equal(again.deduplicated, false);
      const blob = await store().library.getBlob(sha256Of('phoenix'));
      assert.equal(blob?.refs, 1);
      assert.equal(blob?.storageKey, again.upload.id);
      assert.deepEqual(await allDeadBlobs(store()), [gone.upload.id]);
    });
  });
}
