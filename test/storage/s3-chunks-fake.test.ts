/** S3 chunk writes (ChunkWrites / DirectChunkUploads) against the in-memory fake S3. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { S3BlobStore } from '../../src/storage/s3/store.js';
import { canPresignChunks, canWriteAt, canWriteChunks } from '../../src/storage/types.js';
import { FakeS3 } from './s3-fake.js';

const ID = 'chunkedblob00000001';

async function writeChunk(store: S3BlobStore, chunk: { index: number; start: number; chunkSize: number }, bytes: Buffer, sendOnly = bytes.length): Promise<void> {
  const writer = await store.openChunkWriter(ID, { ...chunk, length: bytes.length });
  try {
    await writer.write([bytes.subarray(0, sendOnly)]);
    await writer.sync();
  } finally {
    await writer.close();
  }
}

it('declares chunk writes and presigning, not positional writes', () => {
  const store = new S3BlobStore(new FakeS3());
  assert.ok(canWriteChunks(store));
  assert.ok(canPresignChunks(store));
  assert.ok(!canWriteAt(store));
  assert.equal(store.minChunkSize, 5 * 1024 * 1024);
});

it('writes chunks in any order as parts i + 1, keeps nothing of a short chunk, and finishes without copying', async () => {
  const s3 = new FakeS3(16);
  const store = new S3BlobStore(s3, { minPart: 16 });
  await store.create(ID);
  await store.declareLength(ID, 40);
  const data = randomBytes(40);
  await writeChunk(store, { index: 2, start: 32, chunkSize: 16 }, data.subarray(32));
  await writeChunk(store, { index: 0, start: 0, chunkSize: 16 }, data.subarray(0, 16), 10);
  assert.equal(await store.statChunk(ID, 0), null);
  await writeChunk(store, { index: 0, start: 0, chunkSize: 16 }, data.subarray(0, 16));
  await writeChunk(store, { index: 1, start: 16, chunkSize: 16 }, data.subarray(16, 32));
  assert.deepEqual(await store.statChunk(ID, 1), { size: 16, md5: createHash('md5').update(data.subarray(16, 32)).digest('hex') });
  assert.deepEqual([...s3.objects.keys()].filter((key) => key.includes('/chunk-')), [], 'chunks of a part\'s size are parts, not objects');
  const target = await store.presignChunk(ID, { index: 1, start: 16, length: 16, chunkSize: 16 }, 60);
  assert.match(target.url, /partNumber=2/);
  await store.finish(ID);
  assert.equal(s3.count('copyPart'), 0);
  assert.deepEqual(s3.objects.get(`blobs/${ID}`), data);
  assert.equal(s3.uploads.size, 0);
});

/** Parts of 40 bytes; parts under 16 bytes are refused but the last. */
const smallParts = { minPart: 16, partSize: () => 40 };

it('keeps chunks under the smallest part as objects, in any order, and joins them into parts when finishing', async () => {
  const s3 = new FakeS3(16);
  const store = new S3BlobStore(s3, smallParts);
  await store.create(ID);
  const data = randomBytes(10 * 9 + 7);
  const order = [3, 9, 0, 5, 1, 8, 2, 7, 4, 6];
  for (const index of order) {
    const end = index === 9 ? data.length : (index + 1) * 9;
    await writeChunk(store, { index, start: index * 9, chunkSize: 9 }, data.subarray(index * 9, end));
  }
  // A chunk cut short keeps nothing; sent again whole it counts.
  await writeChunk(store, { index: 4, start: 36, chunkSize: 9 }, data.subarray(36, 45), 5);
  assert.deepEqual(s3.objects.get(`staging/${ID}/chunk-00000004`), data.subarray(36, 45));
  assert.equal(s3.count('uploadPart'), 0, 'no chunk is a part before finishing');
  await assert.rejects(store.presignChunk(ID, { index: 0, start: 0, length: 9, chunkSize: 9 }, 60), /at least 16 bytes/);

  await store.finish(ID);
  assert.deepEqual(s3.objects.get(`blobs/${ID}`), data);
  // Each part takes chunks until it reaches 40 bytes: chunks 0-4 (45 bytes), then 5-9 (52, the last 16).
  assert.equal(s3.count('uploadPart'), 2);
  assert.deepEqual([...s3.objects.keys()], [`blobs/${ID}`], 'nothing staged is left');
  assert.equal(s3.uploads.size, 0);
});

it('finishing refuses a kept-apart upload with a chunk missing, and finishes once it is there', async () => {
  const s3 = new FakeS3(16);
  const store = new S3BlobStore(s3, smallParts);
  await store.create(ID);
  const data = randomBytes(30);
  await writeChunk(store, { index: 0, start: 0, chunkSize: 10 }, data.subarray(0, 10));
  await writeChunk(store, { index: 2, start: 20, chunkSize: 10 }, data.subarray(20));
  await assert.rejects(store.finish(ID), /chunk 1 .* is missing/);
  await writeChunk(store, { index: 1, start: 10, chunkSize: 10 }, data.subarray(10, 20));
  await store.finish(ID);
  assert.deepEqual(s3.objects.get(`blobs/${ID}`), data);
});

it('a finish that dies while joining is run again and completes with the same bytes', async () => {
  const s3 = new FakeS3(16);
  const store = new S3BlobStore(s3, smallParts);
  await store.create(ID);
  const data = randomBytes(100);
  for (let index = 0; index < 10; index += 1) await writeChunk(store, { index, start: index * 10, chunkSize: 10 }, data.subarray(index * 10, index * 10 + 10));
  s3.beforePart = async (number) => {
    if (number === 2) throw new Error('S3 went away');
  };
  await assert.rejects(store.finish(ID), /S3 went away/);
  assert.equal(s3.objects.get(`blobs/${ID}`), undefined);
  s3.beforePart = async () => undefined;
  await store.finish(ID);
  assert.deepEqual(s3.objects.get(`blobs/${ID}`), data);
  assert.deepEqual([...s3.objects.keys()], [`blobs/${ID}`]);
});

it('a part request that fails while chunks are copied into it fails the finish, and nothing else', async () => {
  const s3 = new FakeS3(16);
  const refused = Object.assign(new Error('S3 hung up'), { code: 'service_unavailable' });
  // The request fails before it reads its body, as one whose connection breaks does.
  s3.uploadPartStream = () => new Promise((_resolve, reject) => setImmediate(() => reject(refused)));
  const store = new S3BlobStore(s3, smallParts);
  await store.create(ID);
  for (let index = 0; index < 6; index += 1) await writeChunk(store, { index, start: index * 10, chunkSize: 10 }, randomBytes(10));
  await assert.rejects(store.finish(ID), (err) => err === refused);
  assert.equal(s3.objects.get(`blobs/${ID}`), undefined);
});

it('removing a kept-apart upload deletes its chunk objects', async () => {
  const s3 = new FakeS3(16);
  const store = new S3BlobStore(s3, smallParts);
  await store.create(ID);
  await writeChunk(store, { index: 1, start: 10, chunkSize: 10 }, randomBytes(10));
  await store.remove(ID);
  assert.deepEqual([...s3.objects.keys()], []);
  assert.equal(s3.uploads.size, 0);
});
