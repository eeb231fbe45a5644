/**
 * Accounts over HTTP with FERRY_AUTH=required: signup, login, logout, API keys, rate limits, what
 * is stored, the service-account command, and the tus endpoint behind a token.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { send, type HttpResult } from '../helpers/http-client.js';
import { ProcessServer } from '../helpers/process-server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const AUTH = '/api/v1/auth';
const JSON_TYPE = { 'Content-Type': 'application/json' };

interface CallOptions {
  readonly method?: string;
  readonly token?: string;
  readonly json?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

function call(server: TestServer, path: string, options: CallOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  return send(`${server.url}${path}`, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
}

interface SessionBody { token: string; expiresAt: string; user: { id: string; username: string; kind: string; tenant: string; createdAt: string } }

async function signup(server: TestServer, username: string, password = 'password1'): Promise<SessionBody> {
  const response = await call(server, `${AUTH}/signup`, { json: { username, password } });
  assert.equal(response.status, 201, response.text());
  return response.json() as SessionBody;
}

function errorCode(response: HttpResult): string {
  return (response.json() as { error: { code: string } }).error.code;
}

/** A POST sent from another loopback address (all of 127/8 is local on Linux), standing for another client. */
function postFrom(server: TestServer, address: string, path: string, json: unknown): Promise<{ status: number; retryAfter: string | undefined }> {
  const { port } = new URL(server.url);
  const body = JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, localAddress: address, method: 'POST', path, agent: false, headers: { ...JSON_TYPE, 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('auth API', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ auth: 'required', loginAttempts: 1_000 }); });
  after(async () => { await server?.stop(); });

  it('signs up, logs in, answers who is signed in, and logs out', async () => {
    const created = await call(server, `${AUTH}/signup`, { json: { username: 'Alice', password: 'correct horse' } });
    assert.equal(created.status, 201);
    assert.equal(created.header('cache-control'), 'no-store');
    const session = created.json() as SessionBody;
    assert.match(session.token, /^fs_[A-Za-z0-9_-]{43}$/);
    assert.equal(session.user.username, 'alice');
    assert.equal(session.user.kind, 'person');
    assert.equal(session.user.tenant, 'default');
    assert.equal(new Date(session.user.createdAt).toISOString(), session.user.createdAt);
    assert.deepEqual(Object.keys(session.user).sort(), ['createdAt', 'id', 'kind', 'tenant', 'username']);

    const me = await call(server, `${AUTH}/me`, { token: session.token });
    assert.equal(me.status, 200);
    assert.deepEqual(me.json(), session.user);

    const login = await call(server, `${AUTH}/login`, { json: { username: 'ALICE', password: 'correct horse' } });
    assert.equal(login.status, 200);
    const second = login.json() as SessionBody;
    assert.deepEqual(second.user, session.user);
    assert.notEqual(second.token, session.token);

    assert.equal((await call(server, `${AUTH}/logout`, { method: 'POST', token: session.token })).status, 204);
    const after = await call(server, `${AUTH}/me`, { token: session.token });
    assert.equal(after.status, 401);
    assert.equal(after.header('www-authenticate'), 'Bearer');
    assert.equal(errorCode(after), 'unauthorized');
    assert.equal((await call(server, `${AUTH}/me`, { token: second.token })).status, 200, 'other sessions stay');
  });

  it('answers 401 with WWW-Authenticate when no or a made-up token is sent', async () => {
    const attempts: Record<string, string>[] = [{}, { Authorization: 'Bearer fs_madeup' }, { 'X-API-Key': 'fk_madeup' }, { Authorization: 'Basic YTpi' }];
    for (const headers of attempts) {
      const response = await call(server, `${AUTH}/me`, { headers });
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.equal(response.header('www-authenticate'), 'Bearer');
      assert.equal(errorCode(response), 'unauthorized');
    }
  });

  it('refuses a taken username in any case with 409 username_taken', async () => {
    await signup(server, 'bob');
    const again = await call(server, `${AUTH}/signup`, { json: { username: 'BoB', password: 'other password' } });
    assert.equal(again.status, 409);
    assert.equal(errorCode(again), 'username_taken');
  });

  it('gives a wrong password and an unknown user the very same 401', async () => {
    await signup(server, 'carol');
    const wrong = await call(server, `${AUTH}/login`, { json: { username: 'carol', password: 'not the password' } });
    const unknown = await call(server, `${AUTH}/login`, { json: { username: 'nobody-at-all', password: 'not the password' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.header('www-authenticate'), 'Bearer');
    assert.deepEqual([unknown.status, unknown.text()], [wrong.status, wrong.text()]);
    assert.equal(errorCode(wrong), 'invalid_credentials');
  });

  const badBodies: [string, Record<string, string>, string, number][] = [
    ['a missing password', JSON_TYPE, JSON.stringify({ username: 'dave' }), 400],
    ['a missing username', JSON_TYPE, JSON.stringify({ password: 'password1' }), 400],
    ['a number for a username', JSON_TYPE, JSON.stringify({ username: 12345, password: 'password1' }), 400],
    ['null for a password', JSON_TYPE, JSON.stringify({ username: 'dave', password: null }), 400],
    ['an extra property', JSON_TYPE, JSON.stringify({ username: 'dave', password: 'password1', admin: true }), 400],
    ['an array', JSON_TYPE, '[]', 400],
    ['JSON null', JSON_TYPE, 'null', 400],
    ['an empty body', JSON_TYPE, '', 400],
    ['text that is not JSON', JSON_TYPE, '{username: dave', 400],
    ['a text/plain body', { 'Content-Type': 'text/plain' }, JSON.stringify({ username: 'dave', password: 'password1' }), 415],
    ['no Content-Type', {}, JSON.stringify({ username: 'dave', password: 'password1' }), 415],
    ['a 1 MiB body', JSON_TYPE, JSON.stringify({ username: 'dave', password: 'x'.repeat(1 << 20) }), 413],
  ];
  const signupOnly: [string, Record<string, string>, string, number][] = [
    ['a two-letter username', JSON_TYPE, JSON.stringify({ username: 'ab', password: 'password1' }), 400],
    ['a username with a space', JSON_TYPE, JSON.stringify({ username: 'da ve', password: 'password1' }), 400],
    ['a 7-character password', JSON_TYPE, JSON.stringify({ username: 'dave', password: 'passwor' }), 400],
    ['a 1025-character password', JSON_TYPE, JSON.stringify({ username: 'dave', password: 'x'.repeat(1025) }), 400],
  ];
  for (const [route, cases] of [['signup', [...badBodies, ...signupOnly]], ['login', badBodies]] as const) {
    for (const [label, headers, body, status] of cases) {
      it(`answers a ${route} with ${label} with a ${status} JSON error`, async () => {
        const response = await send(`${server.url}${AUTH}/${route}`, { method: 'POST', headers, body });
        assert.equal(response.status, status, response.text());
        assert.match(response.header('content-type') ?? '', /^application\/json/);
        assert.equal(typeof errorCode(response), 'string');
      });
    }
  }

  it('creates, lists, uses and revokes API keys; another user\'s key is not found', async () => {
    const owner = await signup(server, 'erin');
    const other = await signup(server, 'frank');
    const created = await call(server, `${AUTH}/keys`, { token: owner.token, json: { name: 'deploy' } });
    assert.equal(created.status, 201);
    assert.equal(created.header('cache-control'), 'no-store');
    const key = created.json() as { id: string; name: string; key: string; createdAt: string; expiresAt: string | null };
    assert.match(key.key, /^fk_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual([key.name, key.expiresAt], ['deploy', null]);

    const listed = await call(server, `${AUTH}/keys`, { token: owner.token });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json(), { keys: [{ id: key.id, name: 'deploy', createdAt: key.createdAt, expiresAt: null }] });
    assert.deepEqual(await call(server, `${AUTH}/keys`, { token: other.token }).then((r) => r.json()), { keys: [] });

    const presented: Record<string, string>[] = [{ Authorization: `Bearer ${key.key}` }, { 'X-API-Key': key.key }];
    for (const headers of presented) {
      const me = await call(server, `${AUTH}/me`, { headers });
      assert.equal(me.status, 200);
      assert.equal((me.json() as { username: string }).username, 'erin');
    }

    const stolen = await call(server, `${AUTH}/keys/${key.id}`, { method: 'DELETE', token: other.token });
    assert.equal(stolen.status, 404);
    assert.equal(errorCode(stolen), 'not_found');
    assert.equal((await call(server, `${AUTH}/keys/0123456789abcdef`, { method: 'DELETE', token: owner.token })).status, 404);
    assert.equal((await call(server, `${AUTH}/me`, { headers: { 'X-API-Key': key.key } })).status, 200, 'still valid');

    assert.equal((await call(server, `${AUTH}/keys/${key.id}`, { method: 'DELETE', token: owner.token })).status, 204);
    assert.equal((await call(server, `${AUTH}/me`, { headers: { 'X-API-Key': key.key } })).status, 401);
    assert.equal((await call(server, `${AUTH}/keys/${key.id}`, { method: 'DELETE', token: owner.token })).status, 404);
  });

  it('gives an API key an expiry only when asked, and validates the request', async () => {
    const { token } = await signup(server, 'grace');
    const before = Date.now();
    const created = await call(server, `${AUTH}/keys`, { token, json: { name: 'brief', expiresInSeconds: 3600 } });
    assert.equal(created.status, 201);
    const expiresAt = Date.parse((created.json() as { expiresAt: string }).expiresAt);
    assert.ok(Math.abs(expiresAt - before - 3_600_000) < 60_000);
    for (const json of [{}, { name: '' }, { name: 'x', expiresInSeconds: 1 }, { name: 'x', expiresInSeconds: 'soon' }, { name: 'x', secret: 'mine' }]) {
      const response = await call(server, `${AUTH}/keys`, { token, json });
      assert.equal(response.status, 400, JSON.stringify(json));
    }
    assert.equal((await call(server, `${AUTH}/keys`, { json: { name: 'anonymous' } })).status, 401);
  });

  it('stores an Argon2id hash of the password and only a SHA-256 of each token', async () => {
    const password = 'a very secret password';
    const session = await signup(server, 'heidi', password);
    const key = (await call(server, `${AUTH}/keys`, { token: session.token, json: { name: 'k' } }).then((r) => r.json())) as { key: string };
    const db = new Database(join(server.dataDir, 'ferry.db'), { readonly: true });
    try {
      const user = db.prepare('SELECT password_hash FROM users WHERE username = ?').get('heidi') as { password_hash: string };
      assert.match(user.password_hash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
      const hashes = db.prepare('SELECT token_hash FROM tokens').pluck().all() as string[];
      for (const secret of [session.token, key.key]) {
        assert.ok(hashes.includes(createHash('sha256').update(secret).digest('hex')));
        assert.ok(!hashes.includes(secret));
      }
    } finally {
      db.close();
    }
    const files = await Promise.all(['ferry.db', 'ferry.db-wal'].map((name) => readFile(join(server.dataDir, name)).catch(() => Buffer.alloc(0))));
    for (const secret of [password, session.token, key.key]) {
      assert.ok(!files.some((bytes) => bytes.includes(secret)), 'no secret in the database files');
    }
  });

  it('lists the auth routes in the OpenAPI document, signup and login without security', async () => {
    const doc = (await call(server, '/api/v1/openapi.json')).json() as { paths: Record<string, Record<string, { security?: unknown; requestBody?: unknown }>> };
    for (const [path, method] of [['signup', 'post'], ['login', 'post'], ['logout', 'post'], ['me', 'get'], ['keys', 'post'], ['keys', 'get'], ['keys/{id}', 'delete']]) {
      assert.ok(doc.paths[`${AUTH}/${path}`]?.[method!], `${method} ${path}`);
    }
    assert.equal(doc.paths[`${AUTH}/signup`]!.post!.security, undefined);
    assert.equal(doc.paths[`${AUTH}/login`]!.post!.security, undefined);
    assert.deepEqual(doc.paths[`${AUTH}/me`]!.get!.security, [{ bearer: [] }]);
    const body = JSON.stringify(doc.paths[`${AUTH}/signup`]!.post!.requestBody);
    assert.match(body, /"additionalProperties":false/);
  });

  it('puts the tus endpoint behind a token', async () => {
    const { token } = await signup(server, 'ivan');
    const headers = { 'Tus-Resumable': '1.0.0', 'Upload-Length': '5' };
    const anonymous = await send(server.endpoint, { method: 'POST', headers });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.header('www-authenticate'), 'Bearer');
    assert.equal(anonymous.header('tus-resumable'), '1.0.0');
    assert.equal((await send(server.endpoint, { method: 'POST', headers: { ...headers, Authorization: `Bearer ${token}` } })).status, 201);
  });

  it('creates a service account from the command line whose key works against the running server', async () => {
    const run = promisify(execFile);
    const env = { PATH: process.env.PATH, FERRY_DATA_DIR: server.dataDir };
    const created = await run(process.execPath, [MAIN, 'service-account', 'create', 'Billing', '--tenant', 'acme', '--json'], { env });
    const { user, key } = JSON.parse(created.stdout) as { user: SessionBody['user']; key: { key: string; name: string } };
    assert.deepEqual([user.username, user.kind, user.tenant], ['billing', 'service', 'acme']);

    const me = await call(server, `${AUTH}/me`, { headers: { 'X-API-Key': key.key } });
    assert.equal(me.status, 200);
    assert.deepEqual(me.json(), user);
    const login = await call(server, `${AUTH}/login`, { json: { username: 'billing', password: 'any password' } });
    assert.equal(errorCode(login), 'invalid_credentials', 'a service account has no password');

    const listed = await run(process.execPath, [MAIN, 'service-account', 'list', '--json'], { env });
    assert.ok((JSON.parse(listed.stdout) as { accounts: { id: string }[] }).accounts.some((account) => account.id === user.id));
    const text = await run(process.execPath, [MAIN, 'service-account', 'create', 'reports'], { env });
    assert.match(text.stdout, /^fk_[A-Za-z0-9_-]{43}$/m);

    await assert.rejects(run(process.execPath, [MAIN, 'service-account', 'create', 'billing'], { env }), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.equal(err.stderr, 'ferry: that username is taken\n');
      return true;
    });
    await assert.rejects(run(process.execPath, [MAIN, 'service-account', 'create'], { env }), (err: { code: number }) => err.code === 2);
    await assert.rejects(run(process.execPath, [MAIN, 'service-account', 'list', '--bogus'], { env }), (err: { code: number }) => err.code === 2);
  });
});

describe('auth API with FERRY_AUTH=none', () => {
  it('acts for the local user without a token, while signup still works', async () => {
    const server = await startTestServer();
    try {
      const me = await call(server, `${AUTH}/me`);
      assert.equal(me.status, 200);
      assert.equal((me.json() as { username: string }).username, 'local');
      const session = await signup(server, 'prepared');
      const withToken = await call(server, `${AUTH}/me`, { token: session.token });
      assert.equal((withToken.json() as { username: string }).username, 'local', 'tokens are not consulted in this mode');
    } finally {
      await server.stop();
    }
  });
});

describe('login and signup rate limits', () => {
  const ATTEMPTS = 3;
  let server: TestServer;
  before(async () => { server = await startTestServer({ auth: 'required', loginAttempts: ATTEMPTS, loginWindowSeconds: 30 }); });
  after(async () => { await server?.stop(); });

  it('refuses a client address past the limit with 429 and Retry-After, whatever the names tried', async () => {
    await signup(server, 'mallory-target');
    const statuses: number[] = [];
    let last: HttpResult | undefined;
    for (let i = 0; i < ATTEMPTS + 1; i += 1) {
      last = await call(server, `${AUTH}/login`, { json: { username: `guess-${i}`, password: 'password1' } });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    assert.equal(errorCode(last!), 'rate_limited');
    const retryAfter = Number(last!.header('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`);
    const right = await call(server, `${AUTH}/login`, { json: { username: 'mallory-target', password: 'password1' } });
    assert.equal(right.status, 429, 'successful attempts count too');
  });

  it('refuses one username past the limit even when each attempt comes from a new address', async () => {
    const results = [];
    for (let i = 0; i < ATTEMPTS + 1; i += 1) results.push(await postFrom(server, `127.0.0.${10 + i}`, `${AUTH}/login`, { username: 'victim', password: 'guess' }));
    assert.deepEqual(results.map((result) => result.status), [401, 401, 401, 429]);
    assert.ok(Number(results[ATTEMPTS]!.retryAfter) >= 1);
    assert.equal((await postFrom(server, '127.0.0.20', `${AUTH}/login`, { username: 'someone-else', password: 'guess' })).status, 401, 'other names are not held up');
  });

  it('limits signups per address', async () => {
    const results = [];
    for (let i = 0; i < ATTEMPTS + 1; i += 1) results.push(await postFrom(server, '127.0.0.30', `${AUTH}/signup`, { username: `newcomer-${i}`, password: 'password1' }));
    assert.deepEqual(results.map((result) => result.status), [201, 201, 201, 429]);
    assert.ok(Number(results[ATTEMPTS]!.retryAfter) >= 1);
    assert.equal((await postFrom(server, '127.0.0.31', `${AUTH}/signup`, { username: 'newcomer-x', password: 'password1' })).status, 201);
  });
});

describe('request logs with accounts', () => {
  it('never contain a password or a token', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-auth-logs-'));
    const server = await ProcessServer.start({ dataDir, env: { FERRY_AUTH: 'required', FERRY_LOG_LEVEL: 'trace' } });
    try {
      const password = 'logged-password-4242';
      const headers = { 'Content-Type': 'application/json' };
      const signed = await fetch(`${server.url}${AUTH}/signup`, { method: 'POST', headers, body: JSON.stringify({ username: 'judy', password }) });
      const { token } = (await signed.json()) as { token: string };
      await fetch(`${server.url}${AUTH}/login`, { method: 'POST', headers, body: JSON.stringify({ username: 'judy', password: `${password}x` }) });
      const key = (await (await fetch(`${server.url}${AUTH}/keys`, {
        method: 'POST', headers: { ...headers, Authorization: `Bearer ${token}` }, body: JSON.stringify({ name: 'k' }),
      })).json()) as { key: string };
      await fetch(`${server.url}${AUTH}/me`, { headers: { 'X-API-Key': key.key } });
      await fetch(`${server.url}${AUTH}/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.match(server.output(), /"path":"\/api\/v1\/auth\/signup"/);
      for (const secret of [password, token, key.key]) assert.ok(!server.output().includes(secret));
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
