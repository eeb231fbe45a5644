/**
 * Request rate limits per client address and per user: 429 with Retry-After and the RateLimit
 * fields, in each protocol's error format; probes never counted; X-Forwarded-For only from trusted
 * proxies; and with Redis, two Ferry nodes count against one limit.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { hashSecret } from '../../src/core/accounts.js';
import type { Config } from '../../src/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/users.js';

const REDIS_URL = process.env.FERRY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface CallOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A loopback address to send from (all of 127/8 is local on Linux), standing for another client. */
  readonly from?: string;
  readonly json?: unknown;
}

function call(server: TestServer, path: string, options: CallOptions = {}): Promise<Answer> {
  const { port } = new URL(server.url);
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const headers = body === undefined ? options.headers : { ...options.headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, localAddress: options.from, method: options.method ?? 'GET', path, agent: false, headers },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A loopback address no other test uses, so counts in a shared Redis start from nothing. */
function freshAddress(): string {
  const [a, b, c] = randomBytes(3);
  return `127.${a! % 200 + 50}.${b}.${(c! % 250) + 2}`;
}

async function spend(server: TestServer, times: number, options: CallOptions, path = '/api/v1/auth/me'): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < times; i += 1) answers.push(await call(server, path, options));
  return answers;
}

function assertRefused(answer: Answer, name: string): void {
  assert.equal(answer.status, 429, answer.body);
  assert.match(answer.headers['retry-after'] ?? '', /^[1-9]\d*$/);
  assert.match(String(answer.headers['ratelimit']), new RegExp(`^"${name}";r=0;t=[1-9]\\d*$`));
  assert.match(String(answer.headers['ratelimit-policy']), new RegExp(`"${name}";q=\\d+;w=60`));
}

describe('per-address request limit', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ auth: 'required', rateLimitPerAddress: 3, rateLimitPerUser: 0, rateLimitWindowSeconds: 60 });
  });
  after(async () => {
    await server?.stop();
  });

  it('counts every request from an address, signed in or not, and refuses past the limit with 429 saying why and until when', async () => {
    const from = freshAddress();
    const answers = await spend(server, 3, { from });
    assert.deepEqual(answers.map((answer) => answer.status), [401, 401, 401]);
    for (const answer of answers) assert.equal(answer.headers['ratelimit'], undefined, 'allowed answers carry no count');
    const refused = await call(server, '/api/v1/auth/me', { from });
    assertRefused(refused, 'address');
    assert.deepEqual(JSON.parse(refused.body), { error: { code: 'rate_limited', message: 'too many requests; try again later' } });
    assert.equal((await call(server, '/api/v1/auth/me', { from: freshAddress() })).status, 401, 'another address has its own count');
  });

  it('answers in the protocol the refused request speaks', async () => {
    const from = freshAddress();
    await spend(server, 3, { from });
    const tus = await call(server, '/files/', { method: 'OPTIONS', from, headers: { 'Tus-Resumable': '1.0.0' } });
    assertRefused(tus, 'address');
    assert.equal(tus.headers['tus-resumable'], '1.0.0');
    const ietf = await call(server, '/files/', { method: 'POST', from, headers: { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?1', 'Content-Length': '0' } });
    assertRefused(ietf, 'address');
    assert.equal(ietf.headers['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(ietf.body) as { code: string }).code, 'rate_limited');
  });

  it('never counts health, readiness and metrics probes', async () => {
    const from = freshAddress();
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const answers = await spend(server, 5, { from }, path);
      assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 200, 200], path);
    }
    assert.equal((await call(server, '/api/v1/auth/me', { from })).status, 401);
  });
});

describe('per-address request limit behind a proxy', () => {
  let trusting: TestServer;
  let distrusting: TestServer;
  const limits: Partial<Config> = { rateLimitPerAddress: 2, rateLimitPerUser: 0 };

  before(async () => {
    trusting = await startTestServer({ ...limits, trustedProxies: ['127.0.0.1'] });
    distrusting = await startTestServer(limits);
  });
  after(async () => {
    await trusting?.stop();
    await distrusting?.stop();
  });

  it('takes the client from X-Forwarded-For only when the peer is a trusted proxy', async () => {
    const forwarded = (address: string) => ({ from: '127.0.0.1', headers: { 'X-Forwarded-For': `${address}, 127.0.0.1` } });
    for (let i = 0; i < 4; i += 1) assert.equal((await call(trusting, '/api/v1/auth/me', forwarded(`203.0.113.${i + 1}`))).status, 200);
    const sameClient = await spend(trusting, 3, forwarded('198.51.100.7'));
    assert.deepEqual(sameClient.map((answer) => answer.status), [200, 200, 429]);
    assertRefused(sameClient[2]!, 'address');
    const spoofed = await spend(distrusting, 3, { from: '127.0.0.1', headers: { 'X-Forwarded-For': '192.0.2.99' } });
    assert.deepEqual(spoofed.map((answer) => answer.status), [200, 200, 429], 'a client naming itself another address is still itself');
  });
});

describe('per-user request limit', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    server = await startTestServer({ auth: 'required', rateLimitPerAddress: 0, rateLimitPerUser: 3 });
    alice = await createUser(server, 'alice');
    bob = await createUser(server, 'bob');
  });
  after(async () => {
    await server?.stop();
  });

  it('counts a user whatever address each request comes from, and not a bad credential', async () => {
    await spend(server, 5, { from: freshAddress(), headers: { Authorization: 'Bearer not-a-real-token' } });
    for (let i = 0; i < 3; i += 1) assert.equal((await call(server, '/api/v1/auth/me', { from: freshAddress(), headers: alice.auth })).status, 200);
    assertRefused(await call(server, '/api/v1/files', { from: freshAddress(), headers: alice.auth }), 'user');
    assertRefused(await call(server, '/files/', { method: 'POST', from: freshAddress(), headers: { ...alice.auth, 'Tus-Resumable': '1.0.0', 'Upload-Length': '1', 'Content-Length': '0' } }), 'user');
    assert.equal((await call(server, '/api/v1/auth/me', { headers: bob.auth })).status, 200, 'another user has a count of their own');
  });
});

describe('request limits shared through Redis', () => {
  let first: TestServer;
  let second: TestServer;
  const secret = randomBytes(32).toString('base64url');
  const userId = randomBytes(16).toString('hex');

  before(async () => {
    const settings: Partial<Config> = { auth: 'required', redisUrl: REDIS_URL, rateLimitPerAddress: 5, rateLimitPerUser: 4, loginAttempts: 3 };
    first = await startTestServer(settings);
    second = await startTestServer(settings);
    // The same user and key on both nodes (each has its own SQLite here; a cluster shares PostgreSQL).
    for (const server of [first, second]) {
      const now = new Date();
      await server.meta.accounts.insertUser({ id: userId, username: `shared-${userId.slice(0, 8)}`, kind: 'person', tenant: 'default', createdAt: now }, null);
      await server.meta.accounts.insertToken({ id: randomBytes(16).toString('hex'), userId, kind: 'api_key', name: 'test', createdAt: now, expiresAt: null }, hashSecret(secret));
    }
  });
  after(async () => {
    await first?.stop();
    await second?.stop();
  });

  it('counts a user on both nodes against one limit', async () => {
    const auth = { Authorization: `Bearer ${secret}` };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await call(i % 2 === 0 ? first : second, '/api/v1/auth/me', { from: freshAddress(), headers: auth })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assertRefused(await call(first, '/api/v1/auth/me', { from: freshAddress(), headers: auth }), 'user');
    assertRefused(await call(second, '/api/v1/auth/me', { from: freshAddress(), headers: auth }), 'user');
  });

  it('counts sign-in attempts for one username on both nodes against one limit', async () => {
    const username = `guessed-${randomBytes(4).toString('hex')}`;
    // Each attempt from another address: only the count per username can refuse them.
    const login = (server: TestServer) => call(server, '/api/v1/auth/login', { method: 'POST', from: freshAddress(), json: { username, password: 'a guess' } });
    assert.deepEqual([(await login(first)).status, (await login(second)).status, (await login(first)).status], [401, 401, 401]);
    const refused = await login(second);
    assert.equal(refused.status, 429, refused.body);
    assert.match(refused.headers['retry-after'] ?? '', /^[1-9]\d*$/);
  });

  it('counts an address on both nodes against one limit', async () => {
    const from = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await call(i % 2 === 0 ? first : second, '/api/v1/auth/me', { from })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    assertRefused(await call(second, '/api/v1/auth/me', { from }), 'address');
    assert.equal((await call(first, '/api/v1/auth/me', { from: freshAddress() })).status, 401);
  });
});
