import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../src/config.js';
import { isFerryError } from '../../src/core/errors.js';
import { redisClients, type RedisClients } from '../../src/locks/redis-client.js';
import { RedisLocker, type RedisLockerOptions } from '../../src/locks/redis.js';
import { sendRaw, send, type RawResult } from '../helpers/http-client.js';
import { CHUNK, digest, tusCreate, tusHead, tusPatch, TUS } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runLockerConformance } from './conformance.js';

export const REDIS_URL = process.env.FERRY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const locked = (err: unknown) => isFerryError(err, 'upload_locked');
const unavailable = (err: unknown) => isFerryError(err, 'service_unavailable') && err.status === 503;

/** A key namespace of its own per test, so tests (and test files) run in parallel on one Redis. */
function newPrefix(): string {
  return `ferry-test:${randomUUID()}:`;
}

async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  return redis.keys(`${prefix}*`);
}

runLockerConformance('Redis (RedisLocker)', {
  distributed: true,
  cluster: async () => {
    const prefix = newPrefix();
    const nodes: RedisLocker[] = [];
    return {
      node: () => {
        const locker = new RedisLocker(REDIS_URL, { prefix });
        nodes.push(locker);
        return locker;
      },
      close: async () => {
        await Promise.all(nodes.map((node) => node.close()));
        const raw = new Redis(REDIS_URL);
        try {
          assert.deepEqual(await keysUnder(raw, prefix), [], 'every lock was released');
        } finally {
          raw.disconnect();
        }
      },
    };
  },
});

describe('RedisLocker', () => {
  let raw: Redis;
  let prefix: string;
  const lockers: RedisLocker[] = [];
  const node = (options: RedisLockerOptions = {}, connection: string | RedisClients = REDIS_URL) => {
    const locker = new RedisLocker(connection, { prefix, ...options });
    lockers.push(locker);
    return locker;
  };

  before(() => { raw = new Redis(REDIS_URL); });
  after(() => { raw.disconnect(); });
  beforeEach(() => { prefix = newPrefix(); });
  afterEach(async () => {
    await Promise.all(lockers.splice(0).map((locker) => locker.close()));
    const left = await keysUnder(raw, prefix);
    if (left.length > 0) await raw.del(...left);
  });

  it('stores a lock as its key under the prefix, with a random token per acquisition and a TTL', async () => {
    const locker = node({ ttlMs: 10_000 });
    const lock = await locker.acquire('upload:x', 0);
    const first = await raw.get(`${prefix}upload:x`);
    assert.ok(first && first.length >= 16, 'a token is stored');
    const ttl = await raw.pttl(`${prefix}upload:x`);
    assert.ok(ttl > 9_000 && ttl <= 10_000, `TTL ${ttl}`);
    await lock.release();
    assert.equal(await raw.exists(`${prefix}upload:x`), 0, 'released: the key is gone');
    const again = await locker.acquire('upload:x', 0);
    assert.notEqual(await raw.get(`${prefix}upload:x`), first, 'a new token each time');
    await again.release();
  });

  it('renews a held lock, so a long upload keeps it well past the TTL', async () => {
    const holder = node({ ttlMs: 300 });
    const other = node({ ttlMs: 300 });
    const lock = await holder.acquire('a', 0);
    await sleep(1_000);
    assert.equal(lock.releaseRequested.aborted, false, 'nobody asked, nothing was lost');
    assert.ok((await raw.pttl(`${prefix}a`)) > 0, 'still held');
    // A waiter that gives up at once does not get it either.
    const waiterLock = await other.acquire('a', 0).catch((err: unknown) => err);
    assert.ok(locked(waiterLock));
    await lock.release();
  });

  it('tells the holder to stop when its lock vanished (expired during a pause, or Redis restarted)', async () => {
    const holder = node({ ttlMs: 600 });
    const lock = await holder.acquire('a', 0);
    await raw.del(`${prefix}a`);
    const thief = await node().acquire('a', 0); // someone else takes it meanwhile
    await firesWithin(lock.releaseRequested, 600);
    assert.ok(isFerryError(lock.releaseRequested.reason, 'upload_locked'), 'the reason says the lock was lost');
    await lock.release(); // does not free the thief's lock
    await assert.rejects(node().acquire('a', 0), locked);
    await thief.release();
  });

  it('a node that dies holding a lock: the lock expires after the TTL and a waiter gets it then', async () => {
    const clients = redisClients(REDIS_URL, { timeoutMs: 500, name: `ferry-test-dead-${randomUUID()}` });
    const dying = node({ ttlMs: 1_000 }, clients);
    const lock = await dying.acquire('a', 0);
    const heldSince = Date.now();
    clients.commands.disconnect(); // dies: no release, no more renewals, no messages
    clients.subscriber.disconnect();
    const started = Date.now();
    const next = await node().acquire('a', 5_000);
    const waited = Date.now() - started;
    const sinceHeld = Date.now() - heldSince;
    assert.ok(sinceHeld >= 900, `not before the TTL ran out (${sinceHeld} ms)`);
    assert.ok(waited < 1_500, `within the TTL and a margin (${waited} ms)`);
    // The dead node's own holder was told to stop before anyone else could take over.
    assert.equal(lock.releaseRequested.aborted, true);
    await next.release();
  });

  it('waits for a holder that never publishes (a foreign or crashed one) until its key expires, without polling', async () => {
    await raw.set(`${prefix}a`, 'someone-else', 'PX', 700);
    const monitor = await monitorKey(`${prefix}a`);
    const seen = monitor.commands;
    try {
      await sleep(50);
      const started = Date.now();
      const lock = await node().acquire('a', 5_000);
      const waited = Date.now() - started;
      assert.ok(waited >= 550 && waited < 1_200, `granted when the key expired (${waited} ms)`);
      await sleep(100);
      const attempts = seen.filter((args) => /^eval/i.test(args[0]!));
      assert.ok(attempts.length <= 3, `tried ${attempts.length} times in ${waited} ms: ${JSON.stringify(attempts)}`);
      await lock.release();
    } finally {
      monitor.stop();
    }
  });

  it('a waiter sleeps until told: one try while a holder keeps its lock', async () => {
    const holder = await node().acquire('a', 0); // does not let go when asked
    const monitor = await monitorKey(`${prefix}a`);
    const seen = monitor.commands;
    try {
      await sleep(50);
      await assert.rejects(node().acquire('a', 1_000), locked);
      await sleep(50);
      const tries = seen.filter((args) => /^eval/i.test(args[0]!));
      assert.equal(tries.length, 1, `tries: ${JSON.stringify(tries)}`);
      assert.equal(holder.releaseRequested.aborted, true, 'the holder was asked');
    } finally {
      monitor.stop();
    }
    await holder.release();
  });

  it('keeps handing over across nodes after its subscription connection was dropped', async () => {
    const name = `ferry-test-sub-${randomUUID()}`;
    const clients = redisClients(REDIS_URL, { timeoutMs: 1_000, name });
    const a = node({}, clients);
    const b = node();
    await a.connect();
    await b.connect();
    const id = (await raw.client('LIST') as string).split('\n').find((line) => line.includes(` name=${name}-events `))?.match(/^id=(\d+)/)?.[1];
    assert.ok(id, 'the subscription connection is named');
    await raw.client('KILL', 'ID', id);
    await waitFor(async () => (await raw.client('LIST') as string).includes(` name=${name}-events `) && clients.subscriber.status === 'ready', 3_000);
    await sleep(100); // the re-subscription follows the reconnect
    const lock = await a.acquire('a', 0);
    lock.releaseRequested.addEventListener('abort', () => void lock.release());
    const started = Date.now();
    const next = await b.acquire('a', 10_000);
    assert.ok(Date.now() - started < 1_000, `handed over promptly (${Date.now() - started} ms)`);
    await next.release();
  });

  it('close() releases what the node still holds and refuses new acquisitions', async () => {
    const leaving = node();
    await leaving.acquire('a', 0);
    await leaving.close();
    await (await node().acquire('a', 0)).release();
    await assert.rejects(leaving.acquire('b', 0), unavailable);
  });

  it('Redis unreachable: acquire fails fast with service_unavailable (503), every time', async () => {
    const port = await closedPort();
    const locker = node({ timeoutMs: 500 }, `redis://127.0.0.1:${port}`);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const started = Date.now();
      await assert.rejects(locker.acquire('a', 5_000), (err) => {
        assert.ok(unavailable(err), String(err));
        assert.match((err as Error).message, /Redis/);
        return true;
      });
      assert.ok(Date.now() - started < 1_000, `failed fast (${Date.now() - started} ms)`);
    }
  });

  it('FERRY_REDIS_URL is off by default and must be a redis:// or rediss:// URL', () => {
    assert.equal(loadConfig({}).redisUrl, null);
    assert.equal(loadConfig({ FERRY_REDIS_URL: 'redis://cache:6379/2' }).redisUrl, 'redis://cache:6379/2');
    assert.equal(loadConfig({ FERRY_REDIS_URL: 'rediss://:secret@cache.example:6380' }).redisUrl, 'rediss://:secret@cache.example:6380');
    assert.equal(loadConfig({ FERRY_REDIS_URL: '' }).redisUrl, null);
    for (const bad of ['http://cache:6379', 'cache:6379', 'redis://', 'not a url']) {
      assert.throws(() => loadConfig({ FERRY_REDIS_URL: bad }), (err) => err instanceof ConfigError && /FERRY_REDIS_URL.*redis:\/\/ or rediss:\/\//.test(err.message), bad);
    }
    assert.throws(() => loadConfig({ FERRY_REDIS_URL: 'http://user:hunter2@cache:6379' }), (err) => err instanceof ConfigError && !err.message.includes('hunter2'));
  });
});

describe('Ferry on two nodes sharing Redis locks', () => {
  it('a client resuming on node B is not blocked by its stalled request on node A', async () => {
    const lockTimeoutMs = 5_000;
    const a = await startTestServer({ redisUrl: REDIS_URL, lockTimeoutMs });
    const b = await startTestServer({ redisUrl: REDIS_URL, lockTimeoutMs, dataDir: a.dataDir });
    try {
      const data = Buffer.alloc(3 * 1024 * 1024 + 123);
      for (let i = 0; i < data.length; i += 1) data[i] = (i * 7 + (i >> 11)) & 0xff;
      const half = Math.floor(data.length / 2);
      const { id } = await tusCreate(a, { 'Upload-Length': data.length });

      // Node A: a PATCH that sends half its body and then stalls, its connection left open.
      const stalled = stallingPatch(a, id, data, half);
      await sleep(500); // the half reaches A's storage

      // Node B: the offset query makes A's request let go, and answers with what A stored.
      const onB = `${b.endpoint}${id}`;
      const started = Date.now();
      const status = await tusHead(onB);
      const took = Date.now() - started;
      assert.equal(status.status, 200, status.text());
      assert.ok(took < lockTimeoutMs / 4, `HEAD on B answered in ${took} ms (lock timeout ${lockTimeoutMs} ms)`);
      assert.equal(status.header('upload-offset'), String(half), 'A let go and committed the bytes it stored');
      const cutOff = await Promise.race([stalled.then(() => true), sleep(3_000).then(() => false)]);
      assert.ok(cutOff, "A closed the stalled request's connection");

      // Node B continues the upload where A left it.
      const rest = await tusPatch(onB, half, data.subarray(half));
      assert.equal(rest.status, 204, rest.text());
      assert.equal(rest.header('upload-offset'), String(data.length));
      const upload = await b.meta.uploads.get(id);
      assert.equal(upload?.state, 'completed');
      assert.equal(upload?.sha256, digest('sha256', data, 'hex'));
      const download = await send(onB);
      assert.equal(download.status, 200);
      assert.equal(digest('sha256', download.body, 'hex'), digest('sha256', data, 'hex'));
    } finally {
      await b.close();
      await a.stop();
    }
  });
});

describe('Ferry with a Redis lock lost mid-request', () => {
  it('makes nothing of the request durable: answered 423, the offset stays, and the upload goes on from there', async () => {
    const lockTtlMs = 1_000;
    const server = await startTestServer({ redisUrl: REDIS_URL, lockTtlMs });
    const raw = new Redis(REDIS_URL);
    try {
      const data = Buffer.alloc(3 * 1024 * 1024 + 321);
      for (let i = 0; i < data.length; i += 1) data[i] = (i * 13 + (i >> 9)) & 0xff;
      const { id } = await tusCreate(server, { 'Upload-Length': data.length });
      const stalled = stallingPatch(server, id, data, data.length >> 1);
      const key = `ferry:lock:upload:${id}`;
      await waitFor(async () => (await raw.exists(key)) === 1, 2_000);
      await sleep(300); // the half reaches storage

      // The lock runs out while the node cannot renew it (a pause, Redis cut off), and another node takes it.
      await raw.set(key, 'another-node', 'PX', 60_000);
      const answer = await stalled;
      assert.equal(answer.status, 423, answer.raw.slice(0, 300));
      await raw.del(key);

      const status = await tusHead(`${server.endpoint}${id}`);
      assert.equal(status.status, 200, status.text());
      assert.equal(status.header('upload-offset'), '0', 'the half the request stored was not committed');
      const whole = await tusPatch(`${server.endpoint}${id}`, 0, data);
      assert.equal(whole.status, 204, whole.text());
      const upload = await server.meta.uploads.get(id);
      assert.equal(upload?.state, 'completed');
      assert.equal(upload?.sha256, digest('sha256', data, 'hex'));
      const download = await send(`${server.endpoint}${id}`);
      assert.equal(digest('sha256', download.body, 'hex'), digest('sha256', data, 'hex'));
    } finally {
      raw.disconnect();
      await server.close();
    }
  });
});

/**
 * A PATCH at offset 0 that announces all of `data` but sends only its first `sent` bytes, its
 * connection left open; resolves with what the server answers once it ends the request.
 */
function stallingPatch(server: TestServer, id: string, data: Buffer, sent: number): Promise<RawResult> {
  const head = [
    `PATCH ${new URL(`${server.endpoint}${id}`).pathname} HTTP/1.1`, `Host: ${new URL(server.url).host}`,
    `Tus-Resumable: ${TUS['Tus-Resumable']}`, `Content-Type: ${CHUNK}`, 'Upload-Offset: 0', `Content-Length: ${data.length}`, '', '',
  ].join('\r\n');
  return sendRaw(server.url, Buffer.concat([Buffer.from(head, 'latin1'), data.subarray(0, sent)]), 20_000);
}

async function firesWithin(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return;
  const fired = new Promise<boolean>((resolve) => signal.addEventListener('abort', () => resolve(true), { once: true }));
  assert.ok(await Promise.race([fired, sleep(ms).then(() => false)]), `releaseRequested did not fire within ${ms} ms`);
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, 'condition not reached in time');
    await sleep(20);
  }
}

/**
 * The commands Redis runs that name `key`, seen through MONITOR on a plain socket (ioredis's own
 * monitor mode can misread the first lines when they arrive with the OK).
 */
async function monitorKey(key: string): Promise<{ commands: string[][]; stop(): void }> {
  const { hostname, port } = new URL(REDIS_URL);
  const socket = connect({ host: hostname, port: Number(port || 6379) });
  const commands: string[][] = [];
  let buffered = '';
  let ready!: () => void;
  const started = new Promise<void>((resolve) => { ready = resolve; });
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  socket.on('data', (text: string) => {
    buffered += text;
    const lines = buffered.split('\r\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === '+OK') ready();
      const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!);
      if (args.includes(key)) commands.push(args);
    }
  });
  socket.write('MONITOR\r\n');
  await started;
  return { commands, stop: () => socket.destroy() };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
