import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { UploadService } from '../../src/core/uploads.js';
import { MemoryLocker } from '../../src/locks/memory.js';
import { coreFixture, pieces, randomData, sha256, stallingBody, TEST_LIMITS, type CoreFixture } from '../helpers/core.js';
import { BlobStores } from '../../src/core/blob-stores.js';
import { LibraryService } from '../../src/core/library.js';
import { LOCAL_USER } from '../../src/core/principal.js';

const exists = (path: string) => access(path).then(() => true, () => false);

describe('UploadService lifecycle', () => {
  let fx: CoreFixture;
  beforeEach(async () => { fx = await coreFixture(); });
  afterEach(async () => { await fx.dispose(); });

  it('gives every upload a distinct 128-bit id and an expiry', async () => {
    const uploads = fx.service();
    const a = await uploads.create(LOCAL_USER, { size: 1, metadata: {} });
    const b = await uploads.create(LOCAL_USER, { size: 1, metadata: {} });
    assert.match(a.id, /^[0-9a-f]{32}$/);
    assert.notEqual(a.id, b.id);
    assert.ok(a.expiresAt && a.expiresAt.getTime() > Date.now());
  });

  it('completes an empty upload at creation', async () => {
    const upload = await fx.service().create(LOCAL_USER, { size: 0, metadata: {} });
    assert.equal(upload.state, 'completed');
    assert.equal(upload.sha256, sha256(Buffer.alloc(0)));
  });

  it('terminates: bytes removed, upload gone', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: 10, metadata: {} });
    await uploads.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(Buffer.from('abc')) });
    await uploads.terminate(LOCAL_USER, upload.id);
    assert.equal(await exists(join(fx.dir, 'blobs', upload.id.slice(0, 2), upload.id)), false);
    await assert.rejects(uploads.get(LOCAL_USER, upload.id), (err) => isFerryError(err, 'upload_gone'));
    await assert.rejects(uploads.get(LOCAL_USER, 'nope'), (err) => isFerryError(err, 'upload_not_found'));
  });

  it('a creation that storage failed leaves nothing behind, at once or, with storage down, by the next sweep', async () => {
    let storageUp = true;
    // Storage that carries out the creation but loses its answer, and refuses removals while down.
    const flaky = Object.assign(Object.create(fx.store) as typeof fx.store, {
      create: async (id: string) => {
        await fx.store.create(id);
        throw new Error('the answer was lost');
      },
      remove: async (id: string) => {
        if (!storageUp) throw new Error('storage is down');
        await fx.store.remove(id);
      },
    });
    const uploads = new UploadService({
      store: flaky, meta: fx.meta, library: new LibraryService({ stores: new BlobStores(flaky), meta: fx.meta }), locker: new MemoryLocker(), limits: TEST_LIMITS,
    });
    const openRecords = async () => (await fx.meta.uploads.listExpired(new Date(Date.now() + 3_600_000), 10)).map((upload) => upload.id);

    await assert.rejects(uploads.create(LOCAL_USER, { size: 10, metadata: {} }), /answer was lost/);
    assert.deepEqual(await openRecords(), [], 'removed at once: nothing left open');

    storageUp = false;
    await assert.rejects(uploads.create(LOCAL_USER, { size: 10, metadata: {} }), /answer was lost/);
    const [left] = await openRecords();
    assert.ok(left, 'the record stays, due for the sweep');
    assert.ok((await fx.meta.uploads.get(left))!.expiresAt!.getTime() <= Date.now());
    assert.ok(await exists(join(fx.dir, 'blobs', left.slice(0, 2), left)), 'storage still holds what it made');
    storageUp = true;
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await uploads.sweepExpired(), 1);
    assert.equal(await exists(join(fx.dir, 'blobs', left.slice(0, 2), left)), false);
    assert.equal((await fx.meta.uploads.get(left))?.state, 'expired');
  });

  it('sweeps expired uploads and their bytes, leaving live and completed ones', async () => {
    let now = new Date('2026-03-01T00:00:00Z');
    const uploads = new UploadService({ store: fx.store, meta: fx.meta, library: new LibraryService({ stores: new BlobStores(fx.store), meta: fx.meta }), locker: new MemoryLocker(), limits: TEST_LIMITS, now: () => now });
    const stale = await uploads.create(LOCAL_USER, { size: 10, metadata: {} });
    const done = await uploads.create(LOCAL_USER, { size: 3, metadata: {} });
    await uploads.append(LOCAL_USER, done.id, { offset: 0, body: pieces(Buffer.from('abc')) });
    now = new Date(now.getTime() + 30_000);
    const fresh = await uploads.create(LOCAL_USER, { size: 10, metadata: {} });
    now = new Date(now.getTime() + 45_000);
    assert.equal(await uploads.sweepExpired(), 1);
    await assert.rejects(uploads.get(LOCAL_USER, stale.id), (err) => isFerryError(err, 'upload_gone'));
    assert.equal(await exists(join(fx.dir, 'blobs', stale.id.slice(0, 2), stale.id)), false);
    assert.equal((await uploads.get(LOCAL_USER, fresh.id)).state, 'open');
    assert.equal((await uploads.get(LOCAL_USER, done.id)).state, 'completed');
  });

  it('never sweeps, or cuts off, an upload that a request is still streaming into', async () => {
    let now = new Date('2026-03-01T00:00:00Z');
    const uploads = new UploadService({ store: fx.store, meta: fx.meta, library: new LibraryService({ stores: new BlobStores(fx.store), meta: fx.meta }), locker: new MemoryLocker(), limits: TEST_LIMITS, now: () => now });
    const busy = await uploads.create(LOCAL_USER, { size: 10, metadata: {} });
    const body = stallingBody(Buffer.from('abc'));
    const streaming = uploads.append(LOCAL_USER, busy.id, { offset: 0, body });
    await new Promise((resolve) => setTimeout(resolve, 30));
    now = new Date(now.getTime() + TEST_LIMITS.expiryMs + 1);
    assert.equal(await uploads.sweepExpired(), 0);
    assert.equal(body.destroyed, false, 'the request was not cut off');
    body.push(Buffer.from('defghij'));
    body.push(null);
    assert.equal((await streaming).state, 'completed');
  });

  it('concatenates completed partial uploads into a final one with the right digest', async () => {
    const uploads = fx.service();
    const a = randomData(70_000);
    const b = randomData(50_000);
    const partA = await uploads.create(LOCAL_USER, { size: a.length, metadata: {}, concat: { kind: 'partial' } });
    const partB = await uploads.create(LOCAL_USER, { size: b.length, metadata: {}, concat: { kind: 'partial' } });
    await uploads.append(LOCAL_USER, partA.id, { offset: 0, body: pieces(a) });
    await assert.rejects(
      uploads.create(LOCAL_USER, { size: null, metadata: {}, concat: { kind: 'final', parts: [partA.id, partB.id] } }),
      (err) => isFerryError(err, 'invalid_concat'),
    );
    await uploads.append(LOCAL_USER, partB.id, { offset: 0, body: pieces(b) });
    const final = await uploads.create(LOCAL_USER, { size: null, metadata: {}, concat: { kind: 'final', parts: [partA.id, partB.id] } });
    assert.equal(final.state, 'completed');
    assert.equal(final.size, a.length + b.length);
    assert.equal(final.sha256, sha256(Buffer.concat([a, b])));
    await assert.rejects(uploads.append(LOCAL_USER, final.id, { offset: final.size!, body: pieces() }), (err) => isFerryError(err, 'final_upload_patch'));
  });
});
