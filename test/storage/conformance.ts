import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { newUploadId } from '../../src/core/upload.js';
import type { BlobStore, Concatenation, RangedReads, Termination } from '../../src/storage/types.js';
import { randomData } from '../helpers/core.js';
import { readBlob } from './blob-io.js';

/** What the suite exercises: positional writes and deferred lengths are optional and not covered here. */
type ConformingStore = BlobStore & RangedReads & Termination & Concatenation;

export interface BlobStoreFactory {
  create(): Promise<ConformingStore>;
  dispose(store: ConformingStore): Promise<void>;
}

async function writeAll(store: ConformingStore, id: string, offset: number, chunks: Buffer[]): Promise<void> {
  const writer = await store.openWriter(id, offset);
  try {
    await writer.write(chunks);
    await writer.sync();
  } finally {
    await writer.close();
  }
}

/** What every blob driver must do. Run it once per driver. */
export function runBlobStoreConformance(name: string, factory: BlobStoreFactory): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let store: ConformingStore;
    beforeEach(async () => { store = await factory.create(); });
    afterEach(async () => { await factory.dispose(store); });

    it('stores sequential writes at their offsets and reads them back, whole and by range', async () => {
      const id = newUploadId();
      const data = randomData(200_000);
      await store.create(id);
      assert.equal(await store.length(id), 0);
      await writeAll(store, id, 0, [data.subarray(0, 70_000)]);
      await writeAll(store, id, 70_000, [data.subarray(70_000, 150_000), data.subarray(150_000)]);
      assert.equal(await store.length(id), data.length);
      assert.deepEqual(await readBlob(store, id), data);
      assert.deepEqual(await readBlob(store, id, { start: 1000, end: 1999 }), data.subarray(1000, 2000));
    });

    it('writes each batch right after the previous one, however it is split', async () => {
      const id = newUploadId();
      const data = randomData(100_000);
      await store.create(id);
      const writer = await store.openWriter(id, 0);
      await writer.write([data.subarray(0, 10), data.subarray(10, 5000)]);
      await writer.write([]);
      await writer.write([data.subarray(5000)]);
      await writer.sync();
      await writer.close();
      assert.deepEqual(await readBlob(store, id), data);
    });

    it('discards bytes beyond the offset a writer is opened at', async () => {
      const id = newUploadId();
      await store.create(id);
      await writeAll(store, id, 0, [Buffer.from('0123456789')]);
      await writeAll(store, id, 4, [Buffer.from('ab')]);
      assert.deepEqual(await readBlob(store, id), Buffer.from('0123ab'));
      await store.truncate(id, 3);
      assert.deepEqual(await readBlob(store, id), Buffer.from('012'));
    });

    it('concatenates blobs in order, showing every byte to the caller', async () => {
      const [a, b, target] = [newUploadId(), newUploadId(), newUploadId()];
      const dataA = randomData(1000);
      const dataB = randomData(3000);
      for (const [id, data] of [[a, dataA], [b, dataB]] as const) {
        await store.create(id);
        await writeAll(store, id, 0, [data]);
      }
      await store.create(target);
      let seen = 0;
      assert.equal(await store.concat(target, [a, b], (chunk) => { seen += chunk.length; }), 4000);
      assert.equal(seen, 4000);
      assert.deepEqual(await readBlob(store, target), Buffer.concat([dataA, dataB]));
    });

    it('removes blobs, and removing twice is harmless', async () => {
      const id = newUploadId();
      await store.create(id);
      await store.remove(id);
      await store.remove(id);
      await assert.rejects(store.length(id), (err) => isFerryError(err, 'upload_not_found'));
    });

    it('refuses ids that could name a path', async () => {
      for (const id of ['../../etc/passwd', 'a/b', '..', 'x\u0000y', '%2e%2e%2f', '']) {
        await assert.rejects(store.create(id), (err) => isFerryError(err, 'invalid_request'), id);
      }
    });

    it('answers ping', async () => {
      await store.ping();
    });
  });
}
