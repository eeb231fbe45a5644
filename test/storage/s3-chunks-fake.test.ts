/** S3 chunk writes (ChunkWrites / DirectChunkUploads) against the in-memory fake S3. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { S3BlobStore } from '../../src/storage/s3/store.js';
import { canPresignChunks, canWriteAt, canWriteChunks } from '../../src/storage/types.js';
import { FakeS3 } from './s3-fake.js';

const ID = 'chunkedblob00000001';

async function writeChunk(store: S3BlobStore, index: number, start: number, bytes: Buffer, sendOnly = bytes.length): Promise<void> {
  const writer = await store.openChunkWriter(ID, { index, start, length: bytes.length });
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
  const store = new S3BlobStore(s3);
  await store.create(ID);
  await store.declareLength(ID, 40);
  const data = randomBytes(40);
  await writeChunk(store, 2, 32, data.subarray(32));
  await writeChunk(store, 0, 0, data.subarray(0, 16), 10);
  assert.equal(await store.statChunk(ID, 0), null);
  await writeChunk(store, 0, 0, data.subarray(0, 16));
  await writeChunk(store, 1, 16, data.subarray(16, 32));
  assert.deepEqual(await store.statChunk(ID, 1), { size: 16, md5: createHash('md5').update(data.subarray(16, 32)).digest('hex') });
  const target = await store.presignChunk(ID, { index: 1, start: 16, length: 16 }, 60);
  assert.match(target.url, /partNumber=2/);
  await store.finish(ID);
  assert.equal(s3.count('copyPart'), 0);
  assert.deepEqual(s3.objects.get(`blobs/${ID}`), data);
  assert.equal(s3.uploads.size, 0);
});
