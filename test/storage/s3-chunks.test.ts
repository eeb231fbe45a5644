/**
 * The native chunk API on S3 (a real Ceph RGW): chunk i is part i + 1 of the blob's multipart
 * upload, sent through Ferry in any order and in parallel, or straight to Ceph through a presigned
 * UploadPart URL and then confirmed; chunks under 5 MiB are objects joined into parts at completion. Every completed upload is checked by SHA-256 and leaves no
 * multipart upload and nothing staged behind.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { chunkOf, contentDigest, NativeClient, sha256Hex, type UploadJson } from '../helpers/native-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/users.js';
import { cephS3, type CephS3 } from './s3-ceph.js';

const MiB = 1024 * 1024;

interface Target { index: number; size: number; method: string; url: string; headers: Record<string, string>; expiresAt: string }
interface ErrorJson { error: { code: string; message: string } }

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function md5(bytes: Buffer, encoding: 'hex' | 'base64' = 'base64'): string {
  return createHash('md5').update(bytes).digest(encoding);
}

async function download(server: TestServer, client: NativeClient, fileId: string): Promise<string> {
  const response = await fetch(`${server.url}/api/v1/files/${fileId}/content`, { headers: client.headers });
  assert.equal(response.status, 200);
  return sha256Hex(Buffer.from(await response.arrayBuffer()));
}

async function putToStorage(target: Target, bytes: Buffer): Promise<Response> {
  return fetch(target.url, { method: target.method, headers: target.headers, body: bytes as unknown as Uint8Array<ArrayBuffer> });
}

let s3: CephS3;
let server: TestServer;
let client: NativeClient;

before(async () => {
  s3 = await cephS3();
  server = await startTestServer({ ...s3.config(), auth: 'required' });
  client = new NativeClient(server.url, (await createUser(server, 'chunker')).auth);
});
after(async () => {
  await server?.stop();
  await s3?.dispose();
});

async function assertNothingLeft(id: string): Promise<void> {
  assert.deepEqual((await s3.leftovers(`blobs/${id}`)).uploads, []);
  assert.deepEqual(await s3.leftovers(`staging/${id}/`), { uploads: [], objects: [] });
}

describe('native chunk API on S3 (Ceph RGW)', () => {
  it('takes shuffled chunks over 4 connections, one part each, with a corrupted chunk and re-sent ones; completes without leftovers', async () => {
    const chunkSize = 5 * MiB;
    const data = randomBytes(chunkSize * 5 + 12_345);
    const created = await client.create({ name: 's3/shuffled.bin', size: data.length, chunkSize, sha256: sha256Hex(data) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const upload = created.body;
    assert.equal(upload.chunkCount, 6);

    const corrupted = Buffer.from(chunkOf(data, chunkSize, 2));
    corrupted[7] = corrupted[7]! ^ 0xff;
    const bad = await client.putChunk(upload.id, 2, corrupted, { 'content-digest': contentDigest(chunkOf(data, chunkSize, 2)) });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as unknown as ErrorJson).error.code, 'digest_mismatch');

    await client.sendChunks(upload, data, 4, shuffled(upload.missing));
    // A re-sent chunk (even with other bytes) is not written again: the stored part stays.
    const again = await client.putChunk(upload.id, 4, chunkOf(data, chunkSize, 4));
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.missing, []);

    const done = await client.complete(upload.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.state, 'completed');
    assert.equal(done.body.file?.sha256, sha256Hex(data));
    assert.equal(await download(server, client, done.body.file!.id), sha256Hex(data));
    await assertNothingLeft(upload.id);
  });

  it('picks 5 MiB chunks or more by default; a chunkSize under 5 MiB works, its chunks joined into parts at completion', async () => {
    const chosen = await client.create({ name: 's3/default.bin', size: 20 * MiB });
    assert.equal(chosen.status, 201);
    assert.ok(chosen.body.chunkSize >= 5 * MiB);

    const chunkSize = MiB;
    const data = randomBytes(17 * MiB + 4321);
    const created = await client.create({ name: 's3/small-chunks.bin', size: data.length, chunkSize, sha256: sha256Hex(data) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const upload = created.body;
    assert.equal(upload.chunkCount, 18);
    // Such chunks cannot be parts, so they cannot go straight to S3 as parts either.
    const presign = await client.json<ErrorJson>('POST', `/api/v1/uploads/${upload.id}/chunks/0/presign`);
    assert.equal(presign.status, 400);
    assert.equal(presign.body.error.code, 'invalid_request');

    const corrupted = Buffer.from(chunkOf(data, chunkSize, 5));
    corrupted[0] = corrupted[0]! ^ 0xff;
    const bad = await client.putChunk(upload.id, 5, corrupted, { 'content-digest': contentDigest(chunkOf(data, chunkSize, 5)) });
    assert.equal(bad.status, 400);
    await client.sendChunks(upload, data, 4, shuffled(upload.missing));
    assert.deepEqual((await s3.leftovers(`blobs/${upload.id}`)).objects, [], 'nothing is assembled before completion');

    const done = await client.complete(upload.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.file?.sha256, sha256Hex(data));
    assert.equal(await download(server, client, done.body.file!.id), sha256Hex(data));
    await assertNothingLeft(upload.id);

    // A file that fits in one chunk completes too, however small the chunk size.
    const tiny = randomBytes(1000);
    const { body: single } = await client.create({ name: 's3/one-chunk.bin', size: tiny.length, chunkSize: 64 * 1024 });
    assert.equal((await client.putChunk(single.id, 0, tiny)).status, 200);
    const finished = await client.complete(single.id);
    assert.equal(finished.status, 200, JSON.stringify(finished.body));
    assert.equal(finished.body.file?.sha256, sha256Hex(tiny));
    await assertNothingLeft(single.id);
  });

  it('sends chunks straight to Ceph through presigned part URLs, then verifies and completes', async () => {
    const chunkSize = 5 * MiB;
    const data = randomBytes(chunkSize * 2 + 777);
    const { body: upload } = await client.create({ name: 's3/direct.bin', size: data.length, chunkSize, sha256: sha256Hex(data) });
    const order = shuffled(upload.missing);
    await Promise.all(order.map(async (index) => {
      const presigned = await client.json<Target>('POST', `/api/v1/uploads/${upload.id}/chunks/${index}/presign`);
      assert.equal(presigned.status, 200, JSON.stringify(presigned.body));
      assert.equal(presigned.body.size, chunkOf(data, chunkSize, index).length);
      const put = await putToStorage(presigned.body, chunkOf(data, chunkSize, index));
      assert.equal(put.status, 200, await put.text());
    }));
    // The bytes are in Ceph, but nothing counts until Ferry has checked them.
    const early = await client.complete(upload.id);
    assert.equal(early.status, 409);
    for (const index of order) {
      const confirmed = await client.json<UploadJson>('POST', `/api/v1/uploads/${upload.id}/chunks/${index}/uploaded`, { md5: md5(chunkOf(data, chunkSize, index)) });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    }
    const done = await client.complete(upload.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.file?.sha256, sha256Hex(data));
    assert.equal(await download(server, client, done.body.file!.id), sha256Hex(data));
    await assertNothingLeft(upload.id);
  });

  it('refuses a lying client: a wrong MD5, a wrong size or a chunk that never arrived is not recorded', async () => {
    const chunkSize = 5 * MiB;
    const data = randomBytes(chunkSize + 4096);
    const { body: upload } = await client.create({ name: 's3/liar.bin', size: data.length, chunkSize });
    const path = (index: number, what: string) => `/api/v1/uploads/${upload.id}/chunks/${index}/${what}`;

    const missing = await client.json<ErrorJson>('POST', path(0, 'uploaded'), { md5: md5(chunkOf(data, chunkSize, 0)) });
    assert.equal(missing.status, 409);

    const target = (await client.json<Target>('POST', path(0, 'presign'))).body;
    // Ceph itself refuses a body of another size than the signed Content-Length.
    const short = await fetch(target.url, { method: 'PUT', body: randomBytes(1000) as unknown as Uint8Array<ArrayBuffer> });
    assert.notEqual(short.status, 200);
    assert.equal((await putToStorage(target, chunkOf(data, chunkSize, 0))).status, 200);
    const wrongMd5 = await client.json<ErrorJson>('POST', path(0, 'uploaded'), { md5: md5(randomBytes(16)) });
    assert.equal(wrongMd5.status, 400);
    assert.equal(wrongMd5.body.error.code, 'digest_mismatch');

    // A part of the wrong size, as a client with its own S3 access could store it.
    const [uploadId] = await s3.api.listMultipartUploads(`blobs/${upload.id}`);
    const tooShort = randomBytes(100);
    await s3.api.uploadPart(`blobs/${upload.id}`, uploadId!, 2, tooShort);
    const wrongSize = await client.json<ErrorJson>('POST', path(1, 'uploaded'), { md5: md5(tooShort) });
    assert.equal(wrongSize.status, 400);
    assert.equal(wrongSize.body.error.code, 'chunk_length_mismatch');

    const status = await client.json<UploadJson>('GET', `/api/v1/uploads/${upload.id}`);
    assert.equal(status.body.receivedChunks, 0);
    assert.deepEqual(status.body.missing, [0, 1]);
    assert.equal((await client.complete(upload.id)).status, 409);

    // Told the truth, the same parts count; the short part 2 is replaced through Ferry.
    assert.equal((await client.json('POST', path(0, 'uploaded'), { md5: md5(chunkOf(data, chunkSize, 0), 'hex') })).status, 200);
    assert.equal((await client.putChunk(upload.id, 1, chunkOf(data, chunkSize, 1))).status, 200);
    const done = await client.complete(upload.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.file?.sha256, sha256Hex(data));
    await assertNothingLeft(upload.id);
  });

  it('cancelling an upload with parts aborts its multipart upload', async () => {
    const chunkSize = 5 * MiB;
    const data = randomBytes(chunkSize * 2);
    const { body: upload } = await client.create({ name: 's3/cancelled.bin', size: data.length, chunkSize });
    assert.equal((await client.putChunk(upload.id, 1, chunkOf(data, chunkSize, 1))).status, 200);
    const cancelled = await fetch(`${server.url}/api/v1/uploads/${upload.id}`, { method: 'DELETE', headers: client.headers });
    assert.equal(cancelled.status, 204);
    assert.deepEqual(await s3.leftovers(`blobs/${upload.id}`), { uploads: [], objects: [] });
    assert.deepEqual(await s3.leftovers(`staging/${upload.id}/`), { uploads: [], objects: [] });
  });
});

it('on local storage the presign and uploaded routes answer 400', async () => {
  const local = await startTestServer({ auth: 'required' });
  try {
    const localClient = new NativeClient(local.url, (await createUser(local, 'presigner')).auth);
    const { body: upload } = await localClient.create({ name: 'local.bin', size: 1000 });
    const presign = await localClient.json<ErrorJson>('POST', `/api/v1/uploads/${upload.id}/chunks/0/presign`);
    assert.equal(presign.status, 400);
    assert.equal(presign.body.error.code, 'invalid_request');
    const uploaded = await localClient.json<ErrorJson>('POST', `/api/v1/uploads/${upload.id}/chunks/0/uploaded`, { md5: md5(Buffer.alloc(1000)) });
    assert.equal(uploaded.status, 400);
  } finally {
    await local.stop();
  }
});
