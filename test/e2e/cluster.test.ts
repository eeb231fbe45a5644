/**
 * Ferry as a cluster: three api nodes and one worker node, separate processes on different ports,
 * sharing PostgreSQL (a fresh schema), Redis (locks), RabbitMQ (a queue prefix of this run) and a
 * Ceph RGW bucket of this run. One tus upload's PATCHes go to the nodes in turn and a node is
 * SIGKILLed while a PATCH to it streams; tus-js-client rotates between the nodes request by
 * request; a native upload's chunks go to all three nodes in parallel. Every upload's SHA-256 is
 * checked by downloading from a node other than the one that finished it; at the end the bucket
 * holds no multipart upload, and the worker's expiry sweep aborts an abandoned upload's one.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as tus from 'tus-js-client';
import { S3BlobStore } from '../../src/storage/s3/store.js';
import { Cluster } from '../helpers/cluster.js';
import { downloadSha256, idOfUrl, MiB, simpleRequest, sleep, tusOffset, withTimeout, type SimpleResponse } from '../helpers/e2e.js';
import { metadataHeader } from '../helpers/http-tus.js';
import { chunkOf, contentDigest, NativeClient } from '../helpers/native-client.js';
import type { ProcessServer } from '../helpers/process-server.js';

const TUS = { 'Tus-Resumable': '1.0.0' };
/**
 * A SIGKILLed node's Redis lock is noticed when its TTL (30 s, RedisLocker's default; not a
 * setting) runs out, so the first request after the kill may wait that long for the lock.
 */
const LOCK_WAIT_MS = 45_000;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const errorCode = (body: unknown) => {
  const parsed = body as { error?: { code?: string }; code?: string } | null;
  return parsed?.error?.code ?? parsed?.code;
};

async function tusCreate(node: ProcessServer, size: number, name: string): Promise<string> {
  const created = await simpleRequest(node.endpoint, {
    method: 'POST',
    headers: { ...TUS, 'Upload-Length': String(size), 'Upload-Metadata': metadataHeader({ filename: name }) },
  });
  assert.equal(created.status, 201, `POST ${node.endpoint}: ${created.body.toString()}`);
  return idOfUrl(new URL(String(created.headers.location), node.url).toString());
}

function tusPatch(node: ProcessServer, id: string, offset: number, bytes: Buffer, timeoutMs = 15_000): Promise<SimpleResponse> {
  return simpleRequest(`${node.endpoint}${id}`, {
    method: 'PATCH',
    headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
    body: bytes,
    timeoutMs,
  });
}

/**
 * A PATCH that sends `sent` bytes of a longer body and then stalls, so the node can be killed
 * while the request streams. Resolves once the bytes are written and the server had time to take
 * them; `ended` settles when the request fails (as it must, once the node is gone).
 */
async function stalledPatch(node: ProcessServer, id: string, offset: number, declared: number, sent: Buffer): Promise<{ ended: Promise<string> }> {
  const req = httpRequest(`${node.endpoint}${id}`, {
    method: 'PATCH',
    agent: false,
    headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream', 'Content-Length': String(declared) },
  });
  const ended = new Promise<string>((resolve) => {
    req.on('response', (res) => { res.resume(); resolve(`answered ${res.statusCode}`); });
    req.on('error', (err) => resolve(`failed: ${err.message}`));
  });
  await new Promise<void>((resolve, reject) => req.write(sent, (err) => (err ? reject(err) : resolve())));
  await sleep(700);
  return { ended };
}

describe('a cluster of three api nodes and a worker on PostgreSQL, Redis, RabbitMQ and Ceph', { timeout: 150_000 }, () => {
  let cluster: Cluster;
  let api: ProcessServer[];
  /** An api node whose uploads expire two seconds after their last append. */
  let shortLived: ProcessServer;
  let worker: ProcessServer;
  /** Every upload this run made, by id; its multipart upload is `blobs/<id>`. */
  const uploads = new Set<string>();

  before(async () => {
    const started = Date.now();
    cluster = await Cluster.create();
    const common = { FERRY_LOCK_TIMEOUT_MS: String(LOCK_WAIT_MS), FERRY_EXPIRY_SWEEP_SECONDS: '1' };
    api = await Promise.all([0, 1, 2].map(() => cluster.start('api', common)));
    [shortLived, worker] = await Promise.all([
      cluster.start('api', { ...common, FERRY_UPLOAD_EXPIRY_SECONDS: '2' }),
      cluster.start('worker', common),
    ]);
    assert.equal(new Set([...api, shortLived, worker].map((node) => node.port)).size, 5, 'every node has a port of its own');
    console.log(`cluster up in ${Date.now() - started} ms: api ${api.map((node) => node.port).join(', ')}, worker ${worker.port}`);
  });

  after(async () => {
    await cluster?.dispose();
  });

  it('a worker node serves no uploads', async () => {
    const answer = await simpleRequest(worker.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1' } });
    assert.equal(answer.status, 404);
  });

  it('(c) a native upload takes its chunks on all three nodes in parallel', async () => {
    const chunkSize = 5 * MiB;
    const data = randomBytes(3 * chunkSize + 54_321);
    const clients = api.map((node) => new NativeClient(node.url));
    const created = await clients[0]!.create({ name: 'native.bin', size: data.length, sha256: sha256(data), chunkSize });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const upload = created.body;
    uploads.add(upload.id);
    assert.equal(upload.chunkCount, 4);

    // The S3 store takes numbered chunks only once it declares chunk writes (or positional writes).
    const store = S3BlobStore.prototype as unknown as Record<string, unknown>;
    if (!['openChunkWriter', 'openWriterAt'].some((method) => typeof store[method] === 'function')) {
      const refused = await clients[1]!.putChunk(upload.id, 1, chunkOf(data, chunkSize, 1));
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(errorCode(refused.body), 'invalid_request');
      const cancelled = await clients[2]!.json('DELETE', `/api/v1/uploads/${upload.id}`);
      assert.ok(cancelled.status === 200 || cancelled.status === 204, `DELETE: ${cancelled.status} ${JSON.stringify(cancelled.body)}`);
      console.log('(c) the S3 store does not take chunks out of order yet: 400 invalid_request asserted, upload cancelled');
      return;
    }

    // Chunk i goes to node i % 3, all at once.
    const answers = await Promise.all(upload.missing.map((index) => clients[index % 3]!.putChunk(upload.id, index, chunkOf(data, chunkSize, index), {
      'content-digest': contentDigest(chunkOf(data, chunkSize, index)),
    })));
    for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const state = await clients[2]!.json('GET', `/api/v1/uploads/${upload.id}`);
    assert.deepEqual(state.body.missing, []);
    const completed = await clients[1]!.complete(upload.id);
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    assert.equal(completed.body.file?.sha256, sha256(data));
    const download = await downloadSha256(`${api[2]!.url}/api/v1/files/${completed.body.file!.id}/content`);
    assert.equal(download.status, 200);
    assert.equal(download.sha256, sha256(data));
  });

  it('(b) tus-js-client finishes an upload whose every request goes to the next node', async () => {
    const data = randomBytes(5 * MiB + 12_345);
    let turn = 0;
    const ports: number[] = [];
    const inner = new tus.DefaultHttpStack({});
    const rotating: tus.HttpStack = {
      getName: () => 'rotating',
      createRequest: (method, url) => {
        const target = new URL(url);
        const node = api[turn++ % api.length]!;
        target.port = String(node.port);
        ports.push(node.port);
        return inner.createRequest(method, target.toString());
      },
    };
    let uploadUrl: string | null = null;
    await withTimeout(new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(data, {
        endpoint: api[0]!.endpoint,
        chunkSize: MiB,
        retryDelays: [],
        metadata: { filename: 'tus-js-client.bin' },
        httpStack: rotating,
        onSuccess: () => { uploadUrl = upload.url; resolve(); },
        onError: reject,
      });
      upload.start();
    }), 30_000, 'tus-js-client upload through three nodes');
    const id = idOfUrl(uploadUrl!);
    uploads.add(id);
    assert.deepEqual(new Set(ports), new Set(api.map((node) => node.port)), 'every node took requests');
    assert.ok(ports.length >= 7, `POST and six PATCHes, got ${ports.length} requests`);
    const download = await downloadSha256(`${api[turn % 3]!.endpoint}${id}`);
    assert.equal(download.status, 200);
    assert.equal(download.sha256, sha256(data));
  });

  it('(a) a tus upload round-robin over the nodes survives SIGKILL of one mid-PATCH', async () => {
    const chunk = MiB;
    const data = randomBytes(8 * chunk + 4_321);
    const id = await tusCreate(api[0]!, data.length, 'round-robin.bin');
    uploads.add(id);
    const killAt = 4;
    const victim = api[killAt % 3]!;

    let offset = 0;
    for (let index = 0; index < killAt; index += 1) {
      const node = api[index % 3]!;
      const answer = await tusPatch(node, id, offset, data.subarray(offset, offset + chunk));
      assert.equal(answer.status, 204, `PATCH ${index} to ${node.url}: ${answer.status} ${answer.body.toString()}`);
      offset += chunk;
      assert.equal(Number(answer.headers['upload-offset']), offset);
    }

    // Half of the fifth chunk reaches the victim; it is killed while the PATCH still streams.
    const half = chunk / 2;
    const { ended } = await stalledPatch(victim, id, offset, chunk, data.subarray(offset, offset + half));
    const killed = await victim.kill('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    assert.match(await withTimeout(ended, 5_000, 'the killed PATCH to fail'), /^failed/);

    // Another node answers the offset the storage holds: what came before, at most what was sent.
    const survivors = api.filter((node) => node !== victim);
    const waited = Date.now();
    const head = await simpleRequest(`${survivors[0]!.endpoint}${id}`, { method: 'HEAD', headers: TUS, timeoutMs: LOCK_WAIT_MS + 5_000 });
    assert.equal(head.status, 200, `HEAD on ${survivors[0]!.url} after the kill: ${head.status}`);
    const resumed = Number(head.headers['upload-offset']);
    console.log(`(a) HEAD after the kill answered ${resumed} (killed at ${offset} + ${half} sent) after ${Date.now() - waited} ms`);
    assert.ok(resumed >= offset && resumed <= offset + half, `offset ${resumed} within [${offset}, ${offset + half}]`);

    offset = resumed;
    for (let turn = 0; offset < data.length; turn += 1) {
      const node = survivors[(turn + 1) % survivors.length]!;
      const bytes = data.subarray(offset, offset + chunk);
      const answer = await tusPatch(node, id, offset, bytes, LOCK_WAIT_MS + 5_000);
      assert.equal(answer.status, 204, `PATCH at ${offset} to ${node.url}: ${answer.status} ${answer.body.toString()}`);
      offset += bytes.length;
      assert.equal(Number(answer.headers['upload-offset']), offset);
    }
    const other = await tusOffset(`${survivors[1]!.endpoint}${id}`);
    assert.equal(other.offset, data.length);

    // Downloaded from the third node (restarted on its port), the bytes are the source's.
    await victim.restart();
    const download = await downloadSha256(`${victim.endpoint}${id}`);
    assert.equal(download.status, 200);
    assert.equal(download.bytes, data.length);
    assert.equal(download.sha256, sha256(data));
  });

  it('(d) the bucket holds no multipart upload of this run, and the worker aborts an expired one', async () => {
    const left = await cluster.multipartUploads();
    assert.deepEqual(left, [], `multipart uploads left in ${cluster.s3.settings.bucket} after uploads ${[...uploads].join(', ')}`);

    // An upload left unfinished on the node whose uploads expire after two seconds.
    const id = await tusCreate(shortLived, 10 * MiB, 'abandoned.bin');
    uploads.add(id);
    const patched = await tusPatch(shortLived, id, 0, randomBytes(256 * 1024));
    assert.equal(patched.status, 204);
    const open = await cluster.multipartUploads(`blobs/${id}`);
    assert.equal(open.length, 1, 'the abandoned upload has its multipart upload');

    const deadline = Date.now() + 20_000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      await sleep(250);
      gone = (await cluster.multipartUploads(`blobs/${id}`)).length === 0;
    }
    assert.ok(gone, `the worker's sweep aborted the multipart upload of ${id}\n${cluster.logs()}`);
    const head = await simpleRequest(`${api[1]!.endpoint}${id}`, { method: 'HEAD', headers: TUS });
    assert.ok(head.status === 404 || head.status === 410, `HEAD of the expired upload: ${head.status}`);
    assert.deepEqual(await cluster.multipartUploads(), []);
    // Nor any staged tail or manifest: every upload of this run is complete, cancelled or expired.
    const { objects } = await cluster.s3.leftovers('staging/');
    assert.deepEqual(objects, [], 'no staging objects left');
  });
});
