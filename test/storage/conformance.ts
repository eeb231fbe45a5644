import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { newUploadId } from '../../src/core/upload.js';
import type { FullBlobStore } from '../../src/storage/types.js';
import { pieces, randomData } from '../helpers/core.js';

export interface BlobStoreFactory {
  create(): Promise<FullBlobStore>;
  dispose(store: FullBlobStore): Promise<void>;
}

async function readAll(store: FullBlobStore, id: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(id, range) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** What every blob driver must do. Run it once per driver. */
export function runBlobStoreConformance(name: string, factory: BlobStoreFactory): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let store: FullBlobStore;
    beforeEach(async () => { store = await factory.create(); });
    afterEach(async () => { await factory.dispose(store); });

    it('stores sequential writes at their offsets and reads them back, whole and by range', async () => {
      const id = newUploadId();
      const data = randomData(200_000);
      await store.create(id);
      assert.equal(await store.length(id), 0);
      assert.deepEqual(await store.write(id, 0, pieces(data.subarray(0, 70_000))), { written: 70_000, aborted: false });
      assert.deepEqual(await store.write(id, 70_000, pieces(data.subarray(70_000, 150_000), data.subarray(150_000))), { written: 130_000, aborted: false });
      assert.equal(await store.length(id), data.length);
      assert.deepEqual(await readAll(store, id), data);
      assert.deepEqual(await readAll(store, id, { start: 1000, end: 1999 }), data.subarray(1000, 2000));
    });

    it('discards bytes beyond the offset it is told to write at', async () => {
      const id = newUploadId();
      await store.create(id);
      await store.write(id, 0, pieces(Buffer.from('0123456789')));
      await store.write(id, 4, pieces(Buffer.from('ab')));
      assert.deepEqual(await readAll(store, id), Buffer.from('0123ab'));
      await store.truncate(id, 3);
      assert.deepEqual(await readAll(store, id), Buffer.from('012'));
    });

    it('keeps what arrived when the source fails or the signal aborts', async () => {
      const id = newUploadId();
      await store.create(id);
      async function* failing() {
        yield Buffer.from('abc');
        throw new Error('reset');
      }
      assert.deepEqual(await store.write(id, 0, failing()), { written: 3, aborted: true });
      const controller = new AbortController();
      let pulledAfterAbort = false;
      async function* abortsMidway() {
        yield Buffer.from('def');
        controller.abort();
        yield Buffer.from('gh');
        pulledAfterAbort = true;
        yield Buffer.from('never');
      }
      const result = await store.write(id, 3, abortsMidway(), { signal: controller.signal });
      assert.equal(result.aborted, true);
      assert.equal(pulledAfterAbort, false);
      // Every chunk taken from the source is stored: the caller has already counted and hashed it.
      assert.deepEqual(await readAll(store, id), Buffer.from('abcdefgh'));
    });

    it('reports durable checkpoints while a long write streams', async () => {
      const id = newUploadId();
      await store.create(id);
      const marks: number[] = [];
      const chunks = Array.from({ length: 10 }, () => randomData(32 * 1024));
      await store.write(id, 0, pieces(...chunks), { checkpointEvery: 64 * 1024, onDurable: (n) => marks.push(n) });
      assert.ok(marks.length >= 1, 'at least one checkpoint');
      assert.ok(marks.every((mark, i) => mark <= 320 * 1024 && (i === 0 || mark > marks[i - 1]!)), `increasing: ${marks}`);
    });

    it('concatenates blobs in order, showing every byte to the caller', async () => {
      const [a, b, target] = [newUploadId(), newUploadId(), newUploadId()];
      const dataA = randomData(1000);
      const dataB = randomData(3000);
      for (const [id, data] of [[a, dataA], [b, dataB]] as const) {
        await store.create(id);
        await store.write(id, 0, pieces(data));
      }
      await store.create(target);
      let seen = 0;
      assert.equal(await store.concat(target, [a, b], (chunk) => { seen += chunk.length; }), 4000);
      assert.equal(seen, 4000);
      assert.deepEqual(await readAll(store, target), Buffer.concat([dataA, dataB]));
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
