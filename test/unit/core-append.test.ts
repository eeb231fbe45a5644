import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { coreFixture, failingBody, pieces, randomData, sha256, stallingBody, type CoreFixture } from '../helpers/core.js';
import { LOCAL_USER } from '../../src/core/principal.js';

const blobPath = (fx: CoreFixture, id: string) => join(fx.dir, 'blobs', id.slice(0, 2), id);

describe('UploadService append', () => {
  let fx: CoreFixture;
  beforeEach(async () => { fx = await coreFixture(); });
  afterEach(async () => { await fx.dispose(); });

  it('hashes sequential appends as they stream, never re-reading the file', async () => {
    const data = randomData(300_000);
    let reads = 0;
    const read = fx.store.read.bind(fx.store);
    fx.store.read = (...args) => { reads += 1; return read(...args); };
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: data.length, metadata: {} });
    let offset = 0;
    for (const part of [data.subarray(0, 100_000), data.subarray(100_000, 250_000), data.subarray(250_000)]) {
      const result = await uploads.append(LOCAL_USER, upload.id, { offset, body: pieces(part) });
      offset = result.offset;
    }
    const done = await uploads.get(LOCAL_USER, upload.id);
    assert.equal(done.state, 'completed');
    assert.equal(done.sha256, sha256(data));
    assert.equal(reads, 0);
    assert.deepEqual(await readFile(blobPath(fx, upload.id)), data);
  });

  it('after a restart, re-hashes the stored prefix once and completes with the right digest', async () => {
    const data = randomData(200_000);
    const before = fx.service();
    const upload = await before.create(LOCAL_USER, { size: data.length, metadata: {} });
    await before.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(data.subarray(0, 120_000)) });
    const after = fx.service();
    const done = await after.append(LOCAL_USER, upload.id, { offset: 120_000, body: pieces(data.subarray(120_000)) });
    assert.equal(done.sha256, sha256(data));
  });

  it('refuses an append at the wrong offset and says where the upload is', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: 10, metadata: {} });
    await uploads.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(Buffer.from('abc')) });
    await assert.rejects(
      uploads.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(Buffer.from('abc')) }),
      (err) => isFerryError(err, 'offset_mismatch') && err.details.expectedOffset === 3,
    );
  });

  it('discards a chunk whose checksum does not match, keeping offset and digest state', async () => {
    const data = randomData(64_000);
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: data.length, metadata: {} });
    const first = data.subarray(0, 30_000);
    const rest = data.subarray(30_000);
    await uploads.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(first) });
    const wrong = { algorithm: 'sha256' as const, digest: Buffer.alloc(32) };
    await assert.rejects(uploads.append(LOCAL_USER, upload.id, { offset: 30_000, body: pieces(rest), checksum: wrong }), (err) => isFerryError(err, 'checksum_mismatch'));
    assert.equal((await uploads.get(LOCAL_USER, upload.id)).offset, 30_000);
    assert.equal(await fx.store.length(upload.id), 30_000);
    const right = { algorithm: 'sha256' as const, digest: Buffer.from(sha256(rest), 'hex') };
    const done = await uploads.append(LOCAL_USER, upload.id, { offset: 30_000, body: pieces(rest), checksum: right });
    assert.equal(done.sha256, sha256(data));
  });

  it('rejects a body longer than the upload and keeps nothing of it', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: 10, metadata: {} });
    await assert.rejects(
      uploads.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(Buffer.from('0123456'), Buffer.from('789ab')) }),
      (err) => isFerryError(err, 'body_exceeds_length'),
    );
    const after = await uploads.get(LOCAL_USER, upload.id);
    assert.equal(after.offset, 0);
    assert.equal(after.state, 'open');
    assert.equal(await fx.store.length(upload.id), 0);
  });

  it('keeps the bytes of a body cut off mid-way, as the protocols ask', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: 100, metadata: {} });
    const result = await uploads.append(LOCAL_USER, upload.id, { offset: 0, body: failingBody(Buffer.from('0123456789')) });
    assert.equal(result.offset, 10);
    assert.equal((await uploads.get(LOCAL_USER, upload.id)).offset, 10);
  });

  it('an offset query makes a stalled request let go and reports what it stored', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: 100, metadata: {} });
    const body = stallingBody(Buffer.from('hello'));
    const stalled = uploads.append(LOCAL_USER, upload.id, { offset: 0, body });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const status = await uploads.status(LOCAL_USER, upload.id);
    assert.ok(Date.now() - started < 1_000);
    assert.equal(body.destroyed, true);
    assert.equal(status.offset, 5);
    assert.equal((await stalled).offset, 5);
    const next = await uploads.append(LOCAL_USER, upload.id, { offset: 5, body: pieces(Buffer.from(' world')) });
    assert.equal(next.offset, 11);
  });

  it('on shutdown, a streaming request stops, keeping and committing what arrived', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: 100, metadata: {} });
    const body = stallingBody(Buffer.from('0123456'));
    const pending = uploads.append(LOCAL_USER, upload.id, { offset: 0, body });
    await new Promise((resolve) => setTimeout(resolve, 30));
    uploads.stopAppends();
    assert.equal((await pending).offset, 7);
    assert.equal(body.destroyed, true);
    assert.equal((await fx.meta.uploads.get(upload.id))!.offset, 7);
  });

  it('checkpoints a long request so progress is durable before it ends', async () => {
    const uploads = fx.service({ checkpointBytes: 64 * 1024 });
    const data = randomData(300 * 1024);
    const upload = await uploads.create(LOCAL_USER, { size: 1024 * 1024, metadata: {} });
    const body = stallingBody(...[0, 1, 2, 3, 4].map((i) => data.subarray(i * 60 * 1024, (i + 1) * 60 * 1024)));
    const pending = uploads.append(LOCAL_USER, upload.id, { offset: 0, body });
    let durable = 0;
    for (let i = 0; i < 100 && durable === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      durable = (await fx.meta.uploads.get(upload.id))!.offset;
    }
    assert.ok(durable >= 64 * 1024 && durable <= 300 * 1024, `checkpoint at ${durable}`);
    body.destroy();
    assert.equal((await pending).offset, 300 * 1024);
  });

  it('takes a deferred length when declared and completes on reaching it', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: null, metadata: {} });
    await uploads.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(Buffer.from('abc')) });
    await assert.rejects(uploads.append(LOCAL_USER, upload.id, { offset: 3, body: pieces(), declaredSize: 2 }), (err) => isFerryError(err, 'inconsistent_length'));
    const done = await uploads.append(LOCAL_USER, upload.id, { offset: 3, body: pieces(Buffer.from('de')), declaredSize: 5 });
    assert.equal(done.state, 'completed');
    assert.equal(done.sha256, sha256(Buffer.from('abcde')));
  });

  it('completes on the client\'s word when the length was never declared (IETF)', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: null, metadata: {} });
    await uploads.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(Buffer.from('abc')) });
    const done = await uploads.append(LOCAL_USER, upload.id, { offset: 3, body: pieces(Buffer.from('def')), completes: true });
    assert.equal(done.size, 6);
    assert.equal(done.state, 'completed');
  });

  it('a refused completion leaves no trace in the digest of the upload', async () => {
    const uploads = fx.service();
    const upload = await uploads.create(LOCAL_USER, { size: null, metadata: {} });
    await uploads.append(LOCAL_USER, upload.id, { offset: 0, body: pieces(Buffer.from('abc')) });
    await assert.rejects(
      uploads.append(LOCAL_USER, upload.id, { offset: 3, body: pieces(Buffer.from('de')), declaredSize: 10, completes: true }),
      (err) => isFerryError(err, 'inconsistent_length'),
    );
    assert.equal((await uploads.get(LOCAL_USER, upload.id)).offset, 3);
    const done = await uploads.append(LOCAL_USER, upload.id, { offset: 3, body: pieces(Buffer.from('defghij')), completes: true });
    assert.equal(done.sha256, sha256(Buffer.from('abcdefghij')));
  });

  it('refuses uploads above the maximum size', async () => {
    const uploads = fx.service({ maxSize: 100 });
    await assert.rejects(uploads.create(LOCAL_USER, { size: 101, metadata: {} }), (err) => isFerryError(err, 'too_large'));
    const deferred = await uploads.create(LOCAL_USER, { size: null, metadata: {} });
    await assert.rejects(
      uploads.append(LOCAL_USER, deferred.id, { offset: 0, body: pieces(randomData(60), randomData(60)) }),
      (err) => isFerryError(err, 'body_exceeds_length'),
    );
  });
});
