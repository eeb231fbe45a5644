/**
 * Hostile and malformed requests: every one must get a 4xx (never a 5xx), and none may make the
 * server touch the file system outside its data dir. Also the operational endpoints.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defineCases, type HttpCase } from '../helpers/http-cases.js';
import { send, sendRaw, sleep } from '../helpers/http-client.js';
import { listNames, listTree, startSandboxedServer, type SandboxedServer } from '../helpers/http-sandbox.js';
import { CHUNK, TUS, digest, draft, metadataHeader, metricValue, tusCreate, tusOffset, tusPatch, tusUpload } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type V = Record<string, string>;

const CLIENT_ERROR = Array.from({ length: 100 }, (_, i) => 400 + i);
/** A marker that any file the server wrongly created from our input would carry in its name. */
const MARK = `ferry-escape-${randomBytes(4).toString('hex')}`;

describe('bad input', () => {
  let sandbox: SandboxedServer;
  let server: TestServer;
  let treeBefore: string[];
  let tmpBefore: string[];
  let cwdBefore: string[];
  let open: string; // an unfinished upload (length 10, offset 0)
  let done: string; // a completed upload

  before(async () => {
    sandbox = await startSandboxedServer();
    server = sandbox.server;
    treeBefore = await listTree(sandbox.root, sandbox.dataDir);
    tmpBefore = await listNames(tmpdir());
    cwdBefore = await listNames(process.cwd());
    open = (await tusCreate(server, { 'Upload-Length': 10 })).location;
    // A hostile file name is only metadata: it must never become a path.
    done = (await tusUpload(server, 'done', { filename: `../../../../${MARK}`, filetype: `../${MARK}` })).location;
  });
  after(async () => { await sandbox?.stop(); });

  const badIds: [string, string][] = [
    ['a slash inside the id', '/files/abc/def'],
    ['raw dot-dot segments', `/files/../../outer/${MARK}`],
    ['a bare ..', '/files/..'],
    ['a bare .', '/files/.'],
    ['%2e%2e', '/files/%2e%2e'],
    ['%2e%2e%2f traversal', `/files/%2e%2e%2f%2e%2e%2f${MARK}`],
    ['%2F inside the id', `/files/..%2F..%2F${MARK}`],
    ['a leading %2F', `/files/%2F${MARK}`],
    ['double-encoded dots', `/files/%252e%252e%252f${MARK}`],
    ['a backslash traversal', `/files/..%5C..%5C${MARK}`],
    ['a NUL byte (%00)', '/files/0123456789abcdef%000123456789abcdef'],
    ['only a NUL byte', '/files/%00'],
    ['an invalid percent escape', '/files/%zz'],
    ['a 2000-character id', `/files/${'a'.repeat(2000)}`],
    ['a 20000-character id', `/files/${'b'.repeat(20000)}`],
    ['an unknown id', '/files/0123456789abcdef0123456789abcdef'],
    ['an upper-case hex id', '/files/0123456789ABCDEF0123456789ABCDEF'],
    ['a 33-character hex id', '/files/0123456789abcdef0123456789abcdef0'],
    ['a unicode id', '/files/%E2%80%AE%F0%9F%92%A9'],
  ];
  const methods: [string, Record<string, string | number>, string | undefined][] = [
    ['HEAD', TUS, undefined],
    ['GET', {}, undefined],
    ['PATCH', { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0 }, 'x'],
    ['DELETE', TUS, undefined],
  ];
  const idCases: HttpCase<V>[] = badIds.flatMap(([label, path]) =>
    methods.map(([method, headers, body]): HttpCase<V> => ({
      name: `${method} with ${label} -> 4xx`,
      method,
      path,
      headers,
      body,
      // Every tus response names the protocol version; a request head too large for Node's parser
      // (431) never reaches the application, so it is the one exception.
      expect: { status: CLIENT_ERROR, ...(method === 'GET' || path.length > 16_000 ? {} : { equal: { 'Tus-Resumable': '1.0.0' } }) },
    })),
  );
  const ietfIdCases: HttpCase<V>[] = badIds.slice(0, 8).flatMap(([label, path]) => [
    { name: `IETF HEAD with ${label} -> 4xx`, method: 'HEAD', path, headers: draft(8), expect: { status: CLIENT_ERROR } },
    {
      name: `IETF PATCH with ${label} -> 4xx`,
      method: 'PATCH',
      path,
      headers: draft(8, { 'Content-Type': 'application/partial-upload', 'Upload-Offset': 0, 'Upload-Complete': '?1' }),
      body: 'x',
      expect: { status: CLIENT_ERROR },
    },
  ]);

  const badNumbers = ['-1', '99999999999999999999', '9007199254740993', '1.5', '1e3', 'abc', '0x10', '+5', '5 5', ''];
  const lengthCases: HttpCase<V>[] = badNumbers.map((value) => ({
    name: `POST with Upload-Length ${JSON.stringify(value)} -> 400`,
    method: 'POST',
    path: '/files/',
    headers: { ...TUS, 'Upload-Length': value },
    expect: { status: 400, absent: ['Location'] },
  }));
  const offsetCases: HttpCase<V>[] = badNumbers.map((value) => ({
    name: `PATCH with Upload-Offset ${JSON.stringify(value)} -> 400, offset unchanged`,
    method: 'PATCH',
    path: () => open,
    headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': value },
    body: 'hello',
    expect: { status: 400, after: async () => assert.equal(await tusOffset(open), 0) },
  }));
  const deferredCases: HttpCase<V>[] = badNumbers.map((value) => ({
    name: `PATCH declaring Upload-Length ${JSON.stringify(value)} on a deferred upload -> 400`,
    setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Defer-Length': 1 })).location }),
    method: 'PATCH',
    path: (v) => v.location!,
    headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0, 'Upload-Length': value },
    body: 'hello',
    expect: { status: 400, after: async (v) => assert.equal(await tusOffset(v.location!), 0) },
  }));
  const ietfNumberCases: HttpCase<V>[] = ['-1', '99999999999999999999', '1.5', 'abc'].map((value) => ({
    name: `IETF PATCH with Upload-Offset ${JSON.stringify(value)} -> 400`,
    setup: async (s) => {
      const res = await send(s.endpoint, { method: 'POST', headers: draft(8, { 'Upload-Complete': '?0' }) });
      assert.equal(res.status, 201);
      return { location: res.header('location')! };
    },
    method: 'PATCH',
    path: (v) => v.location!,
    headers: draft(8, { 'Content-Type': 'application/partial-upload', 'Upload-Offset': value, 'Upload-Complete': '?0' }),
    body: 'hello',
    expect: { status: 400 },
  }));
  const lengthVsOffsetCases: HttpCase<V>[] = [
    {
      name: 'PATCH whose body runs past Upload-Length -> 413, offset unchanged',
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Length': 4 })).location }),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0 },
      body: 'hello',
      expect: { status: 413, after: async (v) => assert.equal(await tusOffset(v.location!), 0) },
    },
    {
      name: 'PATCH at a huge but well-formed offset -> 409',
      method: 'PATCH',
      path: () => open,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': '1234567890123' },
      body: 'hello',
      expect: { status: 409, after: async () => assert.equal(await tusOffset(open), 0) },
    },
    {
      name: 'PATCH at the end of a completed upload with more bytes -> 4xx, nothing changes',
      method: 'PATCH',
      path: () => done,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 4 },
      body: 'more',
      expect: { status: CLIENT_ERROR, after: async () => assert.equal((await send(done)).text(), 'done') },
    },
    {
      name: 'PATCH with Content-Length 0 but a deferred-length overflow declared -> 400',
      setup: async (s) => ({ location: (await tusCreate(s, { 'Upload-Defer-Length': 1 })).location }),
      method: 'PATCH',
      path: (v) => v.location!,
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0, 'Upload-Length': '99999999999999999999' },
      body: '',
      expect: { status: 400 },
    },
  ];
  const metadataCases: HttpCase<V>[] = [
    ['a lone comma', ',', [400]],
    ['a key with a tab', 'file\tname dmFs', [400]],
    ['base64 with whitespace inside', 'filename d29y bGQ=', [400]],
    ['base64url characters', 'filename _-__', [400]],
  ].map(([label, header, statuses]) => ({
    name: `Upload-Metadata with ${label as string} -> 4xx`,
    method: 'POST',
    path: '/files/',
    headers: { ...TUS, 'Upload-Length': 5, 'Upload-Metadata': header as string },
    expect: { status: statuses as number[] },
  }));
  const checksumCases: HttpCase<V>[] = [
    ['an empty value', ''],
    ['only spaces between', 'sha1    '],
    ['an unknown algorithm with a path', `../${MARK} AAAA`],
    ['a digest of the wrong length', `sha256 ${digest('sha1', 'hello')}`],
    ['two checksums', `sha1 ${digest('sha1', 'hello')}, md5 ${digest('md5', 'hello')}`],
  ].map(([label, header]) => ({
    name: `Upload-Checksum with ${label} -> 400, offset unchanged`,
    method: 'PATCH',
    path: () => open,
    headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': 0, 'Upload-Checksum': header! },
    body: 'hello',
    expect: { status: 400, after: async () => assert.equal(await tusOffset(open), 0) },
  }));
  const concatCases: HttpCase<V>[] = [
    `final;/files/../../../${MARK}`,
    `final;/files/..%2F..%2F${MARK}`,
    `final;/files/%2e%2e%2f${MARK}`,
    `final;file:///etc/passwd`,
    `final;/files/0123456789abcdef0123456789abcdef%00`,
    `final; `,
  ].map((header) => ({
    name: `Upload-Concat ${JSON.stringify(header)} -> 400`,
    method: 'POST',
    path: '/files/',
    headers: { ...TUS, 'Upload-Concat': header },
    expect: { status: 400, absent: ['Location'] },
  }));

  defineCases(() => server, [
    ...idCases,
    ...ietfIdCases,
    ...lengthCases,
    ...offsetCases,
    ...deferredCases,
    ...ietfNumberCases,
    ...lengthVsOffsetCases,
    ...metadataCases,
    ...checksumCases,
    ...concatCases,
  ]);

  const rawCases: [string, string][] = [
    ['a negative Content-Length', 'Content-Length: -1\r\n\r\n'],
    ['a non-numeric Content-Length', 'Content-Length: abc\r\n\r\n'],
    ['a huge Content-Length', 'Content-Length: 99999999999999999999\r\n\r\n'],
    ['two different Content-Lengths', 'Content-Length: 1\r\nContent-Length: 2\r\n\r\nx'],
    ['Content-Length with Transfer-Encoding', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['a broken chunked body', 'Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['Upload-Offset sent twice', 'Upload-Offset: 0\r\nUpload-Offset: 0\r\nContent-Length: 5\r\n\r\nhello'],
  ];
  for (const [label, tail] of rawCases) {
    it(`PATCH with ${label} -> 4xx, offset unchanged`, async () => {
      const { pathname } = new URL(open);
      const head = `PATCH ${pathname} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\nContent-Type: ${CHUNK}\r\n`;
      const extra = tail.startsWith('Upload-Offset') ? '' : 'Upload-Offset: 0\r\n';
      const res = await sendRaw(server.url, head + extra + tail);
      assert.ok(res.status >= 400 && res.status < 500, `got ${JSON.stringify(res.raw.slice(0, 200))}`);
      assert.equal(await tusOffset(open), 0);
    });
  }

  it('a request line with a raw NUL or space in the path -> 4xx', async () => {
    for (const path of ['/files/abc\u0000def', '/files/a b']) {
      const res = await sendRaw(server.url, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n`);
      assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(path)}: ${JSON.stringify(res.raw.slice(0, 200))}`);
    }
  });

  it('the hostile file name is served sanitised, not as a path', async () => {
    const res = await send(done);
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'done');
    assert.doesNotMatch(res.header('content-disposition') ?? '', /\.\.\/|\.\.%2F/i);
  });

  // Runs last in this suite (node:test keeps declaration order within a file).
  it('nothing was written outside the data dir, and the blobs dir holds only id-named files', async () => {
    assert.deepEqual(await listTree(sandbox.root, sandbox.dataDir), treeBefore, 'files appeared in the sandbox outside the data dir');
    for (const [where, before] of [[tmpdir(), tmpBefore], [process.cwd(), cwdBefore]] as const) {
      const now = await listNames(where);
      const appeared = now.filter((name) => !before.includes(name));
      assert.deepEqual(appeared.filter((name) => name.includes(MARK)), [], `a file named after the attack payload appeared in ${where}`);
    }
    // Only the blob tree and the metadata database live in the data dir.
    for (const name of await listNames(sandbox.dataDir)) {
      assert.match(name, /^(blobs|ferry\.db(-wal|-shm|-journal)?)$/, `unexpected entry in the data dir: ${name}`);
    }
    const blobs = await listTree(join(sandbox.dataDir, 'blobs'));
    assert.ok(blobs.length > 0, 'expected some blobs');
    for (const entry of blobs) {
      assert.match(entry, /^([0-9a-f]{2})\/(\1[0-9a-f]{30})?$/, `unexpected entry in the blobs dir: ${entry}`);
    }
    assert.ok(!blobs.some((entry) => entry.includes(MARK)));
  });
});

describe('operational endpoints', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  it('/healthz -> 200', async () => {
    const res = await send(`${server.url}/healthz`);
    assert.equal(res.status, 200, res.text());
  });

  it('/readyz -> 200', async () => {
    const res = await send(`${server.url}/readyz`);
    assert.equal(res.status, 200, res.text());
  });

  it('/metrics exposes the upload counters, and they move with an upload', async () => {
    const names = ['ferry_uploads_created_total', 'ferry_uploads_completed_total', 'ferry_bytes_received_total', 'ferry_http_request_duration_seconds_count'];
    const before = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await metricValue(server, name)] as const)));
    assert.equal(typeof (await metricValue(server, 'ferry_uploads_active')), 'number');

    const data = randomBytes(3000);
    const { location } = await tusCreate(server, { 'Upload-Length': data.length });
    assert.equal((await tusPatch(location, 0, data.subarray(0, 1000))).status, 204);
    assert.equal((await tusPatch(location, 1000, data.subarray(1000))).status, 204);

    const afterValues = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await metricValue(server, name)] as const)));
    assert.equal(afterValues.ferry_uploads_created_total! - before.ferry_uploads_created_total!, 1);
    assert.equal(afterValues.ferry_uploads_completed_total! - before.ferry_uploads_completed_total!, 1);
    assert.equal(afterValues.ferry_bytes_received_total! - before.ferry_bytes_received_total!, 3000);
    assert.ok(afterValues.ferry_http_request_duration_seconds_count! >= before.ferry_http_request_duration_seconds_count! + 3, 'request durations were not recorded');
  });

  it('rejected bytes are not counted as received', async () => {
    const before = await metricValue(server, 'ferry_bytes_received_total');
    const { location } = await tusCreate(server, { 'Upload-Length': 5 });
    assert.equal((await tusPatch(location, 0, 'hello', { 'Upload-Checksum': `sha1 ${digest('sha1', 'HELLO')}` })).status, 460);
    assert.equal(await metricValue(server, 'ferry_bytes_received_total'), before);
  });

  it('ferry_uploads_active counts a streaming upload while it streams, and drops back after', async () => {
    const base = await metricValue(server, 'ferry_uploads_active');
    const { location } = await tusCreate(server, { 'Upload-Length': 30 });
    let during = -1;
    const res = await tusPatch(location, 0, {
      chunks: ['0123456789', '0123456789', '0123456789'],
      delayMs: 50,
      onChunk: async (index) => {
        if (index === 0) {
          await sleep(100);
          during = await metricValue(server, 'ferry_uploads_active');
        }
      },
    });
    assert.equal(res.status, 204);
    assert.equal(during, base + 1, 'the streaming PATCH was not counted as active');
    assert.equal(await metricValue(server, 'ferry_uploads_active'), base);
  });

  it('ferry_uploads_active drops back after a client aborts mid-upload', async () => {
    const base = await metricValue(server, 'ferry_uploads_active');
    const { location } = await tusCreate(server, { 'Upload-Length': 30 });
    await tusPatch(location, 0, { chunks: ['0123456789', '0123456789'], abortAfter: 1 });
    let active = await metricValue(server, 'ferry_uploads_active');
    for (let i = 0; i < 20 && active !== base; i += 1) {
      await sleep(100);
      active = await metricValue(server, 'ferry_uploads_active');
    }
    assert.equal(active, base, 'an aborted request stayed counted as active');
    // The bytes that arrived before the abort are kept, as tus asks ("store as much as possible").
    let offset = await tusOffset(location);
    for (let i = 0; i < 20 && offset !== 10; i += 1) {
      await sleep(100);
      offset = await tusOffset(location);
    }
    assert.equal(offset, 10);
  });

  it('metadata in /metrics does not leak upload ids or file names', async () => {
    const { id } = await tusUpload(server, 'x', { filename: 'secret-name.txt' });
    const res = await send(`${server.url}/metrics`);
    assert.ok(!res.text().includes(id));
    assert.ok(!res.text().includes('secret-name'));
  });
});

describe('metadata values never break headers', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  it('metadata with CR/LF round-trips through HEAD base64-encoded, without injecting headers', async () => {
    const evil = 'x\r\nSet-Cookie: owned=1';
    const { location } = await tusCreate(server, { 'Upload-Length': 1, 'Upload-Metadata': metadataHeader({ note: evil }) });
    const res = await send(location, { method: 'HEAD', headers: TUS });
    assert.equal(res.status, 200);
    assert.equal(res.header('set-cookie'), undefined);
    assert.equal(res.header('upload-metadata'), metadataHeader({ note: evil }));
  });
});
