/**
 * Blocks (fuploadServer's byte ranges) keep an upload alive like every other protocol's bytes: its
 * expiry starts again with each stored block, so a task receiving blocks for longer than
 * FERRY_UPLOAD_EXPIRY_SECONDS is not swept mid-upload (the soak run found it swept, seed long1).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BlobStores } from '../../src/core/blob-stores.js';
import { BlockUploads } from '../../src/core/block-uploads.js';
import { LibraryService } from '../../src/core/library.js';
import { LOCAL_USER } from '../../src/core/principal.js';
import { UploadService } from '../../src/core/uploads.js';
import { MemoryLocker } from '../../src/locks/memory.js';
import { coreFixture, pieces, randomData, sha256, TEST_LIMITS, type CoreFixture } from '../helpers/core.js';

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

describe('block uploads and expiry', () => {
  let fx: CoreFixture;
  let now: Date;
  let uploads: UploadService;
  let blocks: BlockUploads;
  beforeEach(async () => {
    fx = await coreFixture();
    now = new Date('2026-03-01T00:00:00Z');
    const library = new LibraryService({ stores: new BlobStores(fx.store), meta: fx.meta });
    uploads = new UploadService({ store: fx.store, meta: fx.meta, library, locker: new MemoryLocker(), limits: TEST_LIMITS, now: () => now });
    blocks = new BlockUploads({ uploads, library, meta: fx.meta, store: fx.store, now: () => now });
  });
  afterEach(async () => { await fx.dispose(); });

  const later = (ms: number) => { now = new Date(now.getTime() + ms); };
  const block = (id: string, data: Buffer, start: number, end: number) => blocks.putBlock(LOCAL_USER, id, {
    start, end, body: pieces(data.subarray(start, end)), md5: Buffer.from(md5(data.subarray(start, end)), 'hex'),
  });

  it('each stored block starts the expiry again: an upload busy for longer than the expiry is not swept', async () => {
    const data = randomData(3_000);
    const upload = await blocks.create(LOCAL_USER, { size: data.length, metadata: {}, expectedMd5: md5(data) });
    for (const start of [0, 1_000]) {
      later(TEST_LIMITS.expiryMs - 1_000);
      const stored = await block(upload.id, data, start, start + 1_000);
      assert.equal(stored.kind, 'stored');
      assert.equal(stored.upload.expiresAt?.getTime(), now.getTime() + TEST_LIMITS.expiryMs);
    }
    later(TEST_LIMITS.expiryMs - 1_000);
    assert.equal(await uploads.sweepExpired(), 0, 'almost two expiry periods after creation, but less than one after its last block');
    const last = await block(upload.id, data, 2_000, 3_000);
    assert.equal(last.kind, 'completed');
    assert.equal(last.upload.sha256, sha256(data));
  });

  it('an upload whose blocks stop is swept one expiry period after the last of them', async () => {
    const data = randomData(2_000);
    const upload = await blocks.create(LOCAL_USER, { size: data.length, metadata: {}, expectedMd5: md5(data) });
    later(TEST_LIMITS.expiryMs - 1_000);
    assert.equal((await block(upload.id, data, 0, 1_000)).kind, 'stored');
    later(TEST_LIMITS.expiryMs - 1);
    assert.equal(await uploads.sweepExpired(), 0);
    later(2);
    assert.equal(await uploads.sweepExpired(), 1);
    assert.equal((await fx.meta.uploads.get(upload.id))?.state, 'expired');
  });
});
