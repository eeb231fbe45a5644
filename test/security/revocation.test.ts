/**
 * SECURITY.md's claim that a revoked credential stops working at once on every node: two Ferry
 * nodes share one PostgreSQL schema; what one node revokes, the other refuses on the next request.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DATABASE_URL } from '../helpers/cluster.js';
import { send } from '../helpers/http-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const AUTH = '/api/v1/auth';

describe('revocation across nodes sharing PostgreSQL', () => {
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  const schema = `ferry_revoke_${randomBytes(6).toString('hex')}`;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    a = await startTestServer({ auth: 'required', databaseUrl: url.toString() });
    b = await startTestServer({ auth: 'required', databaseUrl: url.toString() });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  const call = (node: TestServer, path: string, token: string, method = 'GET', body?: unknown) => send(`${node.url}${AUTH}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  it('an API key revoked on one node and a session logged out on the other are refused by both at once', async () => {
    const signup = await send(`${a.url}${AUTH}/signup`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'revoker', password: 'a long enough password' }) });
    assert.equal(signup.status, 201, signup.text());
    const session = (signup.json() as { token: string }).token;
    const created = await call(a, '/keys', session, 'POST', { name: 'laptop' });
    assert.equal(created.status, 201, created.text());
    const { id, key } = created.json() as { id: string; key: string };

    assert.deepEqual([(await call(a, '/me', key)).status, (await call(b, '/me', key)).status], [200, 200]);
    assert.equal((await call(a, `/keys/${id}`, session, 'DELETE')).status, 204);
    assert.deepEqual([(await call(b, '/me', key)).status, (await call(a, '/me', key)).status], [401, 401]);

    assert.equal((await call(b, '/me', session)).status, 200);
    assert.equal((await call(b, '/logout', session, 'POST')).status, 204);
    assert.deepEqual([(await call(a, '/me', session)).status, (await call(b, '/me', session)).status], [401, 401]);
  });
});
