/**
 * Ferry with FERRY_STORAGE=s3 on a real Ceph RGW, end to end over HTTP: tus-js-client uploads, a
 * tus upload that resumes on a second node, and termination. Every upload is checked by downloading
 * it and comparing SHA-256; every test ends with no multipart upload left in the bucket.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as tus from 'tus-js-client';
import { downloadSha256, idOfUrl, tusOffset, withTimeout } from '../helpers/e2e.js';
import { send } from '../helpers/http-client.js';
import { tusCreate, tusPatch, TUS } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cephS3, type CephS3 } from './s3-ceph.js';

const MiB = 1024 * 1024;
let s3: CephS3;
before(async () => { s3 = await cephS3(); });
after(async () => { await s3?.dispose(); });

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('Ferry on S3 (Ceph RGW), end to end', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(s3.config()); });
  after(async () => { await server?.stop(); });

  it('takes a tus-js-client upload into multipart parts and serves it back whole', async () => {
    const data = randomBytes(21 * MiB + 12_345);
    let url = '';
    await withTimeout(new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(data, {
        endpoint: server.endpoint,
        metadata: { filename: 'big.bin', filetype: 'application/octet-stream' },
        onSuccess: () => { url = upload.url ?? ''; resolve(); },
        onError: reject,
      });
      upload.start();
    }), 60_000, 'tus-js-client upload');
    const id = idOfUrl(url);
    const stored = await server.meta.uploads.get(id);
    assert.equal(stored?.state, 'completed');
    assert.equal(stored?.sha256, sha256(data));
    const download = await downloadSha256(url);
    assert.equal(download.status, 200);
    assert.equal(download.bytes, data.length);
    assert.equal(download.sha256, sha256(data));
    const ranged = await send(url, { headers: { Range: 'bytes=8388600-8388615' } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(ranged.body, data.subarray(8_388_600, 8_388_616));
    assert.deepEqual((await s3.leftovers(`blobs/${id}`)).uploads, []);
  });

  it('concatenates tus partial uploads into a final one', async () => {
    const pieces = [randomBytes(9 * MiB + 5), randomBytes(3 * MiB)];
    const urls: string[] = [];
    for (const piece of pieces) {
      const created = await tusCreate(server, { 'Upload-Length': piece.length, 'Upload-Concat': 'partial' });
      assert.equal((await tusPatch(created.location, 0, piece)).status, 204);
      urls.push(new URL(created.location).pathname);
    }
    const final = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${urls.join(' ')}` } });
    assert.equal(final.status, 201, final.text());
    const location = new URL(final.header('location')!, server.endpoint).toString();
    assert.equal((await downloadSha256(location)).sha256, sha256(Buffer.concat(pieces)));
  });

  it('terminating an unfinished upload aborts its multipart upload and removes what was staged', async () => {
    const created = await tusCreate(server, { 'Upload-Length': 30 * MiB });
    assert.equal((await tusPatch(created.location, 0, randomBytes(11 * MiB))).status, 204);
    assert.equal((await s3.leftovers(`blobs/${created.id}`)).uploads.length, 1);
    const deleted = await send(created.location, { method: 'DELETE', headers: TUS });
    assert.equal(deleted.status, 204);
    assert.deepEqual(await s3.leftovers(`blobs/${created.id}`), { uploads: [], objects: [] });
    assert.deepEqual(await s3.leftovers(`staging/${created.id}/`), { uploads: [], objects: [] });
  });
});

it('an upload begun on one node is finished on another that shares the metadata and the bucket', async () => {
  const data = randomBytes(26 * MiB + 777);
  const first = await startTestServer(s3.config());
  let second: TestServer | null = null;
  try {
    const created = await tusCreate(first, { 'Upload-Length': data.length });
    assert.equal((await tusPatch(created.location, 0, data.subarray(0, 13 * MiB))).status, 204);
    await first.close();
    // The second node has no running SHA-256 of the upload: it re-reads the stored 13 MiB from S3.
    second = await startTestServer({ ...s3.config(), dataDir: first.dataDir });
    const location = created.location.replace(first.url, second.url);
    assert.equal((await tusOffset(location)).offset, 13 * MiB);
    const done = await tusPatch(location, 13 * MiB, data.subarray(13 * MiB));
    assert.equal(done.status, 204, done.text());
    const stored = await second.meta.uploads.get(created.id);
    assert.equal(stored?.sha256, sha256(data));
    const download = await downloadSha256(location);
    assert.equal(download.sha256, sha256(data));
    assert.deepEqual(await s3.leftovers(`staging/${created.id}/`), { uploads: [], objects: [] });
    assert.deepEqual((await s3.leftovers(`blobs/${created.id}`)).uploads, []);
  } finally {
    await (second ?? first).stop();
  }
});
