/**
 * RabbitMQ going away while uploads are under way, through a relay this test cuts: uploads carry on
 * (jobs are held in memory), /readyz stays 200 naming `jobs` degraded (a worker-only node's goes
 * 503), and the jobs published meanwhile, a webhook
 * delivery among them, go out once the broker is back.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { AmqpJobQueue } from '../../src/jobs/amqp.js';
import { FERRY_JOB_KINDS } from '../../src/jobs/ferry-jobs.js';
import { MiB, sleep } from '../helpers/e2e.js';
import { tusCreate, tusPatch } from '../helpers/http-tus.js';
import { Relay } from '../helpers/relay.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { AMQP_URL, deleteQueues, uniquePrefix, until } from '../jobs/amqp-helpers.js';
import { resumeAndVerify, waitUntilDegraded, waitUntilDown, waitUntilReady } from './outage.js';

const SECRET = 'resilience-secret';
const PROBE = 'resilience-probe';

interface Delivered { readonly type: string; readonly upload?: { id: string } }

/** Takes only correctly signed webhooks. */
async function receiver(): Promise<{ server: Server; url: string; messages: Delivered[] }> {
  const messages: Delivered[] = [];
  const server = createServer((request, response) => {
    const parts: Buffer[] = [];
    request.on('data', (chunk: Buffer) => parts.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers['ferry-signature'] ?? ''));
      if (!match || createHmac('sha256', SECRET).update(`${match[1]}.${body}`).digest('hex') !== match[2]) {
        response.writeHead(401).end();
        return;
      }
      messages.push(JSON.parse(body) as Delivered);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, messages };
}

describe('RabbitMQ stopped and restarted during uploads', () => {
  const prefix = uniquePrefix();
  let relay: Relay;
  let server: TestServer;
  let hooks: Awaited<ReturnType<typeof receiver>>;

  before(async () => {
    hooks = await receiver();
    relay = await Relay.forUrl(AMQP_URL, 5672);
    server = await startTestServer({
      amqpUrl: relay.urlFor(AMQP_URL), amqpPrefix: prefix, webhookUrls: [hooks.url], webhookSecret: SECRET, webhookProgressSeconds: 0,
    });
  });
  after(async () => {
    await relay?.restore();
    await server?.stop();
    await relay?.close();
    await new Promise((resolve) => hooks?.server.close(resolve));
    await deleteQueues(prefix, [...Object.keys(FERRY_JOB_KINDS), PROBE]);
  });

  const completedOf = (id: string) => hooks.messages.some((m) => m.type === 'upload.completed' && m.upload?.id === id);

  it('keeps taking uploads while it is down, and delivers the jobs held meanwhile once it is back', async () => {
    const jobs = server.jobs;
    assert.ok(jobs instanceof AmqpJobQueue);
    await jobs.whenConnected();
    await waitUntilReady(server.url);
    const probes: unknown[] = [];
    jobs.consume(PROBE, async (job) => { probes.push(job.payload); });

    const data = randomBytes(3 * MiB + 5);
    const created = await tusCreate(server, { 'Upload-Length': data.length });
    const first = await tusPatch(created.location, 0, data.subarray(0, MiB));
    assert.equal(first.status, 204);
    const acknowledged = Number(first.header('upload-offset'));
    await until(() => hooks.messages.some((m) => m.type === 'upload.created' && m.upload?.id === created.id), 'the creation webhook, through the broker');

    await relay.cut();
    const degraded = await waitUntilDegraded(server.url, 'jobs');
    assert.deepEqual(degraded.body.degraded, ['jobs']);
    assert.equal(jobs.connected, false);

    // Uploads need no broker: this one completes while it is away.
    await resumeAndVerify(created.location, data, acknowledged);
    await jobs.publish({ kind: PROBE, payload: { n: 1 } });
    await jobs.publish({ kind: PROBE, payload: { n: 2 } });
    await sleep(1_500);
    assert.equal(completedOf(created.id), false, 'nothing delivers webhooks while the broker is away');
    assert.deepEqual(probes, []);

    await relay.restore();
    await waitUntilReady(server.url);
    await until(() => completedOf(created.id), 'the completion webhook, held while the broker was away', 20_000);
    await until(() => probes.length >= 2, 'the jobs published while the broker was away', 20_000);
    assert.deepEqual(probes, [{ n: 1 }, { n: 2 }], 'delivered once each, in order');
  });
});

describe('Readiness of each role while the broker cannot be reached', () => {
  // Nothing listens on port 1 here: every connection attempt is refused at once.
  const unreachable = 'amqp://guest:guest@127.0.0.1:1';

  for (const role of ['api', 'all'] as const) {
    it(`keeps an ${role} node in rotation, naming jobs degraded`, async () => {
      const node = await startTestServer({ role, amqpUrl: unreachable, amqpPrefix: uniquePrefix() });
      try {
        await waitUntilDegraded(node.url, 'jobs');
      } finally {
        await node.stop();
      }
    });
  }

  it('takes a worker node out of rotation: its jobs are its work', async () => {
    const node = await startTestServer({ role: 'worker', amqpUrl: unreachable, amqpPrefix: uniquePrefix() });
    try {
      const down = await waitUntilDown(node.url, 'jobs');
      assert.deepEqual(down.body.down, ['jobs']);
    } finally {
      await node.stop();
    }
  });
});
