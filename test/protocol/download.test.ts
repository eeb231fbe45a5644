/**
 * Downloads of completed uploads (GET/HEAD on the upload URL without a draft header), per RFC 9110
 * (ranges, conditional requests), RFC 6266 / RFC 8187 (Content-Disposition) and the specs' advice
 * to treat metadata as untrusted input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineCases, type HttpCase } from '../helpers/http-cases.js';
import { send, sendRaw } from '../helpers/http-client.js';
import { TUS, digest, tusCreate, tusPatch, tusUpload } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type V = Record<string, string>;

const CONTENT = 'hello world, this is ferry'; // 26 bytes
const SIZE = Buffer.byteLength(CONTENT);

/** Parses `attachment; filename="..."; filename*=UTF-8''...` strictly enough to judge it. */
function parseDisposition(raw: string): { type: string; filename?: string; filenameStar?: string } {
  const match = /^\s*([A-Za-z-]+)\s*((?:;\s*[^;]+)*)$/.exec(raw);
  assert.ok(match, `unparseable Content-Disposition: ${JSON.stringify(raw)}`);
  const out: { type: string; filename?: string; filenameStar?: string } = { type: match[1]!.toLowerCase() };
  const params = /;\s*([A-Za-z*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)/g;
  let rest = match[2]!;
  let param: RegExpExecArray | null;
  let consumed = '';
  while ((param = params.exec(rest)) !== null) {
    consumed += param[0];
    const name = param[1]!.toLowerCase();
    const value = param[2]!;
    if (name === 'filename') {
      out.filename = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    } else if (name === 'filename*') {
      const ext = /^UTF-8'[^']*'(.*)$/i.exec(value);
      assert.ok(ext, `filename* is not RFC 8187 UTF-8: ${value}`);
      assert.match(ext[1]!, /^(?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-Fa-f]{2})*$/, `filename* has characters RFC 8187 does not allow: ${value}`);
      out.filenameStar = decodeURIComponent(ext[1]!);
    }
  }
  rest = rest.replace(/\s+/g, '');
  assert.equal(consumed.replace(/\s+/g, ''), rest, `Content-Disposition has junk: ${JSON.stringify(raw)}`);
  return out;
}

describe('download of a completed upload', () => {
  let server: TestServer;
  let location: string;
  let path: string;
  before(async () => {
    server = await startTestServer();
    location = (await tusUpload(server, CONTENT, { filename: 'notes.txt', filetype: 'text/plain' })).location;
    path = new URL(location).pathname;
  });
  after(async () => { await server?.stop(); });

  const etag = `"${digest('sha256', CONTENT, 'hex')}"`;
  const cases: HttpCase<V>[] = [
    {
      name: 'GET: 200 with the bytes, Content-Length, Content-Type from filetype, ETag "<sha256>", Accept-Ranges',
      method: 'GET',
      path: () => path,
      expect: {
        status: 200,
        equal: { 'Content-Length': String(SIZE), 'Content-Type': 'text/plain', ETag: etag, 'Accept-Ranges': 'bytes' },
        body: (body) => assert.equal(body.toString(), CONTENT),
      },
    },
    {
      // A plain HTTP HEAD (no Tus-Resumable, so not a tus offset request) must mirror GET (RFC 9110 9.3.2).
      name: 'HEAD without Tus-Resumable: the same headers as GET',
      method: 'HEAD',
      path: () => path,
      expect: { status: 200, equal: { 'Content-Length': String(SIZE), 'Content-Type': 'text/plain', ETag: etag, 'Accept-Ranges': 'bytes' }, present: ['Content-Disposition'] },
    },
    {
      name: 'GET with Tus-Resumable works the same (the header does not turn it into something else)',
      method: 'GET',
      path: () => path,
      headers: TUS,
      expect: { status: 200, body: (body) => assert.equal(body.toString(), CONTENT) },
    },
    {
      name: 'Range bytes=0-4 -> 206 with Content-Range bytes 0-4/SIZE and the first five bytes',
      method: 'GET',
      path: () => path,
      headers: { Range: 'bytes=0-4' },
      expect: {
        status: 206,
        equal: { 'Content-Range': `bytes 0-4/${SIZE}`, 'Content-Length': '5' },
        body: (body) => assert.equal(body.toString(), CONTENT.slice(0, 5)),
      },
    },
    {
      name: 'Range bytes=5- -> 206 with the rest',
      method: 'GET',
      path: () => path,
      headers: { Range: 'bytes=5-' },
      expect: {
        status: 206,
        equal: { 'Content-Range': `bytes 5-${SIZE - 1}/${SIZE}`, 'Content-Length': String(SIZE - 5) },
        body: (body) => assert.equal(body.toString(), CONTENT.slice(5)),
      },
    },
    {
      name: 'Range bytes=-3 -> 206 with the last three bytes',
      method: 'GET',
      path: () => path,
      headers: { Range: 'bytes=-3' },
      expect: {
        status: 206,
        equal: { 'Content-Range': `bytes ${SIZE - 3}-${SIZE - 1}/${SIZE}`, 'Content-Length': '3' },
        body: (body) => assert.equal(body.toString(), CONTENT.slice(-3)),
      },
    },
    {
      name: 'Range whose end is past the file -> 206 clipped to the file',
      method: 'GET',
      path: () => path,
      headers: { Range: 'bytes=20-1000' },
      expect: {
        status: 206,
        equal: { 'Content-Range': `bytes 20-${SIZE - 1}/${SIZE}` },
        body: (body) => assert.equal(body.toString(), CONTENT.slice(20)),
      },
    },
    {
      name: 'Range bytes=1000- beyond the end -> 416 with Content-Range: bytes */SIZE',
      method: 'GET',
      path: () => path,
      headers: { Range: 'bytes=1000-' },
      expect: { status: 416, equal: { 'Content-Range': `bytes */${SIZE}` } },
    },
    {
      name: `Range bytes=${SIZE}- (first byte just past the end) -> 416`,
      method: 'GET',
      path: () => path,
      headers: { Range: `bytes=${SIZE}-` },
      expect: { status: 416, equal: { 'Content-Range': `bytes */${SIZE}` } },
    },
    {
      name: 'If-None-Match with the ETag -> 304 without a body',
      method: 'GET',
      path: () => path,
      headers: { 'If-None-Match': etag },
      expect: { status: 304, equal: { ETag: etag }, body: (body) => assert.equal(body.length, 0) },
    },
    {
      name: 'If-None-Match listing the ETag among others -> 304',
      method: 'GET',
      path: () => path,
      headers: { 'If-None-Match': `"abc", ${etag}` },
      expect: { status: 304 },
    },
    {
      name: 'If-None-Match with the ETag marked weak -> 304 (weak comparison)',
      method: 'GET',
      path: () => path,
      headers: { 'If-None-Match': `W/${etag}` },
      expect: { status: 304 },
    },
    {
      name: 'If-None-Match: * -> 304, even with an unsatisfiable Range',
      method: 'GET',
      path: () => path,
      headers: { 'If-None-Match': '*', Range: 'bytes=999-' },
      expect: { status: 304 },
    },
    {
      name: 'If-Match with another ETag -> 412 and no body of the file',
      method: 'GET',
      path: () => path,
      headers: { 'If-Match': '"0000"' },
      expect: { status: 412, body: (body) => assert.equal((JSON.parse(body.toString()) as { error: { code: string } }).error.code, 'precondition_failed') },
    },
    {
      name: 'If-Match with the weak form of the ETag -> 412 (If-Match compares strongly)',
      method: 'GET',
      path: () => path,
      headers: { 'If-Match': `W/${etag}` },
      expect: { status: 412 },
    },
    {
      name: 'If-Match with the ETag, or *, -> 200 with the bytes',
      method: 'GET',
      path: () => path,
      headers: { 'If-Match': `"0000", ${etag}` },
      expect: { status: 200, body: (body) => assert.equal(body.toString(), CONTENT) },
    },
    {
      name: 'If-None-Match with another ETag -> 200',
      method: 'GET',
      path: () => path,
      headers: { 'If-None-Match': '"0000"' },
      expect: { status: 200, body: (body) => assert.equal(body.toString(), CONTENT) },
    },
    {
      name: 'If-Range with a stale ETag ignores the Range -> 200 with the whole file',
      method: 'GET',
      path: () => path,
      headers: { Range: 'bytes=0-4', 'If-Range': '"stale"' },
      expect: { status: 200, absent: ['Content-Range'], body: (body) => assert.equal(body.toString(), CONTENT) },
    },
    {
      name: 'If-Range with the current ETag honours the Range -> 206',
      method: 'GET',
      path: () => path,
      headers: { Range: 'bytes=0-4', 'If-Range': etag },
      expect: { status: 206, equal: { 'Content-Range': `bytes 0-4/${SIZE}` } },
    },
  ];
  defineCases(() => server, cases);

  it('HEAD without Tus-Resumable sends the download headers and no body bytes on the wire', async () => {
    const res = await sendRaw(server.url, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 200, res.raw.slice(0, 200));
    assert.equal(res.headers['content-length'], String(SIZE));
    assert.equal(res.rest.length, 0);
  });

  it('Content-Disposition is an attachment naming the file', async () => {
    const res = await send(location);
    const disposition = parseDisposition(res.header('content-disposition') ?? '');
    assert.equal(disposition.type, 'attachment');
    assert.equal(disposition.filename, 'notes.txt');
    if (disposition.filenameStar !== undefined) assert.equal(disposition.filenameStar, 'notes.txt');
  });
});

describe('download: metadata is untrusted', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const types: [string, string][] = [
    ['image/png', 'image/png'],
    ['application/pdf', 'application/pdf'],
    ['text/html; <script>', 'application/octet-stream'],
    ['text/html; <script>alert(1)</script>', 'application/octet-stream'],
    ['not a media type', 'application/octet-stream'],
    ['text/plain\r\nX-Injected: 1', 'application/octet-stream'],
    ['', 'application/octet-stream'],
    ['/', 'application/octet-stream'],
    ['image/png/../../x', 'application/octet-stream'],
  ];
  for (const [filetype, expected] of types) {
    it(`filetype ${JSON.stringify(filetype)} -> Content-Type ${expected}`, async () => {
      const { location } = await tusUpload(server, 'data', { filetype });
      const res = await send(location);
      assert.equal(res.status, 200);
      assert.equal(res.header('content-type'), expected);
      assert.equal(res.header('x-injected'), undefined);
    });
  }

  it('no filetype -> application/octet-stream', async () => {
    const { location } = await tusUpload(server, 'data');
    assert.equal((await send(location)).header('content-type'), 'application/octet-stream');
  });

  it('a non-ASCII name: ASCII fallback in filename, the exact name in RFC 8187 filename*', async () => {
    const name = 'résumé – 履歴書.pdf';
    const { location } = await tusUpload(server, 'data', { filename: name });
    const raw = (await send(location)).header('content-disposition') ?? '';
    const disposition = parseDisposition(raw);
    assert.equal(disposition.type, 'attachment');
    assert.ok(disposition.filename !== undefined, `no ASCII filename fallback: ${raw}`);
    assert.match(disposition.filename, /^[\x20-\x7e]+$/, 'the fallback must be printable ASCII');
    assert.match(disposition.filename, /\.pdf$/, 'the fallback should keep the extension');
    assert.equal(disposition.filenameStar, name);
  });

  const hostile: [string, string][] = [
    ['a path with ../', '../../etc/passwd'],
    ['a Windows path', '..\\..\\windows\\win.ini'],
    ['quotes', 'say "hi".txt'],
    ['CR/LF', 'a\r\nSet-Cookie: owned=1\r\n.txt'],
    ['only dots', '..'],
    ['a backslash before a quote', 'x\\"; filename=evil.exe'],
  ];
  for (const [label, name] of hostile) {
    it(`a file name with ${label} is sanitised`, async () => {
      const { location } = await tusUpload(server, 'data', { filename: name });
      const res = await send(location);
      assert.equal(res.status, 200);
      assert.equal(res.header('set-cookie'), undefined, 'header injection through the file name');
      const raw = res.header('content-disposition') ?? '';
      assert.doesNotMatch(raw, /[\r\n]/);
      const disposition = parseDisposition(raw);
      assert.equal(disposition.type, 'attachment');
      for (const shown of [disposition.filename, disposition.filenameStar]) {
        if (shown === undefined) continue;
        assert.doesNotMatch(shown, /[/\\]/, `a path separator survived: ${JSON.stringify(shown)}`);
        assert.doesNotMatch(shown, /[\x00-\x1f\x7f]/, `a control character survived: ${JSON.stringify(shown)}`);
        assert.ok(shown !== '.' && shown !== '..' && shown.trim() !== '', `not a usable name: ${JSON.stringify(shown)}`);
        assert.notEqual(shown, 'evil.exe');
      }
    });
  }
});

describe('download of an upload that is not complete', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  it('GET of an incomplete upload -> 4xx, not 200 and not 5xx', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 10 });
    assert.equal((await tusPatch(location, 0, 'hello')).status, 204);
    for (const method of ['GET', 'HEAD']) {
      const res = await send(location, { method });
      assert.ok(res.status >= 400 && res.status < 500, `${method}: ${res.status}`);
    }
  });

  it('GET of a fresh upload with nothing uploaded -> 4xx', async () => {
    const { location } = await tusCreate(server, { 'Upload-Defer-Length': 1 });
    const res = await send(location);
    assert.ok(res.status >= 400 && res.status < 500, `GET: ${res.status}`);
  });

  it('GET of an unknown upload -> 404', async () => {
    assert.equal((await send(`${server.endpoint}0123456789abcdef0123456789abcdef`)).status, 404);
  });

  it('an empty completed upload downloads as 200 with Content-Length 0', async () => {
    const { location } = await tusUpload(server, '');
    const res = await send(location);
    assert.equal(res.status, 200);
    assert.equal(res.header('content-length'), '0');
    assert.equal(res.header('etag'), `"${digest('sha256', '', 'hex')}"`);
  });
});
