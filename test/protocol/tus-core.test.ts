/**
 * tus 1.0.0 core protocol, from ../shared/specs/tus-protocol.md: OPTIONS discovery, the
 * Tus-Resumable version check, HEAD and PATCH.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineCases, type HttpCase } from '../helpers/http-cases.js';
import { send, sendRaw } from '../helpers/http-client.js';
import { CHUNK, TUS, metricValue, tusCreate, tusHead, tusOffset, tusPatch } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type V = Record<string, string>;

const EXTENSIONS = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration', 'checksum', 'concatenation'];

describe('tus OPTIONS (discovery)', () => {
  let server: TestServer;
  let limited: TestServer;
  before(async () => {
    server = await startTestServer();
    limited = await startTestServer({ maxUploadSize: 1000 });
  });
  after(async () => {
    await server?.stop();
    await limited?.stop();
  });

  const cases: HttpCase<V>[] = [
    {
      name: 'OPTIONS without Tus-Resumable answers 200/204 with Tus-Version, Tus-Extension and Tus-Checksum-Algorithm',
      method: 'OPTIONS',
      path: '/files/',
      expect: {
        status: [200, 204],
        lists: { 'Tus-Version': ['1.0.0'], 'Tus-Extension': EXTENSIONS, 'Tus-Checksum-Algorithm': ['sha1'] },
        absent: ['Tus-Max-Size'],
      },
    },
    {
      name: 'OPTIONS ignores a Tus-Resumable the server does not speak',
      method: 'OPTIONS',
      path: '/files/',
      headers: { 'Tus-Resumable': '0.0.1' },
      expect: { status: [200, 204], lists: { 'Tus-Version': ['1.0.0'] } },
    },
    {
      name: 'Tus-Checksum-Algorithm names lower-case ASCII algorithms only',
      method: 'OPTIONS',
      path: '/files/',
      expect: {
        status: [200, 204],
        match: { 'Tus-Checksum-Algorithm': /^[\x21-\x40\x5b-\x7e]+(\s*,\s*[\x21-\x40\x5b-\x7e]+)*$/ },
        lists: { 'Tus-Checksum-Algorithm': ['sha1', 'sha256', 'md5'] },
      },
    },
    {
      name: 'Tus-Version is a comma-separated list starting with the preferred 1.0.0',
      method: 'OPTIONS',
      path: '/files/',
      expect: { status: [200, 204], match: { 'Tus-Version': /^1\.0\.0(\s*,.*)?$/ } },
    },
  ];
  defineCases(() => server, cases);

  it('announces Tus-Max-Size when a maximum upload size is configured', async () => {
    const res = await send(limited.endpoint, { method: 'OPTIONS' });
    assert.ok([200, 204].includes(res.status), `status ${res.status}`);
    assert.equal(res.header('tus-max-size'), '1000');
  });
});

describe('tus Tus-Resumable version check (412)', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const versionHeaders: [string, Record<string, string>][] = [
    ['without Tus-Resumable', {}],
    ['with Tus-Resumable: 0.2.2', { 'Tus-Resumable': '0.2.2' }],
    ['with Tus-Resumable: 2.0.0', { 'Tus-Resumable': '2.0.0' }],
  ];
  const refused = { status: 412, lists: { 'Tus-Version': ['1.0.0'] }, equal: { 'Tus-Resumable': '1.0.0' } };

  const cases: HttpCase<V>[] = versionHeaders.flatMap(([label, version]): HttpCase<V>[] => [
    {
      name: `POST ${label} -> 412 with Tus-Version, and no upload is created`,
      setup: async (s) => ({ created: String(await metricValue(s, 'ferry_uploads_created_total')) }),
      method: 'POST',
      path: '/files/',
      headers: { ...version, 'Upload-Length': 10 },
      expect: {
        ...refused,
        absent: ['Location'],
        after: async (vars, _res, s) => {
          assert.equal(await metricValue(s, 'ferry_uploads_created_total'), Number(vars.created), 'an upload was created');
        },
      },
    },
    {
      name: `HEAD ${label} -> 412 with Tus-Version`,
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 5 })).location }),
      method: 'HEAD',
      path: (v) => v.location!,
      headers: version,
      expect: { ...refused, absent: ['Upload-Offset'] },
    },
    {
      name: `PATCH ${label} -> 412 with Tus-Version, and the offset does not move`,
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 5 })).location }),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...version, 'Content-Type': CHUNK, 'Upload-Offset': 0 },
      body: 'hello',
      expect: {
        ...refused,
        after: async (vars) => assert.equal(await tusOffset(vars.location!), 0),
      },
    },
    {
      name: `DELETE ${label} -> 412 with Tus-Version, and the upload survives`,
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 5 })).location }),
      method: 'DELETE',
      path: (v) => v.location!,
      headers: version,
      expect: {
        ...refused,
        after: async (vars) => assert.equal((await tusHead(vars.location!)).status, 200),
      },
    },
  ]);
  defineCases(() => server, cases);
});

describe('tus HEAD', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const cases: HttpCase<V>[] = [
    {
      name: 'HEAD of a fresh upload: 200/204, Upload-Offset 0, Upload-Length, Cache-Control: no-store',
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 11 })).location }),
      method: 'HEAD',
      path: (v) => v.location!,
      headers: TUS,
      expect: {
        status: [200, 204],
        equal: { 'Upload-Offset': '0', 'Upload-Length': '11', 'Tus-Resumable': '1.0.0' },
        lists: { 'Cache-Control': ['no-store'] },
        absent: ['Upload-Defer-Length'],
      },
    },
    {
      name: 'HEAD after a partial PATCH reports the new offset',
      setup: async (s) => {
        const { location } = await tusCreate(s, { 'Upload-Length': 11 });
        assert.equal((await tusPatch(location, 0, 'hello')).status, 204);
        return { location };
      },
      method: 'HEAD',
      path: (v) => v.location!,
      headers: TUS,
      expect: { status: [200, 204], equal: { 'Upload-Offset': '5', 'Upload-Length': '11' } },
    },
    {
      name: 'HEAD of a completed upload still carries Upload-Offset (= Upload-Length)',
      setup: async (s) => {
        const { location } = await tusCreate(s, { 'Upload-Length': 5 });
        assert.equal((await tusPatch(location, 0, 'hello')).status, 204);
        return { location };
      },
      method: 'HEAD',
      path: (v) => v.location!,
      headers: TUS,
      expect: { status: [200, 204], equal: { 'Upload-Offset': '5', 'Upload-Length': '5' }, lists: { 'Cache-Control': ['no-store'] } },
    },
    {
      name: 'HEAD of a deferred-length upload: Upload-Defer-Length: 1 and no Upload-Length',
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Defer-Length': 1 })).location }),
      method: 'HEAD',
      path: (v) => v.location!,
      headers: TUS,
      expect: { status: [200, 204], equal: { 'Upload-Defer-Length': '1', 'Upload-Offset': '0' }, absent: ['Upload-Length'] },
    },
    {
      name: 'HEAD of an unknown upload: 404 (or 410/403) without Upload-Offset',
      method: 'HEAD',
      path: '/files/0123456789abcdef0123456789abcdef',
      headers: TUS,
      expect: { status: [404, 410, 403], absent: ['Upload-Offset'], equal: { 'Tus-Resumable': '1.0.0' } },
    },
    {
      name: 'HEAD after DELETE: 404 or 410 without Upload-Offset',
      setup: async (s) => {
        const { location } = await tusCreate(s, { 'Upload-Length': 5 });
        assert.equal((await send(location, { method: 'DELETE', headers: TUS })).status, 204);
        return { location };
      },
      method: 'HEAD',
      path: (v) => v.location!,
      headers: TUS,
      expect: { status: [404, 410], absent: ['Upload-Offset'] },
    },
  ];
  defineCases(() => server, cases, { equal: { 'Tus-Resumable': '1.0.0' } });

  it('a HEAD response carries no body bytes on the wire', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 5 });
    const path = new URL(location).pathname;
    const res = await sendRaw(server.url, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n`);
    assert.ok([200, 204].includes(res.status), res.raw.slice(0, 300));
    assert.equal(res.headers['upload-offset'], '0');
    assert.equal(res.rest.length, 0, `HEAD response had a body: ${JSON.stringify(res.rest.toString('latin1').slice(0, 100))}`);
  });
});

describe('tus PATCH', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const fresh = (length = 11) => async (s: TestServer): Promise<V> => ({ location: (await tusCreate(s, { 'Upload-Length': length })).location });
  const offsetStays = (expected: number) => async (vars: V) => assert.equal(await tusOffset(vars.location!), expected, 'the offset moved');

  const cases: HttpCase<V>[] = [
    {
      name: 'PATCH at the current offset: 204 with the new Upload-Offset',
      setup: fresh(),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0 },
      body: 'hello',
      expect: { status: 204, equal: { 'Upload-Offset': '5', 'Tus-Resumable': '1.0.0' }, after: offsetStays(5) },
    },
    {
      name: 'a second PATCH continues from the first',
      setup: async (s) => {
        const vars = await fresh()(s);
        assert.equal((await tusPatch(vars.location!, 0, 'hello')).status, 204);
        return vars;
      },
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 5 },
      body: ' world',
      expect: { status: 204, equal: { 'Upload-Offset': '11' }, after: offsetStays(11) },
    },
    {
      name: 'an empty PATCH at the current offset: 204, offset unchanged',
      setup: fresh(),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0 },
      body: '',
      expect: { status: 204, equal: { 'Upload-Offset': '0' } },
    },
    {
      name: 'PATCH with Content-Type application/octet-stream -> 415',
      setup: fresh(),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': 'application/octet-stream', 'Upload-Offset': 0 },
      body: 'hello',
      expect: { status: 415, after: offsetStays(0) },
    },
    {
      name: 'PATCH without Content-Type -> 415',
      setup: fresh(),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Upload-Offset': 0 },
      body: 'hello',
      expect: { status: 415, after: offsetStays(0) },
    },
    {
      name: 'PATCH without Upload-Offset -> 400',
      setup: fresh(),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK },
      body: 'hello',
      expect: { status: 400, after: offsetStays(0) },
    },
    ...['-1', 'abc', '1.5', ''].map((bad): HttpCase<V> => ({
      name: `PATCH with Upload-Offset ${JSON.stringify(bad)} -> 400`,
      setup: fresh(),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': bad },
      body: 'hello',
      expect: { status: 400, after: offsetStays(0) },
    })),
    {
      name: 'PATCH at an offset ahead of the upload -> 409, offset unchanged',
      setup: fresh(),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 3 },
      body: 'lo',
      expect: { status: 409, after: offsetStays(0) },
    },
    {
      name: 'PATCH at an offset behind the upload -> 409, offset unchanged',
      setup: async (s) => {
        const vars = await fresh()(s);
        assert.equal((await tusPatch(vars.location!, 0, 'hello')).status, 204);
        return vars;
      },
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 2 },
      body: 'llo world',
      expect: { status: 409, after: offsetStays(5) },
    },
    {
      name: 'PATCH whose Content-Length goes past Upload-Length -> 413, offset unchanged',
      setup: fresh(5),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0 },
      body: 'hello world',
      expect: { status: 413, after: offsetStays(0) },
    },
    {
      name: 'PATCH past Upload-Length from a non-zero offset -> 413, offset unchanged',
      setup: async (s) => {
        const vars = await fresh(8)(s);
        assert.equal((await tusPatch(vars.location!, 0, 'hello')).status, 204);
        return vars;
      },
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 5 },
      body: ' world',
      expect: { status: 413, after: offsetStays(5) },
    },
    {
      name: 'PATCH to an unknown upload -> 404',
      method: 'PATCH',
      path: '/files/0123456789abcdef0123456789abcdef',
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0 },
      body: 'hello',
      expect: { status: 404, equal: { 'Tus-Resumable': '1.0.0' } },
    },
    {
      name: 'PATCH after DELETE -> 404 or 410',
      setup: async (s) => {
        const vars = await fresh()(s);
        assert.equal((await send(vars.location!, { method: 'DELETE', headers: TUS })).status, 204);
        return vars;
      },
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0 },
      body: 'hello',
      expect: { status: [404, 410] },
    },
  ];
  // Every response of the core protocol names the protocol version.
  defineCases(() => server, cases, { equal: { 'Tus-Resumable': '1.0.0' } });

  it('409 on an offset mismatch tells the client nothing wrong about the offset', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 11 });
    assert.equal((await tusPatch(location, 0, 'hello')).status, 204);
    const res = await tusPatch(location, 7, 'rld');
    assert.equal(res.status, 409);
    // Upload-Offset on a 409 is optional in tus, but if present it must be the real offset.
    const offset = res.header('upload-offset');
    if (offset !== undefined) assert.equal(offset, '5');
  });

  it('a chunked body longer than Upload-Length is refused (4xx) and never completes the upload', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 10 });
    const res = await tusPatch(location, 0, { chunks: [Buffer.alloc(6, 'a'), Buffer.alloc(6, 'b')], delayMs: 50 });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}: ${res.text()}`);
    const head = await tusHead(location);
    assert.equal(head.status, 200);
    assert.equal(head.header('upload-length'), '10');
    const offset = Number(head.header('upload-offset'));
    assert.ok(offset < 10, `the upload reached offset ${offset} of 10 from an oversized body`);
    // Not complete: it cannot be downloaded yet.
    const get = await send(location);
    assert.ok(get.status >= 400 && get.status < 500, `GET of the upload: ${get.status}`);
  });

  it('a chunked body that overshoots only in its last chunk does not complete the upload either', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 10 });
    const res = await tusPatch(location, 0, { chunks: [Buffer.alloc(10, 'a'), Buffer.alloc(1, 'b')], delayMs: 100 });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}: ${res.text()}`);
    const offset = await tusOffset(location);
    assert.ok(offset <= 10, `offset ${offset} is past the length`);
    const get = await send(location);
    assert.notEqual(get.status, 200, 'an upload fed an oversized body was completed');
  });

  it('a chunked body that exactly fills the upload completes it', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 10 });
    const res = await tusPatch(location, 0, { chunks: ['hello', 'world'], delayMs: 20 });
    assert.equal(res.status, 204, res.text());
    assert.equal(res.header('upload-offset'), '10');
    const get = await send(location);
    assert.equal(get.status, 200);
    assert.equal(get.text(), 'helloworld');
  });
});
