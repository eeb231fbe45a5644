/**
 * PostgreSQL going away while uploads are under way, through a relay this test cuts (the real
 * server keeps running for everyone else): requests answer 503 in every protocol's format, /readyz
 * names `meta`, and once it is back the uploads resume from the offset the server reports.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { MiB } from '../helpers/e2e.js';
import { send } from '../helpers/http-client.js';
import { tusCreate, tusPatch, tusUpload, TUS } from '../helpers/http-tus.js';
import { Relay } from '../helpers/relay.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  assertJson503, assertProblem503, assertTus503, once503sEnd, resumeAndVerify, timed, tusOffsetOf, waitUntilDown, waitUntilReady,
} from './outage.js';

const DATABASE_URL = process.env.FERRY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('PostgreSQL stopped and restarted during uploads', () => {
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  const schema = `ferry_outage_${randomBytes(6).toString('hex')}`;
  let relay: Relay;
  let server: TestServer;

  before(async () => {
    await admin.query(`CREATE SCHEMA ${schema}`);
    relay = await Relay.forUrl(DATABASE_URL, 5432);
    const url = new URL(relay.urlFor(DATABASE_URL));
    url.searchParams.set('options', `-c search_path=${schema}`);
    server = await startTestServer({ databaseUrl: url.toString(), checkpointBytes: 256 * 1024 });
  });
  after(async () => {
    await relay?.restore();
    await server?.stop();
    await relay?.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  it('answers 503 on every protocol while it is down, and the upload resumes losing nothing', async () => {
    await waitUntilReady(server.url);
    const data = randomBytes(3 * MiB + 12_345);
    const created = await tusCreate(server, { 'Upload-Length': data.length });
    const first = await tusPatch(created.location, 0, data.subarray(0, MiB + 7));
    assert.equal(first.status, 204);
    const acknowledged = Number(first.header('upload-offset'));
    assert.equal(acknowledged, MiB + 7);
    const done = await tusUpload(server, randomBytes(1000));

    await relay.cut();
    const down = await waitUntilDown(server.url, 'meta');
    assert.deepEqual(down.body.down, ['meta']);
    assert.equal((await timed(`${server.url}/healthz`)).status, 200, 'the process itself is fine');

    assertTus503(await timed(created.location, { method: 'HEAD', headers: TUS }), 'tus HEAD');
    assertTus503(await timed(created.location, {
      method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': acknowledged }, body: data.subarray(acknowledged, acknowledged + 1000),
    }), 'tus PATCH');
    assertTus503(await timed(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': 10 } }), 'tus POST');
    assertProblem503(await timed(created.location, { method: 'HEAD', headers: { 'Upload-Draft-Interop-Version': '6' } }), 'IETF HEAD');
    assertJson503(await timed(`${server.url}/api/v1/uploads`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'n.bin', size: 10 }),
    }), 'native create');
    assertJson503(await timed(`${server.url}/api/v1/files`), 'file list');
    assertJson503(await timed(done.location), 'download');

    await relay.restore();
    await waitUntilReady(server.url);
    await resumeAndVerify(created.location, data, acknowledged);
  });

  it('a PATCH streaming when the database goes away ends in 503, not 500, and keeps what was acknowledged', async () => {
    await waitUntilReady(server.url);
    const data = randomBytes(4 * MiB);
    const created = await tusCreate(server, { 'Upload-Length': data.length });
    const first = await tusPatch(created.location, 0, data.subarray(0, 512 * 1024));
    assert.equal(first.status, 204);
    const acknowledged = Number(first.header('upload-offset'));
    const pieces = [];
    for (let at = acknowledged; at < data.length; at += 256 * 1024) pieces.push(data.subarray(at, at + 256 * 1024));
    const streaming = await send(created.location, {
      method: 'PATCH',
      headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': acknowledged, 'Content-Length': data.length - acknowledged },
      body: { chunks: pieces, delayMs: 20, onChunk: async (index) => { if (index === 3) await relay.cut(); } },
      timeoutMs: 20_000,
    });
    assert.equal(streaming.status, 503, `${streaming.status} ${streaming.text()}`);
    assert.equal(streaming.header('tus-resumable'), '1.0.0');

    await relay.restore();
    await waitUntilReady(server.url);
    // The lock of the cut request may still be let go of: the HEAD waits for it, then tells the truth.
    const offset = await once503sEnd(() => timed(created.location, { method: 'HEAD', headers: TUS }));
    assert.equal(offset.status, 200);
    await resumeAndVerify(created.location, data, Math.max(acknowledged, 0));
    assert.ok(await tusOffsetOf(created.location) === data.length);
  });
});
