/**
 * Ferry split into roles over RabbitMQ: an api node that only publishes, a worker node that runs
 * the jobs, one SQLite data dir between them. Webhooks still arrive, also after both lose their
 * broker connection; and `ferry serve --role worker` serves health and metrics only.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../../src/config.js';
import { AmqpJobQueue } from '../../src/jobs/amqp.js';
import { FERRY_JOBS } from '../../src/jobs/ferry-jobs.js';
import { tusUpload } from '../helpers/http-tus.js';
import { freePort } from '../helpers/process-server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { AMQP_URL, cutConnection, deleteQueues, sleep, uniquePrefix, until } from './amqp-helpers.js';

const SECRET = 'roles-receiver-secret';
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Takes signed webhooks; counts the ones whose signature does not check out. */
class Receiver {
  readonly events: { type: string; uploadId?: string }[] = [];
  refused = 0;
  private server!: Server;

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers['ferry-signature'] ?? ''));
        if (!match || createHmac('sha256', SECRET).update(`${match[1]}.${body}`).digest('hex') !== match[2]) {
          this.refused += 1;
          return void response.writeHead(401).end();
        }
        const parsed = JSON.parse(body) as { type: string; upload?: { id: string } };
        this.events.push({ type: parsed.type, uploadId: parsed.upload?.id });
        response.writeHead(204).end();
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}/hook`;
  }

  completed(id: string): boolean {
    return this.events.some((event) => event.type === 'upload.completed' && event.uploadId === id);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const kinds = Object.values(FERRY_JOBS);

describe('api and worker nodes over RabbitMQ', () => {
  let receiver: Receiver;
  let dataDir: string;
  let prefix: string;
  let api: TestServer;
  let worker: TestServer | null = null;
  const settings = (): Partial<Config> => ({
    dataDir,
    amqpUrl: AMQP_URL,
    amqpPrefix: prefix,
    webhookUrls: [receiver.url],
    webhookSecret: SECRET,
    webhookProgressSeconds: 0,
  });

  before(async () => {
    receiver = await new Receiver().start();
    dataDir = await mkdtemp(join(tmpdir(), 'ferry-roles-'));
    prefix = uniquePrefix();
    api = await startTestServer({ ...settings(), role: 'api' });
    worker = await startTestServer({ ...settings(), role: 'worker' });
    await Promise.all([(api.jobs as AmqpJobQueue).whenConnected(), (worker.jobs as AmqpJobQueue).whenConnected()]);
  });
  after(async () => {
    await worker?.close();
    await api.close();
    await receiver.stop();
    await rm(dataDir, { recursive: true, force: true });
    await deleteQueues(prefix, kinds);
  });

  it('delivers the webhooks of an upload on the api node from the worker node', async () => {
    const { id } = await tusUpload(api, randomBytes(10_000), { filename: 'a.bin' });
    await until(() => receiver.completed(id), 'upload.completed at the receiver');
    const types = receiver.events.filter((event) => event.uploadId === id).map((event) => event.type).filter((type) => type !== 'upload.progress');
    assert.deepEqual(types, ['upload.created', 'upload.completed']);
    assert.equal(receiver.refused, 0);
  });

  it('runs no jobs on the api node: with the worker gone nothing is delivered, until a worker is back', async () => {
    await worker!.close();
    worker = null;
    const { id } = await tusUpload(api, randomBytes(1_000), { filename: 'a.bin' });
    await sleep(1_500);
    assert.equal(receiver.completed(id), false, 'nothing delivered without a worker');
    worker = await startTestServer({ ...settings(), role: 'worker' });
    await until(() => receiver.completed(id), 'the delivery from the new worker');
  });

  it('keeps delivering after both nodes lose their broker connection', async () => {
    const apiQueue = api.jobs as AmqpJobQueue;
    const workerQueue = worker!.jobs as AmqpJobQueue;
    await Promise.all([apiQueue.whenConnected(), workerQueue.whenConnected()]);
    cutConnection(apiQueue);
    cutConnection(workerQueue);
    const { id } = await tusUpload(api, randomBytes(1_000), { filename: 'a.bin' });
    await until(() => receiver.completed(id), 'the delivery after reconnecting', 15_000);
  });

  it('a worker node serves health and metrics, and nothing else', async () => {
    assert.equal((await fetch(`${worker!.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${worker!.url}/readyz`)).status, 200);
    assert.equal((await fetch(`${worker!.url}/metrics`)).status, 200);
    const files = await fetch(`${worker!.url}/files/`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1' } });
    assert.equal(files.status, 404);
    assert.equal((await fetch(`${worker!.url}/api/v1/files`)).status, 404);
  });
});

describe('ferry serve --role', () => {
  it('--role worker answers /healthz and 404 on /files/, and stops on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-worker-'));
    const prefix = uniquePrefix();
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN, 'serve', '--role', 'worker'], {
      env: { PATH: process.env.PATH, FERRY_HOST: '127.0.0.1', FERRY_PORT: String(port), FERRY_DATA_DIR: dataDir, FERRY_LOG_LEVEL: 'warn', FERRY_AUTH: 'none', FERRY_AMQP_URL: AMQP_URL, FERRY_AMQP_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (data: string) => { output += data; });
    child.stderr!.setEncoding('utf8').on('data', (data: string) => { output += data; });
    const exited = once(child, 'exit');
    try {
      const base = `http://127.0.0.1:${port}`;
      await until(async () => (await fetch(`${base}/healthz`).catch(() => null))?.status === 200, `the worker's /healthz (${output})`, 20_000);
      const files = await fetch(`${base}/files/`, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1' } });
      assert.equal(files.status, 404);
      assert.equal((await fetch(`${base}/metrics`)).status, 200);
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, output);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
      await deleteQueues(prefix, kinds);
    }
  });

  it('refuses an unknown role with its usage and exit code 2', () => {
    const result = spawnSync(process.execPath, [MAIN, 'serve', '--role', 'boss'], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--role takes one of all, api, worker/);
  });
});

describe('job settings', () => {
  it('reads FERRY_AMQP_URL, FERRY_AMQP_PREFIX and FERRY_ROLE, and names a bad one without its password', () => {
    const config = loadConfig({ FERRY_AMQP_URL: 'amqp://u:p@broker:5672/vh', FERRY_AMQP_PREFIX: 'ferry-prod', FERRY_ROLE: 'worker' });
    assert.deepEqual([config.amqpUrl, config.amqpPrefix, config.role], ['amqp://u:p@broker:5672/vh', 'ferry-prod', 'worker']);
    assert.deepEqual([loadConfig({}).amqpUrl, loadConfig({}).role], [null, 'all']);
    assert.throws(() => loadConfig({ FERRY_AMQP_URL: 'http://u:hunter2@broker' }), (err: Error) => err instanceof ConfigError && /FERRY_AMQP_URL/.test(err.message) && !/hunter2/.test(err.message));
    assert.throws(() => loadConfig({ FERRY_ROLE: 'boss' }), /FERRY_ROLE="boss" is not valid: expected one of all, api, worker/);
    assert.throws(() => loadConfig({ FERRY_AMQP_PREFIX: 'a b' }), /FERRY_AMQP_PREFIX/);
  });
});
