/**
 * The object store (a real Ceph RGW) going away while uploads are under way, through a relay this
 * test cuts: requests that touch bytes answer 503 with their protocol's body in a bounded time,
 * /readyz names `storage`, and once radosgw is back a tus and a native upload resume and finish.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { downloadSha256, MiB } from '../helpers/e2e.js';
import { tusCreate, tusPatch, tusUpload, TUS } from '../helpers/http-tus.js';
import { contentDigest, NativeClient } from '../helpers/native-client.js';
import { Relay } from '../helpers/relay.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cephS3, type CephS3 } from '../storage/s3-ceph.js';
import { assertJson503, assertTus503, once503sEnd, resumeAndVerify, sha256, timed, waitUntilDown, waitUntilReady } from './outage.js';

describe('radosgw (S3) stopped and restarted during uploads', () => {
  let s3: CephS3;
  let relay: Relay;
  let server: TestServer;

  before(async () => {
    s3 = await cephS3();
    relay = await Relay.forUrl(s3.settings.endpoint!, 80);
    server = await startTestServer({ ...s3.config(), s3Endpoint: relay.urlFor(s3.settings.endpoint!).replace(/\/$/, '') });
  });
  after(async () => {
    await relay?.restore();
    await server?.stop();
    await relay?.close();
    await s3?.dispose();
  });

  it('answers 503 where bytes are needed while it is down; tus and native uploads resume losing nothing', async () => {
    await waitUntilReady(server.url);
    const data = randomBytes(12 * MiB + 77);
    const created = await tusCreate(server, { 'Upload-Length': data.length });
    const first = await tusPatch(created.location, 0, data.subarray(0, 6 * MiB + 3));
    assert.equal(first.status, 204, first.text());
    const acknowledged = Number(first.header('upload-offset'));
    assert.equal(acknowledged, 6 * MiB + 3);
    const done = await tusUpload(server, randomBytes(1000));

    const native = new NativeClient(server.url);
    const nativeData = randomBytes(11 * MiB);
    const upload = (await native.create({ name: 'native.bin', size: nativeData.length, chunkSize: 5 * MiB, sha256: sha256(nativeData) })).body;
    assert.equal(upload.chunkCount, 3);
    const chunk = (index: number) => nativeData.subarray(index * upload.chunkSize, (index + 1) * upload.chunkSize);
    assert.equal((await native.putChunk(upload.id, 1, chunk(1))).status, 200);

    await relay.cut();
    const down = await waitUntilDown(server.url, 'storage');
    assert.deepEqual(down.body.down, ['storage']);

    assertTus503(await timed(created.location, {
      method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': acknowledged }, body: data.subarray(acknowledged, acknowledged + MiB),
    }), 'tus PATCH');
    assertJson503(await timed(`${server.url}/api/v1/uploads/${upload.id}/chunks/0`, {
      method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-digest': contentDigest(chunk(0)) }, body: chunk(0),
    }), 'native chunk');
    assertJson503(await timed(done.location), 'download');
    // A HEAD answers from the records or says 503; never a 500, never a lie about the offset.
    const head = await timed(created.location, { method: 'HEAD', headers: TUS });
    assert.ok(head.status === 200 || head.status === 503, `tus HEAD: ${head.status}`);
    if (head.status === 200) assert.ok(Number(head.header('upload-offset')) >= acknowledged);
    else assertTus503(head, 'tus HEAD');

    await relay.restore();
    await waitUntilReady(server.url);
    const again = await once503sEnd(() => timed(created.location, { method: 'HEAD', headers: TUS }));
    assert.equal(again.status, 200);
    await resumeAndVerify(created.location, data, acknowledged);

    const state = await native.json('GET', `/api/v1/uploads/${upload.id}`);
    assert.equal(state.status, 200);
    assert.deepEqual(state.body.missing, [0, 2], 'the chunk stored before the outage is still there');
    for (const index of state.body.missing) assert.equal((await native.putChunk(upload.id, index, chunk(index))).status, 200);
    const completed = await native.complete(upload.id);
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    const fileId = (completed.body as unknown as { file: { id: string } }).file.id;
    const download = await downloadSha256(`${server.url}/api/v1/files/${fileId}/content`);
    assert.equal(download.sha256, sha256(nativeData));
  });
});
