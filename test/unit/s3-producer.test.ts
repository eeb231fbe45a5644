import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFerryError } from '../../src/core/errors.js';
import { newUploadId } from '../../src/core/upload.js';
import { MAX_PART, MAX_PARTS, MIN_PART, partSizeFor } from '../../src/storage/s3/plan.js';
import { S3BlobStore } from '../../src/storage/s3/store.js';
import { randomData } from '../helpers/core.js';
import { appendBlob, readBlob } from '../storage/blob-io.js';
import { FakeS3 } from '../storage/s3-fake.js';

const PART = 1000;

/** A store over the fake with 1000-byte parts (the fake then refuses any smaller non-last part). */
function storeOn(fake: FakeS3, partsInFlight = 2): S3BlobStore {
  return new S3BlobStore(fake, { partSize: () => PART, partsInFlight });
}

function blobOf(fake: FakeS3, id: string): Buffer | undefined {
  return fake.objects.get(`blobs/${id}`);
}

describe('S3 part producer (fake S3)', () => {
  it('sends whole parts while bytes stream in, never more than partsInFlight at once', async () => {
    const fake = new FakeS3(PART);
    fake.beforePart = () => sleep(5);
    const store = storeOn(fake, 2);
    const id = newUploadId();
    const data = randomData(10_500);
    await store.create(id);
    await appendBlob(store, id, 0, data, 100);
    assert.equal(fake.count('uploadPart'), 10);
    assert.equal(fake.maxPartsInFlight, 2);
    assert.equal(await store.length(id), data.length);
    await store.finish(id);
    assert.deepEqual(blobOf(fake, id), data);
    assert.deepEqual(await readBlob(store, id, { start: 950, end: 2049 }), data.subarray(950, 2050));
    assert.equal(fake.uploads.size, 0);
    assert.deepEqual([...fake.objects.keys()], [`blobs/${id}`], 'nothing staged is left');
  });

  it('makes the tail durable on sync, and another store instance carries on from what S3 lists', async () => {
    const fake = new FakeS3(PART);
    const id = newUploadId();
    const data = randomData(4_200);
    await storeOn(fake).create(id);
    await appendBlob(storeOn(fake), id, 0, data.subarray(0, 2_500), 100);
    const other = storeOn(fake);
    assert.equal(await other.length(id), 2_500);
    await appendBlob(other, id, 2_500, data.subarray(2_500), 100);
    await storeOn(fake).finish(id);
    assert.deepEqual(blobOf(fake, id), data);
    assert.equal(fake.uploads.size, 0);
  });

  it('sends the last part as soon as the declared length is reached, so completing copies nothing', async () => {
    const fake = new FakeS3(PART);
    const store = storeOn(fake);
    const id = newUploadId();
    const data = randomData(2_300);
    await store.create(id);
    await store.declareLength(id, data.length);
    await appendBlob(store, id, 0, data, 100);
    assert.equal(fake.stagedBytes(), 0, 'nothing staged');
    const parts = fake.count('uploadPart');
    await store.finish(id);
    assert.equal(fake.count('uploadPart'), parts, 'no part uploaded by finish');
    assert.equal(fake.count('copyPart'), 0);
    assert.deepEqual(blobOf(fake, id), data);
  });

  it('truncates back to where a writer opened even after its parts went out (a refused checksummed request)', async () => {
    const fake = new FakeS3(PART);
    const store = storeOn(fake);
    const id = newUploadId();
    const kept = randomData(1_500);
    await store.create(id);
    await appendBlob(store, id, 0, kept, 100);
    await appendBlob(store, id, 1_500, randomData(2_000), 100);
    await store.truncate(id, 1_500);
    assert.equal(await storeOn(fake).length(id), 1_500);
    const rest = randomData(2_000);
    await appendBlob(storeOn(fake), id, 1_500, rest, 100);
    await store.finish(id);
    assert.deepEqual(blobOf(fake, id), Buffer.concat([kept, rest]));
  });

  it('a stale part written again with the same bytes (a resent request) counts once synced', async () => {
    const fake = new FakeS3(PART);
    const store = storeOn(fake);
    const id = newUploadId();
    const kept = randomData(1_500);
    const resent = randomData(2_000);
    await store.create(id);
    await appendBlob(store, id, 0, kept, 100);
    await appendBlob(store, id, 1_500, resent, 100);
    await store.truncate(id, 1_500);
    await appendBlob(store, id, 1_500, resent, 100);
    assert.equal(await storeOn(fake).length(id), 3_500);
    await storeOn(fake).finish(id);
    assert.deepEqual(blobOf(fake, id), Buffer.concat([kept, resent]));
  });

  it('refuses to truncate into a part whose front is no longer staged, rather than lose bytes', async () => {
    const fake = new FakeS3(PART);
    const store = storeOn(fake);
    const id = newUploadId();
    await store.create(id);
    await appendBlob(store, id, 0, randomData(2_500), 100);
    await appendBlob(store, id, 2_500, randomData(100), 100);
    await assert.rejects(store.truncate(id, 500), /cannot be truncated to 500/);
    assert.equal(await store.length(id), 2_600);
  });

  it('drops parts that landed after a lost one, and the next writer writes those numbers again', async () => {
    const fake = new FakeS3(PART);
    fake.beforePart = async (number) => {
      if (number === 2) throw Object.assign(new Error('connection reset'), { name: 'NetworkingError' });
      await sleep(number === 3 ? 0 : 20);
    };
    const store = storeOn(fake, 3);
    const id = newUploadId();
    const data = randomData(3_500);
    await store.create(id);
    await assert.rejects(appendBlob(store, id, 0, data, 100), /connection reset/);
    fake.beforePart = async () => undefined;
    const other = storeOn(fake);
    assert.equal(await other.length(id), PART, 'part 3 follows a gap and does not count');
    await appendBlob(other, id, PART, data.subarray(PART), 100);
    await other.finish(id);
    assert.deepEqual(blobOf(fake, id), data);
  });

  it('reads the front of an unfinished blob by freezing it; the next writer thaws it with server-side copies', async () => {
    const fake = new FakeS3(PART);
    const id = newUploadId();
    const data = randomData(3_700);
    await storeOn(fake).create(id);
    await appendBlob(storeOn(fake), id, 0, data.subarray(0, 2_500), 100);
    const node2 = storeOn(fake);
    assert.deepEqual(await readBlob(node2, id, { start: 0, end: 2_499 }), data.subarray(0, 2_500));
    assert.deepEqual(await readBlob(node2, id, { start: 1_990, end: 2_009 }), data.subarray(1_990, 2_010));
    assert.equal(fake.uploads.size, 0, 'frozen: no multipart upload while the parts are one object');
    await appendBlob(node2, id, 2_500, data.subarray(2_500), 100);
    assert.ok(fake.count('copyPart') >= 1);
    assert.equal(fake.uploads.size, 1);
    await node2.finish(id);
    assert.deepEqual(blobOf(fake, id), data);
    assert.equal(fake.uploads.size, 0);
  });

  it('remove aborts the multipart upload and deletes everything staged; removing twice is harmless', async () => {
    const fake = new FakeS3(PART);
    const store = storeOn(fake);
    const id = newUploadId();
    await store.create(id);
    await appendBlob(store, id, 0, randomData(2_345), 100);
    await store.remove(id);
    await store.remove(id);
    assert.equal(fake.uploads.size, 0);
    assert.equal(fake.objects.size, 0);
    await assert.rejects(store.length(id), (err) => isFerryError(err, 'upload_not_found'));
  });

  it('completes an empty blob as an empty object', async () => {
    const fake = new FakeS3(PART);
    const store = storeOn(fake);
    const id = newUploadId();
    await store.create(id);
    await store.finish(id);
    assert.deepEqual(blobOf(fake, id), Buffer.alloc(0));
    assert.equal(fake.uploads.size, 0);
    assert.equal(await store.length(id), 0);
  });

  it('a failed part upload fails the sync that waits for it', async () => {
    const fake = new FakeS3(PART);
    fake.beforePart = async () => { throw new Error('disk on fire'); };
    const store = storeOn(fake);
    const id = newUploadId();
    await store.create(id);
    const writer = await store.openWriter(id, 0);
    await writer.write([randomData(PART + 10)]);
    await assert.rejects(writer.sync(), /disk on fire/);
    await writer.close();
    assert.equal(await store.length(id), 0);
  });
});

describe('S3 part sizes', () => {
  const GiB = 1024 ** 3;
  const TiB = 1024 ** 4;

  function partsFor(size: number | null, total: number): { count: number; largest: number } {
    let count = 0;
    let covered = 0;
    let largest = 0;
    while (covered < total) {
      count += 1;
      const part = partSizeFor(count, size, covered);
      largest = Math.max(largest, part);
      covered += part;
    }
    return { count, largest };
  }

  it('fits a declared 5 TiB file in 10,000 parts of at most 5 GiB, and small files get 8 MiB parts', () => {
    const big = partsFor(5 * TiB, 5 * TiB);
    assert.ok(big.count <= MAX_PARTS, `${big.count} parts`);
    assert.ok(big.largest <= MAX_PART);
    assert.equal(partsFor(GiB, GiB).largest, 8 * 1024 * 1024);
  });

  it('without a declared size, grows parts so that 5 TiB still fits, with parts near 1 GiB at most', () => {
    const grown = partsFor(null, 5 * TiB);
    assert.ok(grown.count <= MAX_PARTS, `${grown.count} parts`);
    assert.ok(grown.largest < 1.2 * GiB, `largest part ${grown.largest}`);
    assert.ok(partSizeFor(1, null, 0) >= MIN_PART);
    assert.throws(() => partSizeFor(MAX_PARTS + 1, null, 0), (err) => isFerryError(err, 'too_large'));
  });

  it('a length declared late spreads what is left over the parts left', () => {
    const early = partsFor(null, 100 * GiB);
    let covered = 0;
    for (let number = 1; number <= early.count; number += 1) covered += partSizeFor(number, null, covered);
    let count = early.count;
    const size = covered + 4 * TiB;
    while (covered < size) {
      count += 1;
      covered += partSizeFor(count, size, covered);
    }
    assert.ok(count <= MAX_PARTS, `${count} parts`);
  });
});
