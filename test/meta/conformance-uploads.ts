import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newUploadId } from '../../src/core/upload.js';
import { at, randomId, sampleUpload, sha256Of, useStore, type StoreFactory } from './conformance-fixtures.js';

/** UploadRecords: the upload rows, their expiry and the chunks of the native chunk API. */
export function uploadConformance(factory: StoreFactory): void {
  describe('uploads', () => {
    const store = useStore(factory);

    it('returns an inserted upload exactly as given', async () => {
      const upload = sampleUpload({ concat: { kind: 'final', parts: [newUploadId(), newUploadId()] } });
      await store().uploads.insert(upload);
      assert.deepEqual(await store().uploads.get(upload.id), upload);
    });

    it('keeps the owner, chunk size, expected digest and file id', async () => {
      const upload = sampleUpload({ ownerId: randomId(), chunkSize: 5 * 1024 ** 2, chunkCount: 7, expectedSha256: sha256Of('x'), fileId: randomId() });
      await store().uploads.insert(upload);
      const read = await store().uploads.get(upload.id);
      assert.deepEqual(read, upload);
      assert.equal(read?.chunkSize, 5 * 1024 ** 2);
    });

    it('keeps deferred sizes, huge sizes and partial markers', async () => {
      const deferred = sampleUpload({ size: null, concat: { kind: 'partial' } });
      const huge = sampleUpload({ size: 5 * 1024 ** 4, offset: 4 * 1024 ** 4 });
      await store().uploads.insert(deferred);
      await store().uploads.insert(huge);
      assert.deepEqual(await store().uploads.get(deferred.id), deferred);
      assert.deepEqual(await store().uploads.get(huge.id), huge);
    });

    it('answers null for an unknown id', async () => {
      assert.equal(await store().uploads.get(newUploadId()), null);
      assert.equal(await store().uploads.update(newUploadId(), { offset: 5 }), null);
      assert.equal(await store().uploads.recordProgress(newUploadId(), { offset: 5 }), null);
    });

    it('rejects a second upload with the same id', async () => {
      const upload = sampleUpload();
      await store().uploads.insert(upload);
      await assert.rejects(store().uploads.insert({ ...upload, size: 1 }));
      assert.equal((await store().uploads.get(upload.id))?.size, 1000);
    });

    it('applies only the given changes and returns the result', async () => {
      const upload = sampleUpload();
      await store().uploads.insert(upload);
      const completedAt = new Date('2026-01-02T05:00:00.000Z');
      const updated = await store().uploads.update(upload.id, {
        offset: 1000, state: 'completed', completedAt, expiresAt: null, sha256: 'ab'.repeat(32),
      });
      assert.deepEqual(updated, { ...upload, offset: 1000, state: 'completed', completedAt, expiresAt: null, sha256: 'ab'.repeat(32) });
      assert.deepEqual(await store().uploads.get(upload.id), updated);
    });

    it('records progress: the offset and expiry given, nothing else', async () => {
      const upload = sampleUpload({ size: null });
      await store().uploads.insert(upload);
      const expiresAt = new Date('2026-03-04T05:06:07.000Z');
      const moved = await store().uploads.recordProgress(upload.id, { offset: 600, expiresAt });
      assert.deepEqual(moved, { ...upload, offset: 600, expiresAt });
      assert.deepEqual(await store().uploads.get(upload.id), moved);
      assert.deepEqual(await store().uploads.recordProgress(upload.id, { offset: 700 }), { ...upload, offset: 700, expiresAt });
    });

    it('changes one upload only', async () => {
      const [one, other] = [sampleUpload(), sampleUpload()];
      await store().uploads.insert(one);
      await store().uploads.insert(other);
      await store().uploads.update(one.id, { offset: 10 });
      assert.deepEqual(await store().uploads.get(other.id), other);
    });

    it('sets a deferred size and the file id later', async () => {
      const upload = sampleUpload({ size: null });
      await store().uploads.insert(upload);
      assert.equal((await store().uploads.update(upload.id, { size: 42 }))?.size, 42);
      const fileId = randomId();
      assert.equal((await store().uploads.update(upload.id, { fileId }))?.fileId, fileId);
      assert.equal((await store().uploads.get(upload.id))?.fileId, fileId);
    });

    it('pauses and resumes', async () => {
      const paused = sampleUpload({ state: 'paused' });
      await store().uploads.insert(paused);
      assert.deepEqual(await store().uploads.get(paused.id), paused);
      assert.equal((await store().uploads.update(paused.id, { state: 'open' }))?.state, 'open');
      assert.equal((await store().uploads.update(paused.id, { state: 'paused' }))?.state, 'paused');
      assert.equal((await store().uploads.get(paused.id))?.state, 'paused');
    });

    it('lists open uploads whose expiry has passed, oldest first, up to the limit', async () => {
      const now = new Date('2026-06-01T00:00:00.000Z');
      const old = sampleUpload({ expiresAt: at(-30, now) });
      const older = sampleUpload({ expiresAt: at(-60, now) });
      const exact = sampleUpload({ expiresAt: now });
      const future = sampleUpload({ expiresAt: at(5, now) });
      const done = sampleUpload({ state: 'completed', expiresAt: at(-90, now) });
      const gone = sampleUpload({ state: 'terminated', expiresAt: at(-90, now) });
      for (const upload of [old, older, exact, future, done, gone]) await store().uploads.insert(upload);

      const expired = await store().uploads.listExpired(now, 10);
      assert.deepEqual(expired.map((u) => u.id), [older.id, old.id, exact.id]);
      assert.deepEqual(expired[0], older);
      assert.deepEqual((await store().uploads.listExpired(now, 2)).map((u) => u.id), [older.id, old.id]);
    });

    it('lists paused uploads as expired too, but no finished one and none without an expiry', async () => {
      const now = new Date('2026-06-01T00:00:00.000Z');
      const open = sampleUpload({ state: 'open', expiresAt: at(-10, now) });
      const paused = sampleUpload({ state: 'paused', expiresAt: at(-20, now) });
      const finished = (['completed', 'terminated', 'expired'] as const).map((state) => sampleUpload({ state, expiresAt: at(-30, now) }));
      const endless = sampleUpload({ state: 'open', expiresAt: null });
      for (const upload of [open, paused, endless, ...finished]) await store().uploads.insert(upload);

      assert.deepEqual((await store().uploads.listExpired(now, 10)).map((u) => u.id), [paused.id, open.id]);
      await store().uploads.update(paused.id, { state: 'completed' });
      await store().uploads.update(open.id, { state: 'expired' });
      assert.deepEqual(await store().uploads.listExpired(now, 10), []);
    });

    it('records each chunk once', async () => {
      const upload = sampleUpload({ chunkSize: 100 });
      await store().uploads.insert(upload);
      assert.equal(await store().uploads.addChunk(upload.id, 3), true);
      assert.equal(await store().uploads.addChunk(upload.id, 3), false);
      assert.equal(await store().uploads.addChunk(upload.id, 0), true);
      assert.deepEqual(await store().uploads.listChunks(upload.id), [0, 3]);
    });

    it('lists chunks in ascending order, numerically, whatever the arrival order', async () => {
      const upload = sampleUpload({ chunkSize: 100 });
      await store().uploads.insert(upload);
      for (const index of [10, 2, 7, 0, 9, 1]) await store().uploads.addChunk(upload.id, index);
      assert.deepEqual(await store().uploads.listChunks(upload.id), [0, 1, 2, 7, 9, 10]);
    });

    it('keeps the chunks of each upload apart', async () => {
      const [one, two] = [sampleUpload({ chunkSize: 10 }), sampleUpload({ chunkSize: 10 })];
      await store().uploads.insert(one);
      await store().uploads.insert(two);
      assert.equal(await store().uploads.addChunk(one.id, 1), true);
      assert.equal(await store().uploads.addChunk(two.id, 1), true, 'the same index of another upload is new');
      await store().uploads.addChunk(two.id, 4);
      assert.deepEqual(await store().uploads.listChunks(one.id), [1]);
      assert.deepEqual(await store().uploads.listChunks(two.id), [1, 4]);
      assert.deepEqual(await store().uploads.listChunks(newUploadId()), []);
    });

    it('answers whether one chunk is stored', async () => {
      const [one, two] = [sampleUpload({ chunkSize: 10 }), sampleUpload({ chunkSize: 10 })];
      await store().uploads.insert(one);
      await store().uploads.insert(two);
      assert.equal(await store().uploads.hasChunk(one.id, 2), false);
      await store().uploads.addChunk(one.id, 2);
      assert.equal(await store().uploads.hasChunk(one.id, 2), true);
      assert.equal(await store().uploads.hasChunk(one.id, 3), false);
      assert.equal(await store().uploads.hasChunk(two.id, 2), false);
    });

    it('records concurrent chunks exactly once each', async () => {
      const upload = sampleUpload({ chunkSize: 10 });
      await store().uploads.insert(upload);
      const indexes = [5, 3, 5, 1, 3, 5, 0];
      const added = await Promise.all(indexes.map((index) => store().uploads.addChunk(upload.id, index)));
      assert.equal(added.filter(Boolean).length, 4);
      assert.deepEqual(await store().uploads.listChunks(upload.id), [0, 1, 3, 5]);
    });

    it('records byte ranges that do not overlap, and refuses ones that do, even at once', async () => {
      const upload = sampleUpload();
      await store().uploads.insert(upload);
      assert.equal(await store().uploads.addRange(upload.id, 100, 200), true);
      assert.equal(await store().uploads.addRange(upload.id, 0, 100), true, 'touching is not overlapping');
      assert.equal(await store().uploads.addRange(upload.id, 199, 300), false);
      assert.equal(await store().uploads.addRange(upload.id, 50, 60), false);
      const racing = await Promise.all([store().uploads.addRange(upload.id, 500, 600), store().uploads.addRange(upload.id, 550, 650)]);
      assert.equal(racing.filter(Boolean).length, 1);
      const other = sampleUpload();
      await store().uploads.insert(other);
      assert.equal(await store().uploads.addRange(other.id, 100, 200), true, 'ranges of uploads are independent');
      assert.deepEqual((await store().uploads.listRanges(upload.id)).slice(0, 2), [{ start: 0, end: 100 }, { start: 100, end: 200 }]);
      assert.equal((await store().uploads.listRanges(upload.id)).length, 3);
    });

    it('names uploads per owner and protocol; a name is claimed once, or replaced from the expected upload', async () => {
      const [first, second, third] = [randomId(), randomId(), randomId()];
      assert.equal(await store().uploads.findAlias('owner-a', 'flow', 'file-1'), null);
      assert.equal(await store().uploads.claimAlias('owner-a', 'flow', 'file-1', first, null), first);
      assert.equal(await store().uploads.claimAlias('owner-a', 'flow', 'file-1', second, null), first, 'taken: the winner is returned');
      assert.equal(await store().uploads.findAlias('owner-b', 'flow', 'file-1'), null, 'per owner');
      assert.equal(await store().uploads.findAlias('owner-a', 'other', 'file-1'), null, 'per protocol');
      assert.equal(await store().uploads.claimAlias('owner-a', 'flow', 'file-1', third, second), first, 'replacing the wrong upload changes nothing');
      assert.equal(await store().uploads.claimAlias('owner-a', 'flow', 'file-1', third, first), third);
      assert.equal(await store().uploads.findAlias('owner-a', 'flow', 'file-1'), third);
      const raced = await Promise.all([randomId(), randomId(), randomId()].map((id) => store().uploads.claimAlias('owner-a', 'flow', 'race', id, null)));
      assert.equal(new Set(raced).size, 1, 'all racers learn the same winner');
    });

    it('answers ping while open', async () => {
      await store().ping();
    });
  });
}
