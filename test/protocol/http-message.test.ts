/**
 * What HTTP/1.1 itself asks of a server, below the upload protocols: Host and transfer codings
 * checked before anything is stored (RFC 9112), HEAD wherever GET is answered (RFC 9110 §9.3.2),
 * no 1xx to an HTTP/1.0 client (RFC 9110 §15.2), a reason phrase for tus's 460, 405 with Allow for
 * a method a path has no route for, and an X-HTTP-Method-Override naming no method Ferry takes
 * refused rather than ignored.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { send, sendRaw } from '../helpers/http-client.js';
import { CHUNK, TUS, tusCreate } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
before(async () => { server = await startTestServer(); });
after(async () => { await server?.stop(); });

/** The offset a tus HEAD reports for the upload. */
async function offsetOf(location: string): Promise<string | undefined> {
  return (await send(location, { method: 'HEAD', headers: TUS })).header('upload-offset');
}

function errorCode(body: Buffer): string {
  return (JSON.parse(body.toString()) as { error: { code: string } }).error.code;
}

const chunked = (body: Buffer) => `${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`;

describe('transfer codings', () => {
  for (const coding of ['gzip', 'deflate', 'x-gzip']) {
    it(`a PATCH body with "Transfer-Encoding: ${coding}, chunked" -> 400, nothing stored`, async () => {
      const { location } = await tusCreate(server, { 'Upload-Length': 11 });
      const path = new URL(location).pathname;
      const body = gzipSync('hello world');
      const res = await sendRaw(server.url, Buffer.from(`PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: ${CHUNK}\r\n`
        + `Upload-Offset: 0\r\nTransfer-Encoding: ${coding}, chunked\r\nConnection: close\r\n\r\n${chunked(body)}`, 'latin1'));
      assert.equal(res.status, 400, res.raw);
      assert.equal(errorCode(res.rest), 'invalid_request');
      assert.equal(await offsetOf(location), '0');
    });
  }

  it('an IETF creation with a gzip-coded body -> 400, and no upload is created', async () => {
    const body = gzipSync('hello world');
    const res = await sendRaw(server.url, Buffer.from('POST /files/ HTTP/1.1\r\nHost: x\r\nUpload-Draft-Interop-Version: 8\r\nUpload-Complete: ?1\r\n'
      + `Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${chunked(body)}`, 'latin1'));
    assert.equal(res.status, 400, res.raw);
    assert.equal(res.headers.location, undefined);
  });

  it('plain chunked bodies are taken as before', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 5 });
    const res = await sendRaw(server.url, `PATCH ${new URL(location).pathname} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: ${CHUNK}\r\n`
      + `Upload-Offset: 0\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.equal(res.status, 204, res.raw);
    assert.equal(res.headers['upload-offset'], '5');
  });
});

describe('Host', () => {
  const create = (host: string | null, version = '1.1') => sendRaw(server.url, `POST /files/ HTTP/${version}\r\n${host === null ? '' : `Host: ${host}\r\n`}`
    + 'Tus-Resumable: 1.0.0\r\nUpload-Length: 1\r\nConnection: close\r\n\r\n');

  for (const host of ['a b', 'x"<>', 'evil.example/x?', 'a@b', 'host:port']) {
    it(`an invalid Host (${JSON.stringify(host)}) -> 400 JSON, no upload and no Location`, async () => {
      const res = await create(host);
      assert.equal(res.status, 400, res.raw);
      assert.equal(errorCode(res.rest), 'invalid_request');
      assert.equal(res.headers.location, undefined);
    });
  }

  it('an HTTP/1.1 request without Host -> 400 with a JSON body', async () => {
    const res = await create(null);
    assert.equal(res.status, 400, res.raw);
    assert.equal(errorCode(res.rest), 'invalid_request');
  });

  it('names, addresses and IPv6 literals with ports are taken, and Location is built from them', async () => {
    for (const host of ['files.example.com', 'files.example.com:8443', '10.0.0.7:80', '[::1]:8080', '']) {
      const res = await create(host);
      assert.equal(res.status, 201, `${host}: ${res.raw}`);
      if (host !== '') assert.ok(res.headers.location?.startsWith(`http://${host}/files/`), res.headers.location);
    }
    // HTTP/1.0 does not require Host.
    assert.equal((await create(null, '1.0')).status, 201);
  });
});

describe('interim responses', () => {
  const ietfCreate = (version: string) => sendRaw(server.url, `POST /files/ HTTP/${version}\r\nHost: x\r\nUpload-Draft-Interop-Version: 8\r\n`
    + 'Upload-Complete: ?0\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');

  it('an HTTP/1.1 creation gets 104 Upload Resumption Supported first', async () => {
    const res = await ietfCreate('1.1');
    assert.match(res.raw, /^HTTP\/1\.1 104 /);
    assert.equal(res.status, 201);
  });

  it('an HTTP/1.0 client gets no 1xx, only the final answer', async () => {
    const res = await ietfCreate('1.0');
    assert.match(res.raw, /^HTTP\/1\.1 201 /, res.raw);
    assert.doesNotMatch(res.raw, / 104 /);
  });
});

describe('pipelined requests on one connection', () => {
  const patch = (path: string, offset: number, body: string, close = false) => `PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n`
    + `Content-Type: ${CHUNK}\r\nUpload-Offset: ${offset}\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${body}`;
  const statuses = (raw: string) => [...raw.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((match) => Number(match[1]));

  it('a PATCH then a HEAD of the same upload, in one write: both answered, in order', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 6 });
    const path = new URL(location).pathname;
    const res = await sendRaw(server.url, patch(path, 0, 'abc') + `HEAD ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(statuses(res.raw), [204, 200], res.raw);
    assert.equal([...res.raw.matchAll(/^upload-offset: (\d+)/gim)].map((match) => match[1]).join(','), '3,3');
  });

  it('two PATCHes of the same upload, in one write: the second does not cut the first off', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 6 });
    const path = new URL(location).pathname;
    const res = await sendRaw(server.url, patch(path, 0, 'abc') + patch(path, 3, 'def', true));
    assert.deepEqual(statuses(res.raw), [204, 204], res.raw);
    assert.equal((await send(location)).text(), 'abcdef');
  });
});

describe('HEAD where GET is answered', () => {
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    it(`HEAD ${path} -> 200 with GET's Content-Type and no body`, async () => {
      const get = await send(`${server.url}${path}`);
      const res = await sendRaw(server.url, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 200, res.raw);
      assert.equal(res.headers['content-type'], get.header('content-type'));
      assert.equal(res.rest.length, 0);
    });
  }
});

describe('status lines and method override', () => {
  it('a checksum mismatch is "460 Checksum Mismatch"', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 5 });
    const res = await sendRaw(server.url, `PATCH ${new URL(location).pathname} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: ${CHUNK}\r\n`
      + `Upload-Offset: 0\r\nUpload-Checksum: sha1 ${Buffer.alloc(20).toString('base64')}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
    assert.match(res.raw, /^HTTP\/1\.1 460 Checksum Mismatch\r\n/);
  });

  it('a method the path has no route for -> 405 with Allow; an unknown path stays 404', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 5 });
    const put = await send(location, { method: 'PUT', headers: TUS, body: 'hello' });
    assert.equal(put.status, 405, put.text());
    const allowed = (put.header('allow') ?? '').split(/\s*,\s*/);
    for (const method of ['HEAD', 'PATCH', 'DELETE', 'GET']) assert.ok(allowed.includes(method), `Allow: ${put.header('allow')}`);
    assert.equal(await offsetOf(location), '0');
    const health = await send(`${server.url}/healthz`, { method: 'POST' });
    assert.equal(health.status, 405);
    assert.deepEqual(health.header('allow')?.split(/\s*,\s*/).sort(), ['GET', 'HEAD']);
    assert.equal((await send(`${server.url}/no/such/thing`, { method: 'PUT' })).status, 404);
  });

  it('X-HTTP-Method-Override naming a method Ferry does not take -> 405, and nothing is created', async () => {
    const res = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': 1, 'X-HTTP-Method-Override': 'FOO' } });
    assert.equal(res.status, 405, res.text());
    assert.equal(res.header('location'), undefined);
  });
});
