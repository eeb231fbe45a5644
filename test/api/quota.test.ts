/**
 * Per-user storage quota (FERRY_QUOTA_BYTES) and unfinished-upload limit (FERRY_MAX_OPEN_UPLOADS),
 * in every protocol: refused at creation with 507 (429 for too many uploads) in the protocol's own
 * error format, bytes of unknown length stopped at the quota with what arrived kept, and room made
 * by deleting files.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { send } from '../helpers/http-client.js';
import { draft, metadataHeader, TUS, tusCreate, tusPatch } from '../helpers/http-tus.js';
import { NativeClient, sha256Hex, type UploadJson } from '../helpers/native-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/users.js';

const QUOTA = 100_000;
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const DATABASE_URL = process.env.FERRY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const FUPLOAD_TOKEN = 'quota-business-server';

interface ErrorJson {
  error: { code: string; message: string };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function fileIds(server: TestServer, user: TestUser): Promise<string[]> {
  const res = await send(`${server.url}/api/v1/files`, { headers: user.auth });
  assert.equal(res.status, 200, res.text());
  return (res.json() as { files: { id: string }[] }).files.map((file) => file.id);
}

async function deleteFiles(server: TestServer, user: TestUser): Promise<void> {
  for (const id of await fileIds(server, user)) {
    assert.equal((await send(`${server.url}/api/v1/files/${id}`, { method: 'DELETE', headers: user.auth })).status, 204);
  }
}

/** A user who already holds `bytes` of their quota in one library file. */
async function userHolding(server: TestServer, name: string, bytes: number): Promise<TestUser> {
  const user = await createUser(server, name);
  if (bytes > 0) {
    const created = await tusCreate(server, { ...user.auth, 'Upload-Length': bytes });
    assert.equal((await tusPatch(created.location, 0, randomBytes(bytes), user.auth)).status, 204);
  }
  return user;
}

describe('storage quota', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ auth: 'required', quotaBytes: QUOTA, fuploadClients: { [FUPLOAD_TOKEN]: 'http://127.0.0.1:9/notify' } });
  });
  after(() => server.stop());

  it('tus: a creation that does not fit answers 507 with a JSON error; what fits is created, and other users are unaffected', async () => {
    const alice = await userHolding(server, 'tus-alice', 60_000);
    const refused = await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...alice.auth, 'Upload-Length': 40_001 } });
    assert.equal(refused.status, 507, refused.text());
    assert.equal(refused.header('tus-resumable'), '1.0.0');
    const body = refused.json() as ErrorJson;
    assert.equal(body.error.code, 'quota_exceeded');
    assert.match(body.error.message, /60000 of the 100000-byte storage quota/);

    const fits = await tusCreate(server, { ...alice.auth, 'Upload-Length': 40_000 });
    // The open upload reserves its whole length: nothing more fits, not even one byte.
    const full = await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...alice.auth, 'Upload-Length': 1 } });
    assert.equal(full.status, 507);
    const data = randomBytes(40_000);
    assert.equal((await tusPatch(fits.location, 0, data, alice.auth)).status, 204);

    const bob = await userHolding(server, 'tus-bob', 0);
    await tusCreate(server, { ...bob.auth, 'Upload-Length': QUOTA });
  });

  it('tus: deleting a file makes room again; terminating an upload frees its reservation', async () => {
    const carol = await userHolding(server, 'tus-carol', 90_000);
    const big = { ...TUS, ...carol.auth, 'Upload-Length': 50_000 };
    assert.equal((await send(server.endpoint, { method: 'POST', headers: big })).status, 507);
    await deleteFiles(server, carol);
    const created = await tusCreate(server, big);
    assert.equal((await send(server.endpoint, { method: 'POST', headers: { ...big, 'Upload-Length': 50_001 } })).status, 507);
    assert.equal((await send(created.location, { method: 'DELETE', headers: { ...TUS, ...carol.auth } })).status, 204);
    await tusCreate(server, { ...big, 'Upload-Length': QUOTA });
  });

  it('tus: a deferred length that does not fit is refused when declared, and the upload goes on within the quota', async () => {
    const dave = await userHolding(server, 'tus-dave', 50_000);
    const created = await tusCreate(server, { ...dave.auth, 'Upload-Defer-Length': 1 });
    const first = randomBytes(10_000);
    assert.equal((await tusPatch(created.location, 0, first, dave.auth)).status, 204);
    const tooLong = await tusPatch(created.location, 10_000, randomBytes(1000), { ...dave.auth, 'Upload-Length': 60_001 });
    assert.equal(tooLong.status, 507, tooLong.text());
    assert.equal((tooLong.json() as ErrorJson).error.code, 'quota_exceeded');
    const rest = randomBytes(40_000);
    const done = await tusPatch(created.location, 10_000, rest, { ...dave.auth, 'Upload-Length': 50_000 });
    assert.equal(done.status, 204, done.text());
    const download = await send(created.location, { headers: dave.auth });
    assert.equal(sha256(download.body), sha256(Buffer.concat([first, rest])));
  });

  it('tus: bytes of unknown length stop at the quota with 507; those that arrived are kept and the upload resumes once there is room', async () => {
    const erin = await userHolding(server, 'tus-erin', 70_000);
    const created = await tusCreate(server, { ...erin.auth, 'Upload-Defer-Length': 1 });
    const data = randomBytes(64_000);
    // A length given up front that cannot fit is refused before any byte is read.
    const declared = await tusPatch(created.location, 0, data, erin.auth);
    assert.equal(declared.status, 507, declared.text());
    assert.equal(await offsetOf(created.location, erin), 0);

    // Without one, the body streams in until the quota is used up.
    const streamed = await tusPatch(created.location, 0, { chunks: chunksOf(data, 8 * 1024) }, erin.auth);
    assert.equal(streamed.status, 507, streamed.text());
    assert.equal((streamed.json() as ErrorJson).error.code, 'quota_exceeded');
    const offset = await offsetOf(created.location, erin);
    assert.ok(offset > 0 && offset <= 30_000, `offset ${offset} is within the 30000 bytes of room`);

    await deleteFiles(server, erin);
    const rest = await tusPatch(created.location, offset, data.subarray(offset), { ...erin.auth, 'Upload-Length': data.length });
    assert.equal(rest.status, 204, rest.text());
    const download = await send(created.location, { headers: erin.auth });
    assert.equal(sha256(download.body), sha256(data), 'the bytes kept at the 507 are the client\'s');
  });

  it('IETF draft: a creation that does not fit answers 507 as problem+json', async () => {
    const frank = await userHolding(server, 'ietf-frank', 80_000);
    for (const version of [5, 6, 7, 8]) {
      const res = await send(server.endpoint, {
        method: 'POST',
        headers: draft(version, { ...frank.auth, 'Upload-Complete': '?1', 'Upload-Length': 30_000 }),
        body: randomBytes(30_000),
      });
      assert.equal(res.status, 507, `v${version}: ${res.text()}`);
      assert.match(res.header('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(res.header('upload-complete'), '?0');
      assert.equal((res.json() as { code: string }).code, 'quota_exceeded');
    }
    const fits = await send(server.endpoint, {
      method: 'POST', headers: draft(8, { ...frank.auth, 'Upload-Complete': '?1' }), body: randomBytes(20_000),
    });
    assert.equal(fits.status, 200, fits.text());
  });

  it('native API: creation refused with 507 in JSON; an instant upload of content already stored counts as a file of its own', async () => {
    const grace = await userHolding(server, 'native-grace', 0);
    const native = new NativeClient(server.url, grace.auth);
    const data = randomBytes(60_000);
    const created = await native.create({ name: 'a.bin', size: data.length, sha256: sha256Hex(data), chunkSize: 64 * 1024 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await native.sendChunks(created.body, data, 1);
    assert.equal((await native.complete(created.body.id)).status, 200);

    // The same content again is stored once, but it is a second file in her library.
    const again = await native.json<UploadJson & ErrorJson>('POST', '/api/v1/uploads', { name: 'b.bin', size: data.length, sha256: sha256Hex(data) });
    assert.equal(again.status, 507, JSON.stringify(again.body));
    assert.equal(again.body.error.code, 'quota_exceeded');
    const small = randomBytes(40_000);
    const fits = await native.create({ name: 'c.bin', size: small.length });
    assert.equal(fits.status, 201);
  });

  it('flow.js: the first chunk of a file that does not fit answers 507', async () => {
    const heidi = await userHolding(server, 'flow-heidi', 90_000);
    const form = new FormData();
    const params = {
      flowChunkNumber: '1', flowChunkSize: '20000', flowCurrentChunkSize: '20000', flowTotalSize: '20000',
      flowIdentifier: 'quota-file', flowFilename: 'f.bin', flowRelativePath: 'f.bin', flowTotalChunks: '1',
    };
    for (const [key, value] of Object.entries(params)) form.append(key, value);
    form.append('file', new Blob([randomBytes(20_000) as unknown as Uint8Array<ArrayBuffer>]), 'blob');
    const response = await fetch(`${server.url}/api/v1/flow`, { method: 'POST', headers: heidi.auth, body: form });
    assert.equal(response.status, 507);
    assert.equal(((await response.json()) as ErrorJson).error.code, 'quota_exceeded');
  });

  it('filestore: a form upload past the quota answers 507 in the course\'s format and keeps nothing', async () => {
    const ivan = await userHolding(server, 'filestore-ivan', 90_000);
    const form = new FormData();
    form.append('file', new Blob([randomBytes(20_000) as unknown as Uint8Array<ArrayBuffer>]), 'big.bin');
    const token = ivan.auth.Authorization.slice('Bearer '.length);
    const query = new URLSearchParams({ username: ivan.username, token });
    const response = await fetch(`${server.url}/file/upload?${query}`, { method: 'POST', body: form });
    assert.equal(response.status, 507);
    const body = (await response.json()) as { code: number; error: { code: string } };
    assert.equal(body.code, -1);
    assert.equal(body.error.code, 'quota_exceeded');
    assert.equal((await fileIds(server, ivan)).length, 1, 'only the file held before');
    // The upload it started is gone: the whole remaining room is free again.
    await tusCreate(server, { ...ivan.auth, 'Upload-Length': 10_000 });
  });

  it('fupload: a task for a file that does not fit answers 507 with the original\'s answer shape', async () => {
    const data = randomBytes(QUOTA + 1);
    const response = await fetch(`${server.url}/api/upload/new/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: FUPLOAD_TOKEN, userId: '7', storePath: '/', fileName: 'big.bin', fileSize: String(data.length),
        fileMd5: createHash('md5').update(data).digest('hex'),
      }),
    });
    assert.equal(response.status, 507);
    const body = (await response.json()) as { retCode: string; status: string; data: string };
    assert.notEqual(body.retCode, '0');
    assert.match(body.data, /storage quota/);
  });

  it('`ferry quota` shows a user\'s use, gives them a quota of their own, and takes it back', async () => {
    const mia = await userHolding(server, 'cli-mia', 30_000);
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [MAIN, 'quota', ...args], {
      env: { PATH: process.env.PATH, FERRY_DATA_DIR: server.dataDir, FERRY_QUOTA_BYTES: String(QUOTA) },
    });
    const shown = JSON.parse((await run('cli-mia', '--json')).stdout) as unknown;
    assert.deepEqual(shown, { username: 'cli-mia', usedBytes: 30_000, quotaBytes: QUOTA, ownQuota: false, unfinishedUploads: 0 });
    const big = { ...TUS, ...mia.auth, 'Upload-Length': 150_000 };
    assert.equal((await send(server.endpoint, { method: 'POST', headers: big })).status, 507);

    assert.equal((await run('cli-mia', '200000')).stdout, 'cli-mia: 30000 bytes used, a quota of 200000 bytes (their own); 0 unfinished uploads\n');
    await tusCreate(server, big);
    assert.equal((await send(server.endpoint, { method: 'POST', headers: { ...big, 'Upload-Length': 20_001 } })).status, 507);
    // Another user keeps the configured quota.
    const nick = await userHolding(server, 'cli-nick', 0);
    assert.equal((await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...nick.auth, 'Upload-Length': QUOTA + 1 } })).status, 507);

    const back = JSON.parse((await run('cli-mia', 'default', '--json')).stdout) as { quotaBytes: number; ownQuota: boolean; usedBytes: number };
    assert.deepEqual(back, { username: 'cli-mia', usedBytes: 180_000, quotaBytes: QUOTA, ownQuota: false, unfinishedUploads: 1 });
    assert.equal((await send(server.endpoint, { method: 'POST', headers: { ...big, 'Upload-Length': 1 } })).status, 507);

    await assert.rejects(run('nobody'), (err: { code: number; stderr: string }) => err.code === 1 && err.stderr === 'ferry: no user is named nobody\n');
    await assert.rejects(run('cli-mia', 'lots'), (err: { code: number }) => err.code === 2);
    await assert.rejects(run(), (err: { code: number }) => err.code === 2);
  });

  it('several creations at once never reserve more than the quota between them', async () => {
    const judy = await userHolding(server, 'race-judy', 0);
    const answers = await Promise.all(Array.from({ length: 8 }, () =>
      send(server.endpoint, { method: 'POST', headers: { ...TUS, ...judy.auth, 'Upload-Length': 30_000 } })));
    assert.deepEqual(answers.map((res) => res.status).sort(), [201, 201, 201, 507, 507, 507, 507, 507]);
  });
});

describe('storage quota on two nodes sharing PostgreSQL', () => {
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  const schema = `ferry_quota_${randomBytes(6).toString('hex')}`;
  let nodes: TestServer[] = [];
  before(async () => {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    for (let i = 0; i < 2; i++) nodes.push(await startTestServer({ auth: 'required', quotaBytes: QUOTA, maxOpenUploads: 5, databaseUrl: url.toString() }));
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    nodes = [];
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  it('creations racing on both nodes never reserve past the quota or the upload limit', async () => {
    const user = await createUser(nodes[0]!, 'two-nodes');
    const create = (i: number, size: number) =>
      send(nodes[i % 2]!.endpoint, { method: 'POST', headers: { ...TUS, ...user.auth, 'Upload-Length': size } });
    const bySize = await Promise.all(Array.from({ length: 10 }, (_, i) => create(i, 30_000)));
    assert.deepEqual(bySize.map((res) => res.status).sort(), [201, 201, 201, 507, 507, 507, 507, 507, 507, 507]);
    const byCount = await Promise.all(Array.from({ length: 6 }, (_, i) => create(i, 1)));
    assert.deepEqual(byCount.map((res) => res.status).sort(), [201, 201, 429, 429, 429, 429]);
  });
});

describe('unfinished uploads per user', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ auth: 'required', maxOpenUploads: 2 });
  });
  after(() => server.stop());

  it('refuses a third open upload with 429 until one completes or is cancelled', async () => {
    const kim = await createUser(server, 'kim');
    const first = await tusCreate(server, { ...kim.auth, 'Upload-Length': 10 });
    const second = await tusCreate(server, { ...kim.auth, 'Upload-Length': 10, 'Upload-Metadata': metadataHeader({ filename: 'b' }) });
    const third = await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...kim.auth, 'Upload-Length': 10 } });
    assert.equal(third.status, 429, third.text());
    assert.equal((third.json() as ErrorJson).error.code, 'too_many_uploads');
    const native = await new NativeClient(server.url, kim.auth).json<ErrorJson>('POST', '/api/v1/uploads', { name: 'n', size: 10 });
    assert.equal(native.status, 429);

    // Another user has a count of their own.
    const lee = await createUser(server, 'lee');
    await tusCreate(server, { ...lee.auth, 'Upload-Length': 10 });

    assert.equal((await tusPatch(first.location, 0, randomBytes(10), kim.auth)).status, 204);
    await tusCreate(server, { ...kim.auth, 'Upload-Length': 10 });
    assert.equal((await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...kim.auth, 'Upload-Length': 10 } })).status, 429);
    assert.equal((await send(second.location, { method: 'DELETE', headers: { ...TUS, ...kim.auth } })).status, 204);
    await tusCreate(server, { ...kim.auth, 'Upload-Length': 10 });
  });
  it('holds a user to a quota of their own where none is configured', async () => {
    const olga = await createUser(server, 'olga');
    assert.ok(await server.meta.accounts.setQuota(olga.id, 50));
    const refused = await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...olga.auth, 'Upload-Length': 51 } });
    assert.equal(refused.status, 507, refused.text());
    assert.match((refused.json() as ErrorJson).error.message, /of the 50-byte storage quota/);
    await tusCreate(server, { ...olga.auth, 'Upload-Length': 50 });
  });
});

function chunksOf(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) chunks.push(data.subarray(at, at + size));
  return chunks;
}

async function offsetOf(location: string, user: TestUser): Promise<number> {
  const res = await send(location, { method: 'HEAD', headers: { ...TUS, ...user.auth } });
  assert.equal(res.status, 200);
  return Number(res.header('upload-offset'));
}
