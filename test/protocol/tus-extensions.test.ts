/**
 * tus 1.0.0 extensions, from ../shared/specs/tus-protocol.md: checksum, termination, expiration,
 * concatenation, X-HTTP-Method-Override, plus CORS for browser clients.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defineCases, type HttpCase } from '../helpers/http-cases.js';
import { send, sleep } from '../helpers/http-client.js';
import { CHUNK, IMF_FIXDATE, TUS, digest, tusCreate, tusHead, tusOffset, tusPatch, tusUpload } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type V = Record<string, string>;

/** Every regular file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath ?? entry.path, entry.name).slice(dir.length + 1));
}

describe('tus checksum', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const fresh = async (s: TestServer): Promise<V> => ({ location: (await tusCreate(s, { 'Upload-Length': 11 })).location });
  const offsetStays = async (vars: V) => assert.equal(await tusOffset(vars.location!), 0, 'the rejected chunk moved the offset');
  const patch = (checksum: string): Pick<HttpCase<V>, 'method' | 'path' | 'headers' | 'body'> => ({
    method: 'PATCH',
    path: (v: V) => v.location!,
    headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0, 'Upload-Checksum': checksum },
    body: 'hello',
  });

  const cases: HttpCase<V>[] = [
    ...(['sha1', 'sha256', 'md5'] as const).map((algorithm): HttpCase<V> => ({
      name: `a correct ${algorithm} checksum is accepted`,
      setup: fresh,
      ...patch(`${algorithm} ${digest(algorithm, 'hello')}`),
      expect: { status: 204, equal: { 'Upload-Offset': '5' } },
    })),
    ...(['sha1', 'sha256', 'md5'] as const).map((algorithm): HttpCase<V> => ({
      name: `a mismatching ${algorithm} checksum -> 460, the chunk is discarded`,
      setup: fresh,
      ...patch(`${algorithm} ${digest(algorithm, 'hellO')}`),
      expect: { status: 460, after: offsetStays },
    })),
    {
      name: 'an unsupported algorithm -> 400, the chunk is discarded',
      setup: fresh,
      ...patch(`crc32 ${Buffer.from([1, 2, 3, 4]).toString('base64')}`),
      expect: { status: 400, after: offsetStays },
    },
    ...[
      ['no digest', 'sha1'],
      ['no algorithm', digest('sha1', 'hello')],
      ['a digest that is not base64', 'sha1 !!!not-base64!!!'],
      ['a digest of the wrong length', `sha1 ${digest('md5', 'hello')}`],
      ['an upper-case algorithm name', `SHA1 ${digest('sha1', 'hello')}`],
      ['a colon instead of a space', `sha1:${digest('sha1', 'hello')}`],
    ].map(([label, header]): HttpCase<V> => ({
      name: `a malformed Upload-Checksum (${label}) -> 400, the chunk is discarded`,
      setup: fresh,
      ...patch(header!),
      expect: { status: 400, after: offsetStays },
    })),
  ];
  defineCases(() => server, cases, { equal: { 'Tus-Resumable': '1.0.0' } });

  it('after a 460 the same chunk with the right checksum is accepted at the same offset', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 11 });
    assert.equal((await tusPatch(location, 0, 'hello', { 'Upload-Checksum': `sha1 ${digest('sha1', 'hello')}` })).status, 204);
    const bad = await tusPatch(location, 5, ' world', { 'Upload-Checksum': `sha1 ${digest('sha1', ' WORLD')}` });
    assert.equal(bad.status, 460);
    assert.equal(await tusOffset(location), 5);
    const good = await tusPatch(location, 5, ' world', { 'Upload-Checksum': `sha1 ${digest('sha1', ' world')}` });
    assert.equal(good.status, 204, good.text());
    assert.equal(good.header('upload-offset'), '11');
    const get = await send(location);
    assert.equal(get.text(), 'hello world');
    assert.equal(get.header('etag'), `"${digest('sha256', 'hello world', 'hex')}"`);
  });

  it('a checksum over a chunked body is verified once the whole body has arrived', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 11 });
    const bad = await tusPatch(location, 0, { chunks: ['hello', ' world'], delayMs: 30 }, { 'Upload-Checksum': `sha256 ${digest('sha256', 'hello')}` });
    assert.equal(bad.status, 460);
    assert.equal(await tusOffset(location), 0);
    const good = await tusPatch(location, 0, { chunks: ['hello', ' world'], delayMs: 30 }, { 'Upload-Checksum': `sha256 ${digest('sha256', 'hello world')}` });
    assert.equal(good.status, 204);
    assert.equal(good.header('upload-offset'), '11');
  });
});

describe('tus termination', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const terminated = async (s: TestServer): Promise<V> => {
    const { location } = await tusCreate(s, { 'Upload-Length': 11 });
    assert.equal((await tusPatch(location, 0, 'hello')).status, 204);
    const res = await send(location, { method: 'DELETE', headers: TUS });
    assert.equal(res.status, 204, `DELETE: ${res.status} ${res.text()}`);
    return { location };
  };
  const cases: HttpCase<V>[] = [
    {
      name: 'DELETE of an unfinished upload -> 204',
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 11 })).location }),
      method: 'DELETE',
      path: (v) => v.location!,
      headers: TUS,
      expect: { status: 204, equal: { 'Tus-Resumable': '1.0.0' } },
    },
    {
      name: 'DELETE of a completed upload -> 204, and it can no longer be downloaded',
      setup: async (s) => ({ location: (await tusUpload(s, 'done')).location }),
      method: 'DELETE',
      path: (v) => v.location!,
      headers: TUS,
      expect: {
        status: 204,
        after: async (vars) => {
          const get = await send(vars.location!);
          assert.ok([404, 410].includes(get.status), `GET after DELETE: ${get.status}`);
        },
      },
    },
    { name: 'HEAD after DELETE -> 404/410', setup: terminated, method: 'HEAD', path: (v) => v.location!, headers: TUS, expect: { status: [404, 410] } },
    {
      name: 'PATCH after DELETE -> 404/410',
      setup: terminated,
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 5 },
      body: ' world',
      expect: { status: [404, 410] },
    },
    { name: 'a second DELETE -> 404/410', setup: terminated, method: 'DELETE', path: (v) => v.location!, headers: TUS, expect: { status: [404, 410] } },
    { name: 'DELETE of an unknown upload -> 404', method: 'DELETE', path: '/files/0123456789abcdef0123456789abcdef', headers: TUS, expect: { status: [404, 410] } },
  ];
  defineCases(() => server, cases, { equal: { 'Tus-Resumable': '1.0.0' } });

  it('DELETE frees the stored bytes', async () => {
    const { id, location } = await tusCreate(server, { 'Upload-Length': 11 });
    assert.equal((await tusPatch(location, 0, 'hello')).status, 204);
    assert.ok((await filesUnder(server.dataDir)).some((file) => file.endsWith(id)), 'the blob was not found in the data dir');
    assert.equal((await send(location, { method: 'DELETE', headers: TUS })).status, 204);
    assert.deepEqual((await filesUnder(server.dataDir)).filter((file) => file.includes(id)), []);
  });
});

describe('tus expiration', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ uploadExpirySeconds: 1 }); });
  after(async () => { await server?.stop(); });

  it('Upload-Expires is an HTTP-date in the future on POST and PATCH of an unfinished upload', async () => {
    const { location, res } = await tusCreate(server, { 'Upload-Length': 11 });
    const created = res.header('upload-expires');
    assert.match(created ?? '', IMF_FIXDATE);
    // Whole seconds: "in the future" allows for the truncation of the fraction.
    assert.ok(Date.parse(created!) + 1000 > Date.now(), `Upload-Expires ${created} is in the past`);
    assert.ok(Date.parse(created!) <= Date.now() + 5_000, `Upload-Expires ${created} is far later than the 1 s configured`);
    const patch = await tusPatch(location, 0, 'hello');
    assert.equal(patch.status, 204);
    assert.match(patch.header('upload-expires') ?? '', IMF_FIXDATE, 'PATCH of an upload that will expire must carry Upload-Expires');
  });

  it('after expiry and a sweep the upload is gone (404/410) and its blob file is removed', async () => {
    const { id, location } = await tusCreate(server, { 'Upload-Length': 11 });
    assert.equal((await tusPatch(location, 0, 'hello')).status, 204);
    assert.ok((await filesUnder(server.dataDir)).some((file) => file.endsWith(id)), 'the blob should exist before expiry');

    await sleep(1_300);
    const swept = await server.uploads.sweepExpired();
    assert.ok(swept >= 1, `sweepExpired removed ${swept} uploads`);

    const head = await tusHead(location);
    assert.ok([404, 410].includes(head.status), `HEAD after expiry: ${head.status}`);
    const patch = await tusPatch(location, 5, ' world');
    assert.ok([404, 410].includes(patch.status), `PATCH after expiry: ${patch.status}`);
    assert.deepEqual((await filesUnder(server.dataDir)).filter((file) => file.includes(id)), [], 'the blob file is still there');
  });

  it('a completed upload is not swept', async () => {
    const { location } = await tusUpload(server, 'keep me');
    await sleep(1_300);
    await server.uploads.sweepExpired();
    const get = await send(location);
    assert.equal(get.status, 200);
    assert.equal(get.text(), 'keep me');
  });
});

describe('tus concatenation', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  async function partial(s: TestServer, data: string): Promise<string> {
    const { location } = await tusCreate(s, { 'Upload-Length': Buffer.byteLength(data), 'Upload-Concat': 'partial' });
    if (data.length > 0) assert.equal((await tusPatch(location, 0, data)).status, 204);
    return location;
  }

  it('two partials and a final: 201, HEAD shows the final, and the download is the concatenation', async () => {
    const a = await partial(server, 'hello');
    const b = await partial(server, ' world');
    const concat = `final;${a} ${b}`;
    const res = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Concat': concat } });
    assert.equal(res.status, 201, res.text());
    const location = new URL(res.header('location')!, server.endpoint).toString();
    assert.notEqual(location, a);

    const head = await tusHead(location);
    assert.equal(head.status, 200);
    assert.equal(head.header('upload-concat'), concat);
    assert.equal(head.header('upload-length'), '11');
    assert.equal(head.header('upload-offset'), '11');

    const get = await send(location);
    assert.equal(get.status, 200);
    assert.equal(get.text(), 'hello world');
  });

  it('partials are concatenated in the order listed, and may repeat', async () => {
    const a = await partial(server, 'ab');
    const b = await partial(server, 'cd');
    const res = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${b} ${a} ${b}` } });
    assert.equal(res.status, 201, res.text());
    assert.equal((await send(new URL(res.header('location')!, server.endpoint).toString())).text(), 'cdabcd');
  });

  it('relative partial URLs are accepted and HEAD echoes Upload-Concat as received', async () => {
    const a = await partial(server, 'x');
    const b = await partial(server, 'y');
    // One relative, one absolute: the HEAD answer carries the value as received (tus 1.0, Concatenation).
    const value = `final;${new URL(a).pathname} ${b}`;
    const res = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Concat': value } });
    assert.equal(res.status, 201, res.text());
    const head = await tusHead(new URL(res.header('location')!, server.endpoint).toString());
    assert.equal(head.header('upload-concat'), value);
    assert.equal((await send(new URL(res.header('location')!, server.endpoint))).text(), 'xy');
  });

  it('HEAD of a partial upload shows Upload-Concat: partial and its offset', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 5, 'Upload-Concat': 'partial' });
    const head = await tusHead(location);
    assert.equal(head.header('upload-concat'), 'partial');
    assert.equal(head.header('upload-offset'), '0');
  });

  it('PATCH on a final upload -> 403, and neither the final nor its partials change', async () => {
    const a = await partial(server, 'hello');
    const res = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${a}` } });
    assert.equal(res.status, 201, res.text());
    const final = new URL(res.header('location')!, server.endpoint).toString();
    for (const offset of [0, 5]) {
      const patch = await tusPatch(final, offset, 'more');
      assert.equal(patch.status, 403, `PATCH at ${offset}: ${patch.status}`);
    }
    assert.equal((await send(final)).text(), 'hello');
    assert.equal((await send(a)).text(), 'hello');
  });

  const finalWith = (concat: (vars: V) => string): Pick<HttpCase<V>, 'method' | 'path' | 'headers'> => ({
    method: 'POST',
    path: '/files/',
    headers: (vars) => ({ ...TUS, 'Upload-Concat': concat(vars) }),
  });
  const cases: HttpCase<V>[] = [
    {
      name: 'a final naming a non-partial upload -> 400',
      setup: async (s) => ({ a: await partial(s, 'x'), plain: (await tusUpload(s, 'plain')).location }),
      ...finalWith((v) => `final;${v.a} ${v.plain}`),
      expect: { status: 400, absent: ['Location'] },
    },
    {
      name: 'a final naming an unknown upload -> 400',
      setup: async (s) => ({ a: await partial(s, 'x') }),
      ...finalWith((v) => `final;${v.a} ${new URL('/files/0123456789abcdef0123456789abcdef', v.a).toString()}`),
      expect: { status: 400, absent: ['Location'] },
    },
    {
      name: 'a final naming a terminated partial -> 400',
      setup: async (s) => {
        const a = await partial(s, 'x');
        assert.equal((await send(a, { method: 'DELETE', headers: TUS })).status, 204);
        return { a };
      },
      ...finalWith((v) => `final;${v.a}`),
      expect: { status: 400, absent: ['Location'] },
    },
    {
      name: 'a final naming a URL that is not an upload -> 400',
      ...finalWith(() => 'final;http://example.com/elsewhere'),
      expect: { status: 400, absent: ['Location'] },
    },
    {
      name: 'a final with no partials -> 400',
      ...finalWith(() => 'final;'),
      expect: { status: 400, absent: ['Location'] },
    },
    {
      // The server does not announce concatenation-unfinished, so it may refuse unfinished partials.
      name: 'a final naming an unfinished partial -> 4xx (concatenation-unfinished is not offered)',
      setup: async (s) => ({ a: (await tusCreate(s, { 'Upload-Length': 5, 'Upload-Concat': 'partial' })).location }),
      ...finalWith((v) => `final;${v.a}`),
      expect: { status: [400, 409, 412, 422], absent: ['Location'] },
    },
    {
      name: 'an Upload-Concat that is neither partial nor final -> 400',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 5, 'Upload-Concat': 'middle' },
      expect: { status: 400, absent: ['Location'] },
    },
  ];
  defineCases(() => server, cases, { equal: { 'Tus-Resumable': '1.0.0' } });
});

describe('tus X-HTTP-Method-Override', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  it('POST with X-HTTP-Method-Override: PATCH appends like a PATCH', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 5 });
    const res = await send(location, {
      method: 'POST',
      headers: { ...TUS, 'X-HTTP-Method-Override': 'PATCH', 'Content-Type': CHUNK, 'Upload-Offset': 0 },
      body: 'hello',
    });
    assert.equal(res.status, 204, res.text());
    assert.equal(res.header('upload-offset'), '5');
    assert.equal((await send(location)).text(), 'hello');
  });

  it('the overriding PATCH keeps the PATCH rules (409 on a wrong offset)', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 5 });
    const res = await send(location, {
      method: 'POST',
      headers: { ...TUS, 'X-HTTP-Method-Override': 'PATCH', 'Content-Type': CHUNK, 'Upload-Offset': 2 },
      body: 'llo',
    });
    assert.equal(res.status, 409);
    assert.equal(await tusOffset(location), 0);
  });

  it('POST with X-HTTP-Method-Override: DELETE terminates like a DELETE', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 5 });
    const res = await send(location, { method: 'POST', headers: { ...TUS, 'X-HTTP-Method-Override': 'DELETE' } });
    assert.equal(res.status, 204, res.text());
    assert.ok([404, 410].includes((await tusHead(location)).status));
  });
});

describe('CORS', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const origin = 'https://app.example';
  const exposed = ['Upload-Offset', 'Location', 'Tus-Resumable', 'Upload-Length', 'Upload-Expires', 'Upload-Metadata'];
  const cases: HttpCase<V>[] = [
    {
      name: 'a preflight for POST on the endpoint gets Allow-Origin, -Methods and -Headers',
      method: 'OPTIONS',
      path: '/files/',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'tus-resumable, upload-length, upload-metadata' },
      expect: {
        status: [200, 204],
        match: { 'Access-Control-Allow-Origin': /^(\*|https:\/\/app\.example)$/ },
        lists: {
          'Access-Control-Allow-Methods': ['POST'],
          'Access-Control-Allow-Headers': ['Tus-Resumable', 'Upload-Length', 'Upload-Metadata'],
        },
      },
    },
    {
      name: 'a preflight for PATCH on an upload gets the headers a PATCH needs',
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 5 })).location }),
      method: 'OPTIONS',
      path: (v) => v.location!,
      headers: { Origin: origin, 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'content-type, upload-offset, tus-resumable' },
      expect: {
        status: [200, 204],
        present: ['Access-Control-Allow-Origin'],
        lists: {
          'Access-Control-Allow-Methods': ['PATCH', 'HEAD', 'DELETE'],
          'Access-Control-Allow-Headers': ['Content-Type', 'Upload-Offset', 'Tus-Resumable', 'Upload-Checksum', 'Upload-Concat', 'X-HTTP-Method-Override'],
        },
      },
    },
    {
      name: 'a cross-origin POST exposes Location, Upload-Offset, Tus-Resumable and friends',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, Origin: origin, 'Upload-Length': 5 },
      expect: { status: 201, present: ['Access-Control-Allow-Origin'], lists: { 'Access-Control-Expose-Headers': exposed } },
    },
    {
      name: 'a cross-origin HEAD exposes the upload state headers',
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 5 })).location }),
      method: 'HEAD',
      path: (v) => v.location!,
      headers: { ...TUS, Origin: origin },
      expect: { status: 200, present: ['Access-Control-Allow-Origin'], lists: { 'Access-Control-Expose-Headers': [...exposed, 'Upload-Defer-Length', 'Upload-Concat'] } },
    },
    {
      name: 'a cross-origin 409 still exposes Upload-Offset to the browser',
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 5 })).location }),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, Origin: origin, 'Content-Type': CHUNK, 'Upload-Offset': 3 },
      body: 'lo',
      expect: { status: 409, present: ['Access-Control-Allow-Origin'], lists: { 'Access-Control-Expose-Headers': ['Upload-Offset', 'Tus-Resumable'] } },
    },
    {
      name: 'a same-origin request (no Origin) gets no CORS headers',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 5 },
      expect: { status: 201, absent: ['Access-Control-Allow-Origin', 'Access-Control-Expose-Headers'] },
    },
  ];
  defineCases(() => server, cases);
});

describe('CORS with an origin allow-list', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ corsOrigins: ['https://good.example'] }); });
  after(async () => { await server?.stop(); });

  defineCases(() => server, [
    {
      name: 'an allowed origin is echoed (with Vary: Origin)',
      method: 'OPTIONS',
      path: '/files/',
      headers: { Origin: 'https://good.example', 'Access-Control-Request-Method': 'POST' },
      expect: { status: [200, 204], equal: { 'Access-Control-Allow-Origin': 'https://good.example' }, lists: { Vary: ['Origin'] } },
    },
    {
      name: 'another origin gets no Access-Control-Allow-Origin',
      method: 'OPTIONS',
      path: '/files/',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
      expect: { status: [200, 204, 403], absent: ['Access-Control-Allow-Origin'] },
    },
  ]);
});
