/**
 * Redis (the locker) going away while uploads are under way, through a relay this test cuts: every
 * request that needs a lock answers 503 with its protocol's body in a bounded time, /readyz names
 * `locks`, and once Redis is back the upload resumes from the offset the server reports.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MiB } from '../helpers/e2e.js';
import { contentDigest } from '../helpers/native-client.js';
import { tusCreate, tusPatch, tusUpload, TUS } from '../helpers/http-tus.js';
import { Relay } from '../helpers/relay.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertJson503, assertProblem503, assertTus503, once503sEnd, resumeAndVerify, timed, waitUntilDown, waitUntilReady } from './outage.js';

const REDIS_URL = process.env.FERRY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('Redis stopped and restarted during uploads', () => {
  let relay: Relay;
  let server: TestServer;

  before(async () => {
    relay = await Relay.forUrl(REDIS_URL, 6379);
    server = await startTestServer({ redisUrl: relay.urlFor(REDIS_URL) });
  });
  after(async () => {
    await relay?.restore();
    await server?.stop();
    await relay?.close();
  });

  it('answers 503 wherever a lock is needed while it is down, and the upload resumes losing nothing', async () => {
    await waitUntilReady(server.url);
    const data = randomBytes(3 * MiB + 999);
    const created = await tusCreate(server, { 'Upload-Length': data.length });
    const first = await tusPatch(created.location, 0, data.subarray(0, MiB + 1));
    assert.equal(first.status, 204);
    const acknowledged = Number(first.header('upload-offset'));
    const done = await tusUpload(server, randomBytes(1000));
    const native = await timed(`${server.url}/api/v1/uploads`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'n.bin', size: 10 }),
    });
    assert.equal(native.status, 201);
    const nativeId = (native.json() as { id: string }).id;
    assert.ok(relay.connections > 0, 'the locker went through the relay');

    await relay.cut();
    const down = await waitUntilDown(server.url, 'locks');
    assert.deepEqual(down.body.down, ['locks']);

    assertTus503(await timed(created.location, { method: 'HEAD', headers: TUS }), 'tus HEAD');
    assertTus503(await timed(created.location, {
      method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': acknowledged }, body: data.subarray(acknowledged, acknowledged + 1000),
    }), 'tus PATCH');
    assertProblem503(await timed(created.location, { method: 'HEAD', headers: { 'Upload-Draft-Interop-Version': '6' } }), 'IETF HEAD');
    assertJson503(await timed(`${server.url}/api/v1/uploads/${nativeId}/chunks/0`, {
      method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-digest': contentDigest(Buffer.alloc(10)) }, body: Buffer.alloc(10),
    }), 'native chunk');
    // What needs no lock goes on: downloads of completed files.
    assert.equal((await timed(done.location)).status, 200);

    await relay.restore();
    await waitUntilReady(server.url);
    const head = await once503sEnd(() => timed(created.location, { method: 'HEAD', headers: TUS }));
    assert.equal(head.status, 200);
    await resumeAndVerify(created.location, data, acknowledged);
  });
});
