/**
 * The S3 driver against a real Ceph RGW (scripts/ceph-rgw.sh brings one up): the shared blob-store
 * conformance suite, then what only S3 has: parts, staging, other nodes, no orphans left behind.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { BlobWriter } from '../../src/storage/types.js';
import { S3BlobStore } from '../../src/storage/s3/store.js';
import { AwsS3Api, s3Client } from '../../src/storage/s3/aws.js';
import { newUploadId } from '../../src/core/upload.js';
import { randomData } from '../helpers/core.js';
import { runBlobStoreConformance } from './conformance.js';
import { appendBlob, readBlob } from './blob-io.js';
import { cephS3, type CephS3 } from './s3-ceph.js';

const MiB = 1024 * 1024;
let s3: CephS3;
before(async () => { s3 = await cephS3(); });
after(async () => { await s3?.dispose(); });

const prefixes = new WeakMap<object, string>();
runBlobStoreConformance('S3 (Ceph RGW)', {
  create: async () => {
    const prefix = `${randomUUID()}/`;
    const store = new S3BlobStore(s3.api, { prefix });
    prefixes.set(store, prefix);
    return store;
  },
  dispose: async () => undefined,
});

/** A store as another node would have it: its own client, sharing only the bucket. */
function node(prefix: string): { store: S3BlobStore; close(): void } {
  const client = s3Client(s3.settings);
  return { store: new S3BlobStore(new AwsS3Api(client, s3.settings.bucket), { prefix }), close: () => client.destroy() };
}

describe('S3 driver on Ceph RGW', () => {
  it('resumes on a new store instance mid-upload from what ListParts and the staged tail hold', async () => {
    const prefix = `${randomUUID()}/`;
    const [first, second] = [node(prefix), node(prefix)];
    try {
      const id = newUploadId();
      const data = randomData(30 * MiB + 12_345);
      await first.store.create(id);
      await appendBlob(first.store, id, 0, data.subarray(0, 20 * MiB + 100_000));
      const parts = await s3.api.listParts(`${prefix}blobs/${id}`, (await s3.api.listMultipartUploads(`${prefix}blobs/${id}`))[0]!);
      assert.deepEqual(parts?.map((part) => part.size), [8 * MiB, 8 * MiB + 112 * 1024], 'two whole parts; the rest is staged');
      assert.equal(await second.store.length(id), 20 * MiB + 100_000);
      await appendBlob(second.store, id, 20 * MiB + 100_000, data.subarray(20 * MiB + 100_000));
      await second.store.finish(id);
      assert.deepEqual(await readBlob(first.store, id), data);
      assert.deepEqual(await s3.leftovers(prefix), { uploads: [], objects: [`${prefix}blobs/${id}`] });
    } finally {
      first.close();
      second.close();
    }
  });

  it('deleting an unfinished upload aborts its multipart upload and leaves nothing behind', async () => {
    const prefix = `${randomUUID()}/`;
    const store = new S3BlobStore(s3.api, { prefix });
    const id = newUploadId();
    await store.create(id);
    await appendBlob(store, id, 0, randomData(19 * MiB));
    assert.equal((await s3.leftovers(prefix)).uploads.length, 1);
    await store.remove(id);
    assert.deepEqual(await s3.leftovers(prefix), { uploads: [], objects: [] });
  });

  it('serves ranges of a completed blob, across part boundaries', async () => {
    const prefix = `${randomUUID()}/`;
    const store = new S3BlobStore(s3.api, { prefix });
    const id = newUploadId();
    const data = randomData(17 * MiB + 3);
    await store.create(id);
    await store.declareLength(id, data.length);
    await appendBlob(store, id, 0, data);
    await store.finish(id);
    for (const [start, end] of [[0, 0], [8 * MiB - 10, 8 * MiB + 9], [16 * MiB - 1, 17 * MiB + 2], [5, 3 * MiB]] as const) {
      assert.deepEqual(await readBlob(store, id, { start, end }), data.subarray(start, end + 1), `${start}-${end}`);
    }
    await assert.rejects(readBlob(store, id, { start: data.length, end: data.length + 5 }));
  });

  it('reads the front of an unfinished upload on another node, which then carries on writing it', async () => {
    const prefix = `${randomUUID()}/`;
    const [first, second] = [node(prefix), node(prefix)];
    try {
      const id = newUploadId();
      const data = randomData(26 * MiB);
      await first.store.create(id);
      await first.store.declareLength(id, data.length);
      await appendBlob(first.store, id, 0, data.subarray(0, 13 * MiB));
      // The core re-hashes the stored prefix when it has no running hash (a restart, another node).
      assert.deepEqual(await readBlob(second.store, id, { start: 0, end: 13 * MiB - 1 }), data.subarray(0, 13 * MiB));
      await appendBlob(second.store, id, 13 * MiB, data.subarray(13 * MiB));
      await second.store.finish(id);
      assert.equal(createHash('sha256').update(await readBlob(first.store, id)).digest('hex'), createHash('sha256').update(data).digest('hex'));
      assert.deepEqual(await s3.leftovers(prefix), { uploads: [], objects: [`${prefix}blobs/${id}`] });
    } finally {
      first.close();
      second.close();
    }
  });

  it('drops a refused request whose parts already went out, back to where it started', async () => {
    const prefix = `${randomUUID()}/`;
    const store = new S3BlobStore(s3.api, { prefix });
    const id = newUploadId();
    const kept = randomData(3 * MiB);
    const rest = randomData(20 * MiB);
    await store.create(id);
    await appendBlob(store, id, 0, kept);
    await appendBlob(store, id, kept.length, randomData(20 * MiB));
    await store.truncate(id, kept.length);
    assert.equal(await store.length(id), kept.length);
    await appendBlob(store, id, kept.length, rest);
    await store.finish(id);
    assert.deepEqual(await readBlob(store, id), Buffer.concat([kept, rest]));
  });

  it('streams 200 MiB through with bounded memory', async (t) => {
    const prefix = `${randomUUID()}/`;
    const store = new S3BlobStore(s3.api, { prefix });
    const id = newUploadId();
    const size = 200 * MiB;
    await store.create(id);
    await store.declareLength(id, size);
    const block = randomBytes(MiB);
    const sent = createHash('sha256');
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    // Peak RSS over the first and the second half of the upload: memory must not grow with size.
    const peaks = [baseline, baseline];
    let half = 0;
    const sampler = setInterval(() => { peaks[half] = Math.max(peaks[half]!, process.memoryUsage().rss); }, 10);
    try {
      const writer: BlobWriter = await store.openWriter(id, 0);
      for (let at = 0; at < size; at += 64 * 1024) {
        // Fresh buffers, as a socket delivers them; each differs, so no part repeats another.
        const piece = Buffer.from(block.subarray(at % MiB, (at % MiB) + 64 * 1024));
        piece.writeUInt32BE(at / (64 * 1024));
        sent.update(piece);
        await writer.write([piece]);
        if (at >= size / 2) half = 1;
      }
      await writer.sync();
      await writer.close();
      await store.finish(id);
      const received = createHash('sha256');
      for await (const chunk of store.read(id) as AsyncIterable<Buffer>) received.update(chunk);
      assert.equal(received.digest('hex'), sent.digest('hex'));
    } finally {
      clearInterval(sampler);
      await store.remove(id);
    }
    const [first, second] = peaks.map((peak) => (peak - baseline) / MiB) as [number, number];
    t.diagnostic(`RSS grew by ${first.toFixed(1)} MiB over the first 100 MiB, ${second.toFixed(1)} MiB over the rest`);
    // 3 parts in flight + 1 filling, 8 MiB each, with the garbage of the 64 KiB pieces and part
    // copies between collections (measured: 50-100 MiB, flat however large the file).
    assert.ok(Math.max(first, second) < 150, `RSS grew by ${Math.max(first, second).toFixed(1)} MiB`);
    assert.ok(second < first + 40, `memory grew with the upload: ${first.toFixed(1)} then ${second.toFixed(1)} MiB`);
  });
});
