import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import * as http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/users.js';
import { chunkOf, contentDigest, NativeClient, sha256Hex } from '../helpers/native-client.js';

const CHUNK = 64 * 1024;

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * PUTs a chunk a little at a time: with keepSending, 4 KiB every 50 ms to the end; without, the
 * first 4 KiB and then nothing, like a connection that died. Resolves to the status, or 'cut off'.
 */
function slowChunk(server: TestServer, client: NativeClient, id: string, index: number, bytes: Buffer, options: { keepSending: boolean }): Promise<number | 'cut off'> {
  return new Promise((resolve) => {
    const request = http.request(`${server.url}/api/v1/uploads/${id}/chunks/${index}`, {
      method: 'PUT',
      headers: { ...client.headers, 'content-length': String(bytes.length), 'content-digest': contentDigest(bytes) },
    });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    request.on('error', () => resolve('cut off'));
    let sent = 0;
    const step = () => {
      const piece = bytes.subarray(sent, sent + 4096);
      sent += piece.length;
      if (sent >= bytes.length) request.end(piece);
      else {
        request.write(piece);
        if (options.keepSending) setTimeout(step, 50);
      }
    };
    step();
  });
}

async function download(server: TestServer, client: NativeClient, fileId: string): Promise<Buffer> {
  const response = await fetch(`${server.url}/api/v1/files/${fileId}/content`, { headers: client.headers });
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

describe('native chunk API', () => {
  let server: TestServer;
  let client: NativeClient;

  before(async () => {
    server = await startTestServer({ auth: 'required' });
    const user = await createUser(server, 'chunker');
    client = new NativeClient(server.url, user.auth);
  });
  after(async () => server.stop());

  it('takes chunks over 4 connections in shuffled order with duplicates and a corrupted chunk; the file matches', async () => {
    const data = randomBytes(CHUNK * 13 + 1234);
    const created = await client.create({ name: 'docs/big.bin', size: data.length, chunkSize: CHUNK, sha256: sha256Hex(data) });
    assert.equal(created.status, 201);
    const upload = created.body;
    assert.equal(upload.chunkCount, 14);
    assert.deepEqual(upload.missing, [...Array(14).keys()]);

    const corrupted = Buffer.from(chunkOf(data, CHUNK, 5));
    corrupted[100] = corrupted[100]! ^ 0xff;
    const bad = await client.putChunk(upload.id, 5, corrupted, { 'content-digest': contentDigest(chunkOf(data, CHUNK, 5)) });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as unknown as { error: { code: string } }).error.code, 'digest_mismatch');
    assert.ok((await client.json('GET', `/api/v1/uploads/${upload.id}`)).body.missing.includes(5), 'a rejected chunk does not count');

    const order = shuffled([...Array(14).keys(), 2, 7, 7, 13]);
    await client.sendChunks(upload, data, 4, order);
    const state = await client.json('GET', `/api/v1/uploads/${upload.id}`);
    assert.deepEqual(state.body.missing, []);
    assert.equal(state.body.receivedChunks, 14);

    const done = await client.complete(upload.id);
    assert.equal(done.status, 200);
    assert.equal(done.body.state, 'completed');
    assert.equal(done.body.file?.sha256, sha256Hex(data));
    assert.equal(done.body.file?.name, 'docs/big.bin');
    assert.ok((await download(server, client, done.body.file!.id)).equals(data));
    assert.equal((await client.complete(upload.id)).status, 200, 'completing again is harmless');
  });

  it('re-sending a stored chunk, even with other bytes, never changes it; a copy damaged on the way fails its digest', async () => {
    const data = randomBytes(CHUNK * 2);
    const { body: upload } = await client.create({ name: 'twice.bin', size: data.length, chunkSize: CHUNK });
    await client.sendChunks(upload, data, 1);
    const other = randomBytes(CHUNK);
    assert.equal((await client.putChunk(upload.id, 0, other)).status, 200);
    // A re-sent copy damaged on the way is still checked against its digest: the client hears it.
    const damaged = await client.putChunk(upload.id, 1, other, { 'content-digest': contentDigest(chunkOf(data, CHUNK, 1)) });
    assert.equal(damaged.status, 400);
    assert.equal((damaged.body as unknown as { error: { code: string } }).error.code, 'digest_mismatch');
    const done = await client.complete(upload.id);
    assert.ok((await download(server, client, done.body.file!.id)).equals(data));
    const afterCompletion = await client.putChunk(upload.id, 0, other, { 'content-digest': contentDigest(data.subarray(0, CHUNK)) });
    assert.equal(afterCompletion.status, 400);
    assert.equal((afterCompletion.body as unknown as { error: { code: string } }).error.code, 'digest_mismatch');
    assert.equal((await client.putChunk(upload.id, 0, data.subarray(0, CHUNK))).status, 200, 'a sound copy of a stored chunk is answered as stored');
  });

  it('lets a duplicate of a chunk that is still flowing wait for it, and a retry take over a stalled one', async () => {
    const data = randomBytes(CHUNK * 2);
    const { body: upload } = await client.create({ name: 'dupes.bin', size: data.length, chunkSize: CHUNK });
    const slow = slowChunk(server, client, upload.id, 0, chunkOf(data, CHUNK, 0), { keepSending: true });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const duplicate = await client.putChunk(upload.id, 0, chunkOf(data, CHUNK, 0));
    assert.equal(duplicate.status, 200);
    assert.equal(await slow, 200, 'the first copy, still sending, was not cut off');

    const stalled = slowChunk(server, client, upload.id, 1, chunkOf(data, CHUNK, 1), { keepSending: false });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const retry = await client.putChunk(upload.id, 1, chunkOf(data, CHUNK, 1));
    assert.equal(retry.status, 200, 'the retry took over');
    assert.equal(await stalled, 'cut off');
    const done = await client.complete(upload.id);
    assert.ok((await download(server, client, done.body.file!.id)).equals(data));
  });

  it('refuses to complete while chunks are missing, and names them', async () => {
    const data = randomBytes(CHUNK * 3);
    const { body: upload } = await client.create({ name: 'gaps.bin', size: data.length, chunkSize: CHUNK });
    await client.putChunk(upload.id, 1, chunkOf(data, CHUNK, 1));
    const answer = await client.complete(upload.id);
    assert.equal(answer.status, 409);
    assert.equal((answer.body as unknown as { error: { code: string } }).error.code, 'upload_incomplete');
    assert.deepEqual((await client.json('GET', `/api/v1/uploads/${upload.id}`)).body.missing, [0, 2]);
  });

  it('discards an upload whose whole-file SHA-256 differs from the declared one', async () => {
    const data = randomBytes(CHUNK + 10);
    const { body: upload } = await client.create({ name: 'liar.bin', size: data.length, chunkSize: CHUNK, sha256: sha256Hex(randomBytes(8)) });
    await client.sendChunks(upload, data, 2);
    const answer = await client.complete(upload.id);
    assert.equal(answer.status, 422);
    assert.equal((await client.json('GET', `/api/v1/uploads/${upload.id}`)).status, 410);
    const files = await client.json<{ files: { name: string }[] }>('GET', '/api/v1/files?q=liar');
    assert.deepEqual(files.body.files, []);
  });

  it('pauses (chunks refused) and resumes', async () => {
    const data = randomBytes(CHUNK * 2);
    const { body: upload } = await client.create({ name: 'pause.bin', size: data.length, chunkSize: CHUNK });
    assert.equal((await client.json('PATCH', `/api/v1/uploads/${upload.id}`, { state: 'paused' })).body.state, 'paused');
    const refused = await client.putChunk(upload.id, 0, chunkOf(data, CHUNK, 0));
    assert.equal(refused.status, 409);
    assert.equal((refused.body as unknown as { error: { code: string } }).error.code, 'upload_paused');
    assert.equal((await client.json('PATCH', `/api/v1/uploads/${upload.id}`, { state: 'open' })).body.state, 'open');
    await client.sendChunks(upload, data, 2);
    assert.equal((await client.complete(upload.id)).body.state, 'completed');
  });

  it('cancels: the upload is gone and its bytes are freed', async () => {
    const data = randomBytes(CHUNK);
    const { body: upload } = await client.create({ name: 'cancel.bin', size: data.length, chunkSize: CHUNK });
    await client.putChunk(upload.id, 0, data);
    assert.equal((await client.json('DELETE', `/api/v1/uploads/${upload.id}`)).status, 204);
    assert.equal((await client.json('GET', `/api/v1/uploads/${upload.id}`)).status, 410);
    const shard = await readdir(join(server.dataDir, 'blobs', upload.id.slice(0, 2))).catch((): string[] => []);
    assert.ok(!shard.includes(upload.id));
  });

  it('accepts Content-MD5 as the chunk digest', async () => {
    const data = randomBytes(1000);
    const { body: upload } = await client.create({ name: 'md5.bin', size: data.length, chunkSize: CHUNK });
    const md5 = createHash('md5').update(data).digest('base64');
    assert.equal((await client.putChunk(upload.id, 0, data, { 'content-md5': md5 })).status, 200);
    const wrong = createHash('md5').update('other').digest('base64');
    const { body: second } = await client.create({ name: 'md5-bad.bin', size: data.length, chunkSize: CHUNK });
    assert.equal((await client.putChunk(second.id, 0, data, { 'content-md5': wrong })).status, 400);
  });

  it('answers bad chunk requests with 4xx JSON', async () => {
    const data = randomBytes(CHUNK + 5);
    const { body: upload } = await client.create({ name: 'bad.bin', size: data.length, chunkSize: CHUNK });
    const cases: [string, number, Buffer, Record<string, string>, number][] = [
      ['index past the end', 2, data.subarray(0, 5), { 'content-digest': contentDigest(data.subarray(0, 5)) }, 400],
      ['short first chunk', 0, data.subarray(0, 10), { 'content-digest': contentDigest(data.subarray(0, 10)) }, 400],
      ['no digest', 0, chunkOf(data, CHUNK, 0), {}, 400],
      ['malformed digest', 0, chunkOf(data, CHUNK, 0), { 'content-digest': 'sha-256=nope' }, 400],
      ['digest of the wrong length', 0, chunkOf(data, CHUNK, 0), { 'content-digest': 'sha-256=:AAAA:' }, 400],
      ['only unknown algorithms', 0, chunkOf(data, CHUNK, 0), { 'content-digest': 'sha-999=:AAAA:' }, 400],
    ];
    for (const [label, index, bytes, headers, status] of cases) {
      const answer = await client.putChunk(upload.id, index, bytes, headers);
      assert.equal(answer.status, status, label);
      assert.equal(typeof (answer.body as unknown as { error: { code: string } }).error.code, 'string', label);
    }
    for (const path of [`/api/v1/uploads/${upload.id}/chunks/-1`, `/api/v1/uploads/${upload.id}/chunks/x`]) {
      const response = await fetch(`${server.url}${path}`, { method: 'PUT', headers: client.headers, body: 'x' });
      assert.equal(response.status, 400, path);
    }
    assert.deepEqual((await client.json('GET', `/api/v1/uploads/${upload.id}`)).body.missing, [0, 1]);
    const creations: unknown[] = [
      { name: 'x', size: -1 }, { name: '', size: 1 }, { name: '../x', size: 1 }, { name: 'x', size: 1, chunkSize: 10 },
      { name: 'x', size: 10 * 1024 ** 3, chunkSize: CHUNK }, { name: 'x', size: 1, sha256: 'abc' }, { name: 'x', size: 1, extra: true },
    ];
    for (const body of creations) {
      const answer = await client.json('POST', '/api/v1/uploads', body);
      assert.ok(answer.status >= 400 && answer.status < 500, `${JSON.stringify(body)} -> ${answer.status}`);
    }
  });

  it('completes an empty file at creation', async () => {
    const created = await client.create({ name: 'empty.txt', size: 0, sha256: sha256Hex(Buffer.alloc(0)) });
    assert.equal(created.status, 201);
    assert.equal(created.body.state, 'completed');
    assert.equal(created.body.chunkCount, 0);
  });

  it('picks a chunk size that keeps a large file within 10,000 chunks', async () => {
    const size = 200 * 1024 ** 3;
    const { body } = await client.create({ name: 'huge.bin', size });
    assert.ok(body.chunkCount <= 10_000);
    assert.equal(body.chunkCount, Math.ceil(size / body.chunkSize));
    await client.json('DELETE', `/api/v1/uploads/${body.id}`);
  });
});

describe('native chunk API across a restart', () => {
  it('completes with the right SHA-256 after the process that took the first chunks is gone', async () => {
    const first = await startTestServer();
    const data = randomBytes(CHUNK * 4 + 3);
    let client = new NativeClient(first.url);
    const { body: upload } = await client.create({ name: 'restart.bin', size: data.length, chunkSize: CHUNK, sha256: sha256Hex(data) });
    await client.sendChunks(upload, data, 2, [3, 0, 1]);
    await first.close();
    const second = await startTestServer({ dataDir: first.dataDir });
    try {
      client = new NativeClient(second.url);
      const state = await client.json('GET', `/api/v1/uploads/${upload.id}`);
      assert.deepEqual(state.body.missing, [2, 4]);
      await client.sendChunks(state.body, data, 2);
      const done = await client.complete(upload.id);
      assert.equal(done.status, 200);
      assert.equal(done.body.file?.sha256, sha256Hex(data));
    } finally {
      await second.stop();
    }
  });
});
