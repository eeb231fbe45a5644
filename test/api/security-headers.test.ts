/**
 * What every answer carries for browsers: the CORS allow-list (a listed origin gets its CORS
 * headers, any other gets none, preflights included, and every answer varies by Origin), and the
 * security headers on answers of every kind, downloads of stored HTML included. And what never
 * reaches the log: passwords, tokens, API keys, business-server tokens and task keys, wherever a
 * protocol carries them (headers, query strings, JSON and form bodies).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send, sleep, type HttpResult } from '../helpers/http-client.js';
import { metadataHeader, tusUpload, TUS } from '../helpers/http-tus.js';
import { ProcessServer } from '../helpers/process-server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ALLOWED = 'https://app.example';
const OTHER = 'https://elsewhere.example';
const PREFLIGHT = { 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'tus-resumable, upload-offset' };

function assertSecurityHeaders(response: HttpResult, what: string): void {
  assert.equal(response.header('x-content-type-options'), 'nosniff', what);
  assert.equal(response.header('referrer-policy'), 'no-referrer', what);
  assert.equal(response.header('x-frame-options'), 'DENY', what);
  assert.match(response.header('content-security-policy') ?? '', /frame-ancestors 'none'/, what);
  assert.match(response.header('content-security-policy') ?? '', /\bsandbox\b/, what);
}

describe('CORS with an allow-list', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ corsOrigins: [ALLOWED] });
  });
  after(async () => {
    await server?.stop();
  });

  it('answers a listed origin with its CORS headers, requests and preflights alike', async () => {
    const plain = await send(`${server.url}/api/v1/files`, { headers: { Origin: ALLOWED } });
    assert.equal(plain.header('access-control-allow-origin'), ALLOWED);
    assert.match(plain.header('access-control-expose-headers') ?? '', /Upload-Offset.*RateLimit/);
    assert.equal(plain.header('vary'), 'Origin');
    const preflight = await send(server.endpoint, { method: 'OPTIONS', headers: { Origin: ALLOWED, ...PREFLIGHT } });
    assert.equal(preflight.header('access-control-allow-origin'), ALLOWED);
    assert.match(preflight.header('access-control-allow-methods') ?? '', /PATCH/);
    assert.equal(preflight.header('vary'), 'Origin');
  });

  it('gives any other origin no CORS headers at all, requests and preflights alike, and still varies by Origin', async () => {
    for (const [what, response] of [
      ['request', await send(`${server.url}/api/v1/files`, { headers: { Origin: OTHER } })],
      ['preflight', await send(server.endpoint, { method: 'OPTIONS', headers: { Origin: OTHER, ...PREFLIGHT } })],
      ['preflight of an API route', await send(`${server.url}/api/v1/uploads/x/chunks/0`, { method: 'OPTIONS', headers: { Origin: OTHER, 'Access-Control-Request-Method': 'PUT' } })],
      ['request without Origin', await send(`${server.url}/api/v1/files`)],
    ] as const) {
      const cors = Object.keys(response.headers).filter((name) => name.startsWith('access-control-'));
      assert.deepEqual(cors, [], `${what}: ${cors.join(', ')}`);
      assert.equal(response.header('vary'), 'Origin', what);
    }
  });

  it('varies by Origin besides whatever else an answer depends on (the upload page: Accept-Encoding)', async () => {
    const page = await send(`${server.url}/`, { headers: { Origin: ALLOWED, 'Accept-Encoding': 'gzip' } });
    assert.equal(page.status, 200);
    assert.deepEqual(page.header('vary')?.split(/\s*,\s*/).sort(), ['Accept-Encoding', 'Origin']);
  });

  it('lets other sites embed what it serves (Cross-Origin-Resource-Policy) when other origins are allowed', async () => {
    const response = await send(`${server.url}/healthz`);
    assert.equal(response.header('cross-origin-resource-policy'), 'cross-origin');
  });
});

describe('security headers', () => {
  let server: TestServer;
  let closed: TestServer;

  before(async () => {
    server = await startTestServer({ auth: 'required', rateLimitPerAddress: 1_000 });
    closed = await startTestServer({ corsOrigins: [] });
  });
  after(async () => {
    await server?.stop();
    await closed?.stop();
  });

  it('are on answers of every kind and protocol, errors included', async () => {
    const signup = await send(`${server.url}/api/v1/auth/signup`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sec', password: 'a long password' }),
    });
    assert.equal(signup.status, 201);
    const auth = { Authorization: `Bearer ${(signup.json() as { token: string }).token}` };
    const answers: [string, HttpResult][] = [
      ['signup', signup],
      ['health', await send(`${server.url}/healthz`)],
      ['not found', await send(`${server.url}/nowhere`)],
      ['unauthorized', await send(`${server.url}/api/v1/files`)],
      ['tus discovery', await send(server.endpoint, { method: 'OPTIONS', headers: TUS })],
      ['tus creation', await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...auth, 'Upload-Length': 5 } })],
      ['IETF error', await send(server.endpoint, { method: 'POST', headers: { ...auth, 'Upload-Draft-Interop-Version': '99' } })],
      ['native API', await send(`${server.url}/api/v1/uploads`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'a', size: 1 }) })],
      ['filestore', await send(`${server.url}/file/query?limit=1`, { headers: auth })],
      ['flow', await send(`${server.url}/api/v1/flow?flowChunkNumber=1`, { headers: auth })],
      ['fupload', await send(`${server.url}/api/upload/files/blocks/info?taskId=1&key=x`)],
    ];
    for (const [what, response] of answers) assertSecurityHeaders(response, `${what} (${response.status})`);
  });

  it('keep a stored HTML file from running as a page of this origin when it is downloaded', async () => {
    const html = '<!doctype html><script>document.title = document.cookie</script>';
    const created = await tusUpload(closed, html, { filename: 'page.html', filetype: 'text/html' });
    const download = await send(created.location);
    assert.equal(download.status, 200);
    assert.equal(download.text(), html);
    assertSecurityHeaders(download, 'download');
    assert.equal(download.header('cross-origin-resource-policy'), 'same-origin', 'no allowed origins: no other site may embed it');
  });
});

describe('logs', () => {
  it('never contain a password, token, API key, business-server token or task key, wherever it was sent', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-log-secrets-'));
    const business = `biz-${randomBytes(12).toString('hex')}`;
    const server = await ProcessServer.start({
      dataDir,
      env: {
        FERRY_AUTH: 'required',
        FERRY_LOG_LEVEL: 'trace',
        FERRY_IDLE_TIMEOUT_SECONDS: '1',
        FERRY_FUPLOAD_CLIENTS: JSON.stringify({ [business]: 'http://127.0.0.1:9/notify' }),
      },
    });
    try {
      const json = { 'content-type': 'application/json' };
      const password = `pw-${randomBytes(8).toString('hex')}`;
      const wrongPassword = `${password}-wrong`;
      const wrongToken = `wrong-${randomBytes(16).toString('hex')}`;
      const signup = await send(`${server.url}/api/v1/auth/signup`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'logged', password }) });
      const token = (signup.json() as { token: string }).token;
      await send(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'logged', password: wrongPassword }) });
      const auth = { Authorization: `Bearer ${token}` };
      const key = ((await send(`${server.url}/api/v1/auth/keys`, { method: 'POST', headers: { ...json, ...auth }, body: JSON.stringify({ name: 'k' }) })).json() as { key: string }).key;

      // tus with a bearer token, a wrong one, and an API key.
      const data = randomBytes(1_000);
      const created = await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...auth, 'Upload-Length': data.length, 'Upload-Metadata': metadataHeader({ filename: 'x.bin' }) } });
      const location = new URL(created.header('location')!, server.endpoint).toString();
      await send(location, { method: 'PATCH', headers: { ...TUS, ...auth, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': 0 }, body: data });
      await send(location, { method: 'HEAD', headers: { ...TUS, Authorization: `Bearer ${wrongToken}` } });
      await send(`${server.url}/api/v1/files`, { headers: { 'X-API-Key': key } });
      // A PATCH that stalls and is ended by the idle timeout.
      const stalled = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'X-API-Key': key, 'Upload-Length': 100 } });
      await stallPatch(server.url, new URL(stalled.header('location')!, server.endpoint).pathname, key);

      // filestore: the token in the query string and in a form body.
      const sha1 = createHash('sha1').update(data).digest('hex');
      await send(`${server.url}/file/query?limit=5&token=${encodeURIComponent(token)}`);
      await send(`${server.url}/file/meta?filehash=${sha1}&token=${encodeURIComponent(wrongToken)}`);
      await send(`${server.url}/file/meta`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `filehash=${sha1}&token=${encodeURIComponent(token)}`,
      });

      // fupload: the business token in a JSON body, the task key in every URL handed out.
      const task = (await send(`${server.url}/api/upload/new/task`, {
        method: 'POST', headers: json,
        body: JSON.stringify({ token: business, userId: '7', storePath: '/', fileName: 'f.bin', fileSize: String(data.length), fileMd5: createHash('md5').update(data).digest('hex') }),
      })).json() as { data: { uploadUrl: string; blocksUrl: string } };
      const taskKey = new URL(task.data.blocksUrl).searchParams.get('key')!;
      await send(task.data.blocksUrl);
      const form = new FormData();
      form.set('startByte', '0');
      form.set('endByte', String(data.length - 1));
      form.set('file', new Blob([data]), 'f.bin');
      await fetch(task.data.uploadUrl, { method: 'POST', body: form });
      await send(task.data.blocksUrl.replace(taskKey, `${taskKey}x`));

      await sleep(500);
      const output = server.output();
      for (const path of ['/api/v1/auth/login', '/file/query', '/api/upload/files/block', '/api/upload/files/blocks/info']) {
        assert.ok(output.includes(`"path":"${path}"`), `the log has the request line of ${path}`);
      }
      assert.match(output, /client stalled/);
      for (const [what, secret] of Object.entries({ password, wrongPassword, token, wrongToken, key, business, taskKey })) {
        assert.ok(!output.includes(secret), `the log contains the ${what}`);
      }
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** Sends a PATCH's head and a few bytes, then nothing, until the server ends it. */
function stallPatch(baseUrl: string, path: string, key: string): Promise<void> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`PATCH ${path} HTTP/1.1\r\nHost: ferry\r\nTus-Resumable: 1.0.0\r\nX-API-Key: ${key}\r\n` +
        'Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 100\r\n\r\n0123456789');
    });
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('close', () => resolve());
    setTimeout(() => socket.destroy(), 30_000).unref();
  });
}
