/**
 * Properties of the credential headers every protocol reads (Authorization: Bearer, X-API-Key,
 * src/http/auth.ts) and of the files API's query parameters: whatever a client sends, a made-up
 * credential is the same 401 everywhere, a real one always works, and a query is a page or a 400.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { bearerSecret } from '../../src/http/auth.js';
import type { HttpRequest } from '../../src/http/exchange.js';
import { send } from '../helpers/http-client.js';
import { TUS } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/users.js';
import { OVER_HTTP, PURE, REQUEST_TIMEOUT_MS, anyHeaderValue, assertJsonError, assertNotServerError, numberish } from './support.js';

const withHeaders = (headers: Record<string, string | undefined>) => ({ headers }) as unknown as HttpRequest;
/** RFC 6750 b64token. */
const b64token = fc.stringMatching(/^[A-Za-z0-9._~+/-]+=*$/);

describe('property: credential headers', () => {
  it('reads the token of every RFC 6750 Bearer credential, whatever the case of the scheme', () => {
    fc.assert(fc.property(b64token, fc.constantFrom('Bearer', 'bearer', 'BEARER'), fc.constantFrom(' ', '  '), (token, scheme, space) => {
      assert.equal(bearerSecret(withHeaders({ authorization: `${scheme}${space}${token}` })), token);
    }), PURE);
  });

  it('reads any other Authorization as no credential, and never throws', () => {
    fc.assert(fc.property(anyHeaderValue, fc.option(anyHeaderValue, { nil: undefined }), (authorization, apiKey) => {
      const secret = bearerSecret(withHeaders({ authorization, 'x-api-key': apiKey }));
      if (secret !== null) assert.ok(/^Bearer +/i.test(authorization) && authorization.includes(secret));
    }), PURE);
  });
});

describe('property: credentials and queries through the server', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({ auth: 'required', rateLimitPerAddress: 0, rateLimitPerUser: 0 });
    user = await createUser(server, 'prop-user');
  });
  after(async () => { await server?.stop(); });

  const routes = fc.constantFrom(
    { method: 'GET', path: '/api/v1/files' },
    { method: 'GET', path: '/api/v1/auth/me' },
    { method: 'POST', path: '/files/', headers: { ...TUS, 'Upload-Length': '1' } },
    { method: 'GET', path: '/api/v1/flow?flowChunkNumber=1' },
    { method: 'GET', path: '/file/query?limit=1' },
  );
  const credential = fc.oneof(
    fc.record({ Authorization: anyHeaderValue }),
    fc.record({ Authorization: b64token.map((token) => `Bearer ${token}`) }),
    fc.record({ 'X-API-Key': anyHeaderValue }),
  );

  it('a made-up credential on any route is a 401 with WWW-Authenticate and the route\'s error body', async () => {
    await fc.assert(fc.asyncProperty(routes, credential, async (route, headers) => {
      const res = await send(`${server.url}${route.path}`, { method: route.method, headers: { ...route.headers, ...headers }, timeoutMs: REQUEST_TIMEOUT_MS });
      assert.equal(res.status, 401, `${route.method} ${route.path} with ${JSON.stringify(headers)}: ${res.status} ${res.text().slice(0, 200)}`);
      assert.equal(res.header('www-authenticate'), 'Bearer');
      assert.ok(res.body.length > 0);
    }), OVER_HTTP);
  });

  it('the files listing answers any query with a page of the user\'s files or a JSON 400', async () => {
    const names = fc.constantFrom('limit', 'offset', 'sort', 'order', 'q', 'folder', 'other');
    const value = fc.oneof(numberish, anyHeaderValue, fc.constantFrom('name', 'size', 'time', 'asc', 'desc', 'a/', '../', '%', '1e3', '1.5', '0x10', '9223372036854775296'));
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(names, value), { maxLength: 4 }), async (pairs) => {
      const query = new URLSearchParams(pairs).toString();
      const res = await send(`${server.url}/api/v1/files?${query}`, { headers: user.auth, timeoutMs: REQUEST_TIMEOUT_MS });
      assertNotServerError(res, `GET /api/v1/files?${query}`);
      if (res.status >= 400) return assertJsonError(res);
      assert.equal(res.status, 200);
      const page = res.json() as { files?: unknown; limit: number; offset: number };
      assert.ok(Array.isArray(page.files), res.text().slice(0, 200));
      // A number is taken only as written: plain decimal digits, read as themselves.
      for (const name of ['limit', 'offset'] as const) {
        // The last of repeated values counts.
        const given = new URLSearchParams(query).getAll(name).at(-1);
        if (given !== undefined) assert.ok(/^\d+$/.test(given) && page[name] === Number(given), `${name}=${JSON.stringify(given)} read as ${page[name]}`);
      }
    }), OVER_HTTP);
  });
});
