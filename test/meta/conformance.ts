import assert from 'node:assert/strict';
import { describe, it, beforeEach, afterEach } from 'node:test';
import { newUploadId, type Upload } from '../../src/core/upload.js';
import type { MetaStore } from '../../src/meta/types.js';
import { LOCAL_USER } from '../../src/core/principal.js';

/** A fresh, empty store for each test; `dispose` cleans up after it. */
export interface StoreFactory {
  create(): Promise<MetaStore>;
  dispose?(store: MetaStore): Promise<void>;
}

export function sampleUpload(overrides: Partial<Upload> = {}): Upload {
  return {
    id: newUploadId(),
    ownerId: LOCAL_USER.userId,
    size: 1000,
    offset: 0,
    metadata: { filename: 'résumé.pdf', empty: null },
    state: 'open',
    concat: null,
    createdAt: new Date('2026-01-02T03:04:05.678Z'),
    expiresAt: new Date('2026-01-03T03:04:05.678Z'),
    completedAt: null,
    sha256: null,
    chunkSize: null,
    expectedSha256: null,
    fileId: null,
    ...overrides,
  };
}

/** What every MetaStore must do. Run it once per implementation. */
export function runMetaStoreConformance(name: string, factory: StoreFactory): void {
  describe(`MetaStore conformance: ${name}`, () => {
    let store: MetaStore;
    beforeEach(async () => { store = await factory.create(); });
    afterEach(async () => {
      await factory.dispose?.(store);
      await store.close();
    });

    it('returns an inserted upload exactly as given', async () => {
      const upload = sampleUpload({ concat: { kind: 'final', parts: [newUploadId(), newUploadId()] } });
      await store.uploads.insert(upload);
      assert.deepEqual(await store.uploads.get(upload.id), upload);
    });

    it('keeps deferred sizes, huge sizes and partial markers', async () => {
      const deferred = sampleUpload({ size: null, concat: { kind: 'partial' } });
      const huge = sampleUpload({ size: 5 * 1024 ** 4, offset: 4 * 1024 ** 4 });
      await store.uploads.insert(deferred);
      await store.uploads.insert(huge);
      assert.deepEqual(await store.uploads.get(deferred.id), deferred);
      assert.deepEqual(await store.uploads.get(huge.id), huge);
    });

    it('answers null for an unknown id', async () => {
      assert.equal(await store.uploads.get(newUploadId()), null);
      assert.equal(await store.uploads.update(newUploadId(), { offset: 5 }), null);
    });

    it('rejects a second upload with the same id', async () => {
      const upload = sampleUpload();
      await store.uploads.insert(upload);
      await assert.rejects(store.uploads.insert({ ...upload, size: 1 }));
      assert.equal((await store.uploads.get(upload.id))?.size, 1000);
    });

    it('applies only the given changes and returns the result', async () => {
      const upload = sampleUpload();
      await store.uploads.insert(upload);
      const completedAt = new Date('2026-01-02T05:00:00.000Z');
      const updated = await store.uploads.update(upload.id, {
        offset: 1000, state: 'completed', completedAt, expiresAt: null, sha256: 'ab'.repeat(32),
      });
      assert.deepEqual(updated, { ...upload, offset: 1000, state: 'completed', completedAt, expiresAt: null, sha256: 'ab'.repeat(32) });
      assert.deepEqual(await store.uploads.get(upload.id), updated);
    });

    it('sets a deferred size later', async () => {
      const upload = sampleUpload({ size: null });
      await store.uploads.insert(upload);
      assert.equal((await store.uploads.update(upload.id, { size: 42 }))?.size, 42);
    });

    it('lists open uploads whose expiry has passed, oldest first, up to the limit', async () => {
      const now = new Date('2026-06-01T00:00:00.000Z');
      const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000);
      const old = sampleUpload({ expiresAt: at(-30) });
      const older = sampleUpload({ expiresAt: at(-60) });
      const exact = sampleUpload({ expiresAt: now });
      const future = sampleUpload({ expiresAt: at(5) });
      const done = sampleUpload({ state: 'completed', expiresAt: at(-90) });
      const gone = sampleUpload({ state: 'terminated', expiresAt: at(-90) });
      for (const upload of [old, older, exact, future, done, gone]) await store.uploads.insert(upload);

      const expired = await store.uploads.listExpired(now, 10);
      assert.deepEqual(expired.map((u) => u.id), [older.id, old.id, exact.id]);
      assert.deepEqual((await store.uploads.listExpired(now, 2)).map((u) => u.id), [older.id, old.id]);
    });

    it('answers ping while open', async () => {
      await store.ping();
    });
  });
}
