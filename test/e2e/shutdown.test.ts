/**
 * Graceful shutdown of an api node in a cluster on PostgreSQL, Redis, RabbitMQ and Ceph: on SIGTERM
 * the node stops taking connections, a PATCH in flight finishes (its answer closes the connection)
 * and the process exits 0; a PATCH that never ends is cut at FERRY_SHUTDOWN_GRACE_SECONDS with the
 * bytes it brought durable, its offset recorded and its lock released, and the client finishes on
 * another node.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Cluster } from '../helpers/cluster.js';
import { downloadSha256, MiB, refusesConnections, sha256Hex, until } from '../helpers/e2e.js';
import { metricValue, tusCreate, tusOffset, tusPatch } from '../helpers/http-tus.js';
import type { ProcessServer } from '../helpers/process-server.js';

const KiB = 1024;
type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** Resolves once `node` is streaming a request body into an upload. */
function streaming(node: ProcessServer): Promise<void> {
  return until(async () => (await metricValue(node, 'ferry_uploads_active')) > 0, `a request streaming into ${node.url}`);
}

describe('SIGTERM on an api node', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  let survivor: ProcessServer;
  /** Waits as long as its requests take. */
  let patient: ProcessServer;
  /** Cuts what still streams two seconds after SIGTERM. */
  let hasty: ProcessServer;

  before(async () => {
    cluster = await Cluster.create();
    [survivor, patient, hasty] = await Promise.all([
      // Waits at most 1 s for a lock: a lock left behind by a stopped node (held in Redis until its
      // 6 s TTL runs out) makes its requests fail instead of wait.
      cluster.start('api', { FERRY_LOCK_TIMEOUT_MS: '1000' }),
      cluster.start('api', { FERRY_SHUTDOWN_GRACE_SECONDS: '600' }),
      cluster.start('api', { FERRY_SHUTDOWN_GRACE_SECONDS: '2' }),
    ]);
  });

  after(async () => {
    await cluster?.dispose();
  });

  it('lets a PATCH in flight finish, closes its connection and exits 0', async () => {
    const data = randomBytes(4 * MiB + 777);
    const { id, location } = await tusCreate(patient, { 'Upload-Length': data.length });
    let exited: Promise<Exit> | undefined;
    // The first MiB goes out, SIGTERM lands while the PATCH streams, the rest follows once the node
    // has stopped listening.
    const answer = await tusPatch(location, 0, {
      chunks: [data.subarray(0, MiB), data.subarray(MiB)],
      onChunk: async (index) => {
        if (index !== 0) return;
        await streaming(patient);
        exited = patient.kill('SIGTERM', 60_000);
        await until(() => refusesConnections(patient.url), 'the node to stop accepting connections');
      },
    }, { 'Content-Length': data.length });
    assert.equal(answer.status, 204, answer.text());
    assert.equal(answer.header('upload-offset'), String(data.length));
    assert.equal(answer.header('connection'), 'close', 'the last request on its connection');
    assert.deepEqual(await exited, { code: 0, signal: null }, cluster.logs());

    const download = await downloadSha256(`${survivor.endpoint}${id}`);
    assert.equal(download.status, 200);
    assert.equal(download.sha256, sha256Hex(data));
  });

  it('cuts an endless PATCH at the deadline, keeping its bytes and offset; the client goes on elsewhere', async () => {
    const data = randomBytes(8 * MiB + 4_321);
    const { id, location } = await tusCreate(hasty, { 'Upload-Length': data.length });
    const head = 3 * MiB;
    // Then a KiB every 50 ms: a client that keeps the request alive but would take minutes to end it.
    const trickle = Array.from({ length: Math.ceil((data.length - head) / KiB) }, (_, index) => data.subarray(head + index * KiB, head + (index + 1) * KiB));
    let sent = 0;
    let exited: Promise<Exit> | undefined;
    const cut = await tusPatch(location, 0, {
      chunks: [data.subarray(0, head), ...trickle],
      delayMs: 50,
      onChunk: async (index) => {
        sent = Math.min(data.length, head + index * KiB);
        if (index !== 0) return;
        await streaming(hasty);
        exited = hasty.kill('SIGTERM', 30_000);
      },
    }, { 'Content-Length': data.length }).then((answer) => `answered ${answer.status}`, (err: Error) => `failed: ${err.message}`);
    assert.match(cut, /^failed/, 'a cut request ends like a dropped connection');
    assert.deepEqual(await exited, { code: 0, signal: null }, cluster.logs());

    // Another node answers at once with the offset the cut request recorded: the lock was released.
    const offset = await tusOffset(`${survivor.endpoint}${id}`);
    console.log(`offset after the cut: ${offset} of ${sent} bytes sent`);
    assert.ok(offset > 0 && offset <= sent, `offset ${offset} within (0, ${sent}]\n${cluster.logs()}`);
    const rest = await tusPatch(`${survivor.endpoint}${id}`, offset, data.subarray(offset));
    assert.equal(rest.status, 204, rest.text());
    assert.equal(rest.header('upload-offset'), String(data.length));
    // The whole file matches only if every byte the cut request kept is the client's, in place.
    const download = await downloadSha256(`${survivor.endpoint}${id}`);
    assert.equal(download.status, 200);
    assert.equal(download.sha256, sha256Hex(data));
  });
});
