/**
 * SECURITY.md's claims about what Ferry does out of the box, and about credentials: they are never
 * ambient (no cookies), so another site's page cannot act for a user; and the URLs Ferry hands out
 * are never built from forwarding headers a client can forge.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { send } from '../helpers/http-client.js';
import { TUS } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FORGED = {
  'X-Forwarded-Host': 'attacker.example',
  'X-Forwarded-Proto': 'https',
  Forwarded: 'host=attacker.example;proto=https',
  'X-Forwarded-Prefix': '/evil',
};

describe('defaults', () => {
  it('listen on loopback only, require a token, keep instant uploads of others\' content behind a proof, and trust no proxy', () => {
    const config = loadConfig({});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.auth, 'required');
    assert.equal(config.filestoreTrustClientHashes, false);
    assert.deepEqual(config.trustedProxies, []);
  });

  it('refuse webhooks or a pre-create hook without a secret to sign them with', () => {
    assert.throws(() => loadConfig({ FERRY_WEBHOOK_URLS: 'http://127.0.0.1:9/hook' }), ConfigError);
    assert.throws(() => loadConfig({ FERRY_PRE_CREATE_HOOK_URL: 'http://127.0.0.1:9/check' }), ConfigError);
    assert.doesNotThrow(() => loadConfig({ FERRY_WEBHOOK_URLS: 'http://127.0.0.1:9/hook', FERRY_WEBHOOK_SECRET: 's3cret' }));
  });
});

describe('credentials are never ambient', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ auth: 'required', corsOrigins: ['*'] }); });
  after(async () => { await server?.stop(); });

  it('signup and login answer a token in the body, set no cookie, and no answer allows credentialed cross-origin requests', async () => {
    const json = { 'Content-Type': 'application/json', Origin: 'https://other.example' };
    const body = JSON.stringify({ username: 'cookieless', password: 'a long enough password' });
    const answers = [
      await send(`${server.url}/api/v1/auth/signup`, { method: 'POST', headers: json, body }),
      await send(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: json, body }),
      await send(`${server.url}/api/v1/auth/login`, { method: 'OPTIONS', headers: { Origin: 'https://other.example', 'Access-Control-Request-Method': 'POST' } }),
    ];
    assert.deepEqual(answers.map((res) => res.status), [201, 200, 204]);
    assert.equal(typeof (answers[1]!.json() as { token?: unknown }).token, 'string');
    for (const res of answers) {
      assert.equal(res.header('set-cookie'), undefined);
      assert.notEqual(res.header('access-control-allow-credentials'), 'true');
    }
  });
});

describe('forwarding headers', () => {
  let direct: TestServer;
  let proxied: TestServer;
  before(async () => {
    direct = await startTestServer();
    proxied = await startTestServer({ publicUrl: 'https://uploads.example.org' });
  });
  after(async () => {
    await direct?.stop();
    await proxied?.stop();
  });

  const create = (server: TestServer, headers: Record<string, string>) =>
    send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': 1, ...headers } });

  it('X-Forwarded-Host, X-Forwarded-Proto and Forwarded never shape an upload URL', async () => {
    const res = await create(direct, FORGED);
    assert.equal(res.status, 201);
    const location = new URL(res.header('location')!);
    assert.equal(location.origin, direct.url);
    assert.match(location.pathname, /^\/files\/[0-9a-f]{32}$/);
  });

  it('with FERRY_PUBLIC_URL set, neither they nor the Host header do', async () => {
    const res = await create(proxied, { ...FORGED, Host: 'attacker.example' });
    assert.equal(res.status, 201);
    assert.match(res.header('location')!, /^https:\/\/uploads\.example\.org\/files\/[0-9a-f]{32}$/);
  });
});
