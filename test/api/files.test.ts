/**
 * The file library API at /api/v1/files: listing, one file, its content (RFC 9110 ranges and
 * validators, RFC 6266 / 8187 Content-Disposition), rename, delete, shared content, isolation
 * between users, and the OpenAPI document generated from the route declarations.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { hashSecret } from '../../src/core/accounts.js';
import { FileJson } from '../../src/http/api/schemas.js';
import { defineCases, type HttpCase } from '../helpers/http-cases.js';
import { send, sendRaw, sleep, type HttpResult, type RequestOptions } from '../helpers/http-client.js';
import { digest, metadataHeader, tusCreate, tusPatch } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/users.js';

const FILES = '/api/v1/files';

type Auth = Readonly<Record<string, string>>;

interface FileList {
  files: FileJson[];
  total: number;
  limit: number;
  offset: number;
}

function api(server: TestServer, path: string, options: RequestOptions = {}): Promise<HttpResult> {
  return send(`${server.url}${path}`, options);
}

function jsonBody(body: unknown): RequestOptions['body'] {
  return JSON.stringify(body);
}

async function list(server: TestServer, query = '', auth: Auth = {}): Promise<FileList> {
  const res = await api(server, `${FILES}${query}`, { headers: auth });
  assert.equal(res.status, 200, `GET ${FILES}${query}: ${res.status} ${res.text()}`);
  return res.json() as FileList;
}

const names = (page: FileList) => page.files.map((file) => file.name);

interface Added extends FileJson {
  /** The tus upload that brought the content (its id is the storage key of new content). */
  readonly uploadId: string;
}

/** Uploads `content` through tus and returns the library file it became. */
async function addFile(server: TestServer, name: string, content: Buffer | string, options: { type?: string; auth?: Auth } = {}): Promise<Added> {
  const auth = options.auth ?? {};
  const bytes = Buffer.from(content);
  const metadata = metadataHeader({ filename: name, ...(options.type ? { filetype: options.type } : {}) });
  const { location, id } = await tusCreate(server, { 'Upload-Length': bytes.length, 'Upload-Metadata': metadata, ...auth });
  const res = await tusPatch(location, 0, bytes, auth);
  assert.equal(res.status, 204, `upload of ${name}: ${res.status} ${res.text()}`);
  const found = (await list(server, `?q=${encodeURIComponent(name)}&limit=1000`, auth)).files.filter((file) => file.name === name);
  assert.equal(found.length, 1, `expected one file named ${name}`);
  return { ...found[0]!, uploadId: id };
}

function errorCode(res: HttpResult): string {
  assert.match(res.header('content-type') ?? '', /^application\/json/, `not a JSON error: ${res.status} ${res.text()}`);
  return (res.json() as { error: { code: string } }).error.code;
}

/** `attachment; filename="ascii"; filename*=UTF-8''exact`, checked against RFC 6266 / 8187 grammar. */
function disposition(raw: string | undefined): { filename: string; filenameStar: string } {
  const match = /^attachment; filename="((?:[^"\\\x00-\x1f\x7f]|\\.)*)"; filename\*=UTF-8''((?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})+)$/.exec(raw ?? '');
  assert.ok(match, `not a well-formed Content-Disposition: ${JSON.stringify(raw)}`);
  return { filename: match[1]!.replace(/\\(.)/g, '$1'), filenameStar: decodeURIComponent(match[2]!) };
}

describe('files API: listing', () => {
  let server: TestServer;
  // Added in this order, a few milliseconds apart so that the time order is unambiguous.
  const added: [string, string][] = [
    ['list/b.txt', 'bb'],
    ['list/sub/c.txt', 'c'],
    ['list/a.txt', 'aaaa'],
    ['other/Résumé.pdf', 'rrr'],
    ['list.txt', 'xxxxx'],
  ];
  before(async () => {
    server = await startTestServer();
    for (const [name, content] of added) {
      await addFile(server, name, content);
      await sleep(5);
    }
  });
  after(async () => { await server?.stop(); });

  it('defaults: newest first, 50 a page, every entry a File', async () => {
    const page = await list(server);
    assert.deepEqual(names(page), added.map(([name]) => name).reverse());
    assert.deepEqual([page.total, page.limit, page.offset], [5, 50, 0]);
    for (const file of page.files) assert.ok(Value.Check(FileJson, file), JSON.stringify([...Value.Errors(FileJson, file)]));
  });

  it('sort=time&order=asc: oldest first', async () => {
    assert.deepEqual(names(await list(server, '?sort=time&order=asc')), added.map(([name]) => name));
  });

  it('sort=name: ascending by code point by default, and descending on request', async () => {
    const ascending = ['list.txt', 'list/a.txt', 'list/b.txt', 'list/sub/c.txt', 'other/Résumé.pdf'];
    assert.deepEqual(names(await list(server, '?sort=name')), ascending);
    assert.deepEqual(names(await list(server, '?sort=name&order=desc')), [...ascending].reverse());
  });

  it('sort=size, both ways', async () => {
    assert.deepEqual((await list(server, '?sort=size')).files.map((file) => file.size), [1, 2, 3, 4, 5]);
    assert.deepEqual((await list(server, '?sort=size&order=desc')).files.map((file) => file.size), [5, 4, 3, 2, 1]);
  });

  it('limit and offset page through the same order; total counts every page', async () => {
    const page = await list(server, '?sort=name&limit=2&offset=1');
    assert.deepEqual(names(page), ['list/a.txt', 'list/b.txt']);
    assert.deepEqual([page.total, page.limit, page.offset], [5, 2, 1]);
    const past = await list(server, '?offset=10');
    assert.deepEqual([past.files.length, past.total], [0, 5]);
  });

  it('q matches a substring of the name, ignoring case, also outside ASCII and across normalization forms', async () => {
    assert.deepEqual(names(await list(server, '?q=A.TXT')), ['list/a.txt']);
    assert.deepEqual(names(await list(server, `?q=${encodeURIComponent('RÉSUMÉ')}`)), ['other/Résumé.pdf']);
    assert.deepEqual(names(await list(server, `?q=${encodeURIComponent('re\u0301sume\u0301')}`)), ['other/Résumé.pdf']);
    const page = await list(server, '?q=.txt&limit=1');
    assert.deepEqual([page.files.length, page.total], [1, 4]);
    assert.equal((await list(server, '?q=nothing-like-this')).total, 0);
  });

  it('folder lists names under it at any depth, whole segments only', async () => {
    const inList = ['list/a.txt', 'list/b.txt', 'list/sub/c.txt'];
    assert.deepEqual(names(await list(server, '?folder=list&sort=name')), inList);
    assert.deepEqual(names(await list(server, '?folder=list/&sort=name')), inList);
    assert.deepEqual(names(await list(server, '?folder=list/sub')), ['list/sub/c.txt']);
    assert.equal((await list(server, '?folder=lis')).total, 0);
    assert.deepEqual(names(await list(server, '?folder=list&q=b.txt')), ['list/b.txt']);
  });

  const invalid: [string, string][] = [
    ['limit=0', 'invalid_request'],
    ['limit=1001', 'invalid_request'],
    ['limit=abc', 'invalid_request'],
    ['limit=', 'invalid_request'],
    ['offset=-1', 'invalid_request'],
    ['sort=bogus', 'invalid_request'],
    ['order=up', 'invalid_request'],
    [`q=${'x'.repeat(1025)}`, 'invalid_request'],
    ['folder=../etc', 'invalid_name'],
    ['folder=/abs', 'invalid_name'],
    ['folder=a//b', 'invalid_name'],
    ['folder=', 'invalid_name'],
  ];
  for (const [query, code] of invalid) {
    it(`?${query.slice(0, 40)} -> 400 ${code}`, async () => {
      const res = await api(server, `${FILES}?${query}`);
      assert.equal(res.status, 400, res.text());
      assert.equal(errorCode(res), code);
    });
  }
});

describe('files API: one file and its content', () => {
  const CONTENT = 'hello world, this is ferry'; // 26 bytes
  const SIZE = Buffer.byteLength(CONTENT);
  const etag = `"${digest('sha256', CONTENT, 'hex')}"`;
  let server: TestServer;
  let file: Added;
  let content: string;
  before(async () => {
    server = await startTestServer();
    file = await addFile(server, 'reports/notes.txt', CONTENT, { type: 'text/plain' });
    content = `${FILES}/${file.id}/content`;
  });
  after(async () => { await server?.stop(); });

  it('GET /files/:id: the File, with the real size, type and SHA-256', async () => {
    const res = await api(server, `${FILES}/${file.id}`);
    assert.equal(res.status, 200);
    const got = res.json() as FileJson;
    assert.ok(Value.Check(FileJson, got), JSON.stringify([...Value.Errors(FileJson, got)]));
    assert.deepEqual(
      { name: got.name, size: got.size, type: got.type, sha256: got.sha256 },
      { name: 'reports/notes.txt', size: SIZE, type: 'text/plain', sha256: digest('sha256', CONTENT, 'hex') },
    );
    assert.ok(Math.abs(Date.parse(got.createdAt) - Date.now()) < 60_000);
  });

  it('SHA-1 and MD5 are the real digests once the background job has run', async () => {
    await server.library.fillDigests();
    const got = (await api(server, `${FILES}/${file.id}`)).json() as FileJson;
    assert.equal(got.sha1, digest('sha1', CONTENT, 'hex'));
    assert.equal(got.md5, digest('md5', CONTENT, 'hex'));
    const listed = (await list(server)).files.find((entry) => entry.id === file.id);
    assert.deepEqual([listed?.sha1, listed?.md5], [got.sha1, got.md5]);
  });

  const cases: HttpCase[] = [
    {
      name: 'GET content: 200 with the bytes, length, type, ETag "<sha256>", nosniff',
      method: 'GET',
      path: () => content,
      expect: {
        status: 200,
        equal: { 'Content-Length': String(SIZE), 'Content-Type': 'text/plain', ETag: etag, 'Accept-Ranges': 'bytes', 'X-Content-Type-Options': 'nosniff' },
        body: (body) => assert.equal(body.toString(), CONTENT),
      },
    },
    {
      name: 'HEAD content: the same headers',
      method: 'HEAD',
      path: () => content,
      expect: { status: 200, equal: { 'Content-Length': String(SIZE), ETag: etag, 'X-Content-Type-Options': 'nosniff' }, present: ['Content-Disposition'] },
    },
    {
      name: 'Range bytes=0-4: 206 with the first five bytes',
      method: 'GET',
      path: () => content,
      headers: { Range: 'bytes=0-4' },
      expect: { status: 206, equal: { 'Content-Range': `bytes 0-4/${SIZE}`, 'Content-Length': '5' }, body: (body) => assert.equal(body.toString(), 'hello') },
    },
    {
      name: 'Range bytes=-5: 206 with the last five bytes',
      method: 'GET',
      path: () => content,
      headers: { Range: 'bytes=-5' },
      expect: { status: 206, equal: { 'Content-Range': `bytes ${SIZE - 5}-${SIZE - 1}/${SIZE}` }, body: (body) => assert.equal(body.toString(), 'ferry') },
    },
    {
      name: 'Range bytes=21-: 206 with the rest',
      method: 'GET',
      path: () => content,
      headers: { Range: 'bytes=21-' },
      expect: { status: 206, equal: { 'Content-Range': `bytes 21-${SIZE - 1}/${SIZE}` }, body: (body) => assert.equal(body.toString(), 'ferry') },
    },
    {
      name: 'Range starting past the end: 416 with Content-Range bytes */size and a JSON error',
      method: 'GET',
      path: () => content,
      headers: { Range: `bytes=${SIZE}-` },
      expect: { status: 416, equal: { 'Content-Range': `bytes */${SIZE}` }, body: (_body, res) => assert.equal(errorCode(res), 'range_not_satisfiable') },
    },
    {
      name: 'If-None-Match with the ETag: 304 without a body',
      method: 'GET',
      path: () => content,
      headers: { 'If-None-Match': etag },
      expect: { status: 304, equal: { ETag: etag }, body: (body) => assert.equal(body.length, 0) },
    },
    {
      name: 'If-Range with a stale ETag: the whole file',
      method: 'GET',
      path: () => content,
      headers: { Range: 'bytes=0-4', 'If-Range': '"stale"' },
      expect: { status: 200, absent: ['Content-Range'], body: (body) => assert.equal(body.toString(), CONTENT) },
    },
    {
      name: 'If-Range with the current ETag: the range',
      method: 'GET',
      path: () => content,
      headers: { Range: 'bytes=0-4', 'If-Range': etag },
      expect: { status: 206, equal: { 'Content-Range': `bytes 0-4/${SIZE}` } },
    },
  ];
  defineCases(() => server, cases);

  it('HEAD content puts no body bytes on the wire', async () => {
    const res = await sendRaw(server.url, `HEAD ${content} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 200, res.raw.slice(0, 200));
    assert.equal(res.headers['content-length'], String(SIZE));
    assert.equal(res.rest.length, 0);
  });

  it('Content-Disposition names the last segment of the name, exactly and as ASCII', async () => {
    assert.deepEqual(disposition((await api(server, content)).header('content-disposition')), { filename: 'notes.txt', filenameStar: 'notes.txt' });
  });

  it('Content-Disposition of a non-ASCII name: printable ASCII fallback keeping the extension, exact name in filename*', async () => {
    const name = 'résumé – 履歴書.pdf';
    const added = await addFile(server, `cv/${name}`, 'pdf');
    const shown = disposition((await api(server, `${FILES}/${added.id}/content`)).header('content-disposition'));
    assert.equal(shown.filenameStar, name);
    assert.match(shown.filename, /^[\x20-\x7e]+\.pdf$/);
  });

  it('Content-Disposition of a name with quotes and a backslash cannot be broken out of', async () => {
    // Upload metadata turns a backslash into a folder separator, so the name is given by a rename.
    const name = 'say "hi"\\; filename=evil.exe';
    const added = await addFile(server, 'quotes.txt', 'q');
    const renamed = await api(server, `${FILES}/${added.id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: jsonBody({ name }) });
    assert.equal(renamed.status, 200, renamed.text());
    const shown = disposition((await api(server, `${FILES}/${added.id}/content`)).header('content-disposition'));
    assert.equal(shown.filenameStar, name);
    assert.doesNotMatch(shown.filename, /["\\]/);
  });
});

describe('files API: rename and delete', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const patch = (id: string, body: unknown, type = 'application/json') =>
    api(server, `${FILES}/${id}`, { method: 'PATCH', headers: { 'Content-Type': type }, body: typeof body === 'string' ? body : jsonBody(body) });

  it('renaming to a path moves the file into that folder', async () => {
    const file = await addFile(server, 'inbox/draft.txt', 'draft');
    await sleep(5);
    const res = await patch(file.id, { name: 'a/b/c.txt' });
    assert.equal(res.status, 200, res.text());
    const renamed = res.json() as FileJson;
    const same = (entry: FileJson) => [entry.id, entry.size, entry.type, entry.sha256, entry.createdAt];
    assert.deepEqual(same(renamed), same(file));
    assert.equal(renamed.name, 'a/b/c.txt');
    assert.ok(Date.parse(renamed.updatedAt) > Date.parse(file.updatedAt));
    assert.deepEqual((await api(server, `${FILES}/${file.id}`)).json(), renamed);
    assert.deepEqual(names(await list(server, '?folder=a/b')), ['a/b/c.txt']);
    assert.equal((await list(server, '?folder=inbox')).total, 0);
    assert.equal(disposition((await api(server, `${FILES}/${file.id}/content`)).header('content-disposition')).filenameStar, 'c.txt');
  });

  const badNames: [string, string][] = [
    ['empty', ''],
    ['a .. segment', 'a/../b.txt'],
    ['only ..', '..'],
    ['a . segment', './b.txt'],
    ['a leading /', '/etc/passwd'],
    ['a trailing /', 'folder/'],
    ['//', 'a//b.txt'],
    ['a control character', 'a\u0000b.txt'],
    ['a newline', 'a\nb.txt'],
    ['a segment with edge spaces', 'a/ b.txt'],
    ['more than 1024 characters', `${'d/'.repeat(512)}x`],
    ['a segment over 255 characters', 'x'.repeat(256)],
  ];
  for (const [index, [label, name]] of badNames.entries()) {
    it(`a name with ${label} -> 400 invalid_name, nothing changed`, async () => {
      const file = await addFile(server, `keep-${index}.txt`, 'k');
      const res = await patch(file.id, { name });
      assert.equal(res.status, 400, res.text());
      assert.equal(errorCode(res), 'invalid_name');
      assert.equal(((await api(server, `${FILES}/${file.id}`)).json() as FileJson).name, file.name);
    });
  }

  const badBodies: [string, unknown, string, number, string][] = [
    ['no name', {}, 'application/json', 400, 'invalid_request'],
    ['a number for the name', { name: 1 }, 'application/json', 400, 'invalid_request'],
    ['an unknown field', { name: 'x.txt', owner: 'someone' }, 'application/json', 400, 'invalid_request'],
    ['malformed JSON', '{"name":', 'application/json', 400, 'invalid_json'],
    ['a body that is not JSON', 'name=x.txt', 'application/x-www-form-urlencoded', 415, 'unsupported_media_type'],
  ];
  for (const [index, [label, body, type, status, code]] of badBodies.entries()) {
    it(`PATCH with ${label} -> ${status} ${code}`, async () => {
      const file = await addFile(server, `body-${index}.txt`, 'b');
      const res = await patch(file.id, body, type);
      assert.equal(res.status, status, res.text());
      assert.equal(errorCode(res), code);
    });
  }

  it('DELETE answers 204; afterwards every route answers 404 file_not_found', async () => {
    const file = await addFile(server, 'gone.txt', 'gone');
    const res = await api(server, `${FILES}/${file.id}`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    assert.equal(res.body.length, 0);
    for (const [method, path] of [['GET', ''], ['DELETE', ''], ['GET', '/content']] as const) {
      const again = await api(server, `${FILES}/${file.id}${path}`, { method });
      assert.equal(again.status, 404, `${method} ${path}`);
      assert.equal(errorCode(again), 'file_not_found');
    }
    assert.equal((await patch(file.id, { name: 'back.txt' })).status, 404);
    assert.equal((await list(server, '?q=gone.txt')).total, 0);
  });
});

describe('files API: files with the same content share one blob', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const stored = async (uploadId: string) =>
    access(join(server.dataDir, 'blobs', uploadId.slice(0, 2), uploadId)).then(() => true, () => false);

  it('deleting one keeps the other; deleting both lets the sweep remove the bytes', async () => {
    const content = randomBytes(4096);
    const first = await addFile(server, 'one.bin', content);
    const second = await addFile(server, 'two.bin', content);
    assert.notEqual(first.id, second.id);
    assert.equal(first.sha256, second.sha256);

    assert.equal((await api(server, `${FILES}/${first.id}`, { method: 'DELETE' })).status, 204);
    await server.library.sweepUnreferenced();
    // The content's bytes are the first upload's; the second upload's duplicate copy is gone.
    assert.deepEqual([await stored(first.uploadId), await stored(second.uploadId)], [true, false]);
    const res = await api(server, `${FILES}/${second.id}/content`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(content));

    assert.equal((await api(server, `${FILES}/${second.id}`, { method: 'DELETE' })).status, 204);
    assert.ok(await server.library.sweepUnreferenced() >= 1);
    assert.equal(await stored(first.uploadId), false);
  });
});

describe('files API: users only ever see their own files', () => {
  const SECRET = 'the secret bytes of user A';
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let hers: Added;
  before(async () => {
    server = await startTestServer({ auth: 'required' });
    alice = await createUser(server, 'alice');
    bob = await createUser(server, 'bob');
    hers = await addFile(server, 'private/secret.txt', SECRET, { auth: alice.auth });
    await addFile(server, 'mine.txt', 'bob', { auth: bob.auth });
  });
  after(async () => { await server?.stop(); });

  const routes: [string, string, RequestOptions['body']?][] = [
    ['GET', ''],
    ['GET', '/content'],
    ['HEAD', '/content'],
    ['PATCH', '', jsonBody({ name: 'stolen.txt' })],
    ['DELETE', ''],
  ];
  const asBob = (method: string, id: string, path: string, body: RequestOptions['body']) =>
    api(server, `${FILES}/${id}${path}`, { method, body, headers: { ...bob.auth, ...(body ? { 'Content-Type': 'application/json' } : {}) } });

  for (const [method, path, body] of routes) {
    it(`${method} ${FILES}/:id${path} of another user's file is the 404 of an unknown or malformed id`, async () => {
      const theirs = await asBob(method, hers.id, path, body);
      assert.equal(theirs.status, 404);
      for (const id of ['0'.repeat(32), 'nope', hers.id.toUpperCase(), `${hers.id}0`]) {
        const unknown = await asBob(method, id, path, body);
        assert.equal(unknown.status, 404, id);
        assert.deepEqual(unknown.body, theirs.body, id);
        assert.equal(unknown.header('content-type'), theirs.header('content-type'));
      }
      if (method !== 'HEAD') assert.equal(errorCode(theirs), 'file_not_found');
      assert.ok(!theirs.body.includes(SECRET));
      for (const leak of ['etag', 'content-disposition', 'content-range']) assert.equal(theirs.header(leak), undefined, leak);
    });
  }

  it("another user's listing and search never include the file", async () => {
    assert.deepEqual(names(await list(server, '', bob.auth)), ['mine.txt']);
    assert.equal((await list(server, '?q=secret', bob.auth)).total, 0);
    assert.equal((await list(server, '?folder=private', bob.auth)).total, 0);
  });

  it("the owner's file is untouched by all of the above", async () => {
    assert.deepEqual(names(await list(server, '', alice.auth)), ['private/secret.txt']);
    const res = await api(server, `${FILES}/${hers.id}/content`, { headers: alice.auth });
    assert.equal(res.status, 200);
    assert.equal(res.text(), SECRET);
  });

  it("the same content uploaded by another user is that user's own file; deleting it leaves the owner's", async () => {
    const copy = await addFile(server, 'copy.txt', SECRET, { auth: bob.auth });
    assert.equal(copy.sha256, hers.sha256);
    assert.equal((await api(server, `${FILES}/${copy.id}`, { method: 'DELETE', headers: bob.auth })).status, 204);
    await server.library.sweepUnreferenced();
    assert.equal((await api(server, `${FILES}/${hers.id}/content`, { headers: alice.auth })).text(), SECRET);
  });

  it('without a valid token every route answers 401', async () => {
    for (const headers of [{}, { Authorization: 'Bearer not-a-real-token' }]) {
      assert.equal((await api(server, FILES, { headers })).status, 401);
      for (const [method, path, body] of routes) {
        const res = await api(server, `${FILES}/${hers.id}${path}`, { method, body, headers: { ...headers, 'Content-Type': 'application/json' } });
        assert.equal(res.status, 401, `${method} ${path}`);
      }
    }
  });
});

describe('files API: download links', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    server = await startTestServer({ auth: 'required' });
    alice = await createUser(server, 'alice');
    bob = await createUser(server, 'bob');
  });
  after(async () => { await server?.stop(); });

  async function linkFor(fileId: string, auth: Auth): Promise<{ url: string; expiresAt: string | null }> {
    const res = await api(server, `${FILES}/${fileId}/link`, { method: 'POST', headers: auth });
    assert.equal(res.status, 200, res.text());
    return res.json() as { url: string; expiresAt: string | null };
  }

  /** A link signed as the server signs them, with the secret the test knows, for any file and expiry. */
  async function forged(user: TestUser, fileId: string, expires: number): Promise<string> {
    const secret = user.auth.Authorization.slice('Bearer '.length);
    const found = await server.meta.accounts.findToken(hashSecret(secret), new Date());
    const signature = createHmac('sha256', hashSecret(secret)).update(`file-link.${fileId}.${expires}`).digest('base64url');
    return `${found!.token.id}.${expires}.${signature}`;
  }

  it('downloads one file without a token, ranges included, until the link expires', async () => {
    const content = randomBytes(300_000);
    const file = await addFile(server, 'linked.bin', content, { auth: alice.auth });
    const { url, expiresAt } = await linkFor(file.id, alice.auth);
    assert.match(url, new RegExp(`^${FILES}/${file.id}/content\\?link=[0-9a-f]{32}\\.\\d+\\.[A-Za-z0-9_-]{43}$`));
    const ttl = Date.parse(expiresAt!) - Date.now();
    assert.ok(ttl > 9 * 60_000 && ttl <= 10 * 60_000, `expires in ${ttl} ms`);

    const whole = await api(server, url);
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body, content);
    assert.match(whole.header('content-disposition') ?? '', /attachment; filename="linked.bin"/);
    const part = await api(server, url, { headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, content.subarray(10, 20));

    const expired = await forged(alice, file.id, Math.floor(Date.now() / 1000) - 1);
    assert.equal((await api(server, `${FILES}/${file.id}/content?link=${expired}`)).status, 401);
  });

  it('works for its own file only, and not once altered', async () => {
    const one = await addFile(server, 'one.txt', 'first', { auth: alice.auth });
    const two = await addFile(server, 'two.txt', 'second', { auth: alice.auth });
    const { url } = await linkFor(one.id, alice.auth);
    const link = new URL(url, server.url).searchParams.get('link')!;
    const attempts = [
      `${FILES}/${two.id}/content?link=${link}`,
      `${FILES}/${one.id}/content?link=${link.slice(0, -1)}${link.endsWith('A') ? 'B' : 'A'}`,
      `${FILES}/${one.id}/content?link=${link.replace(/\.(\d+)\./, (_, e: string) => `.${Number(e) + 60}.`)}`,
      `${FILES}/${one.id}/content?link=nonsense`,
    ];
    for (const attempt of attempts) {
      const res = await api(server, attempt);
      assert.equal(res.status, 401, `${attempt}: ${res.status}`);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'unauthorized');
    }
    assert.equal((await api(server, `${FILES}/${one.id}`, { headers: {} })).status, 401, 'a link is no token for other routes');
    assert.equal((await api(server, `${FILES}/${one.id}?link=${link}`, { method: 'DELETE' })).status, 401);
  });

  it('reaches no file of another user, and stops working when its token is revoked', async () => {
    const mine = await addFile(server, 'alices.txt', 'private', { auth: alice.auth });
    assert.equal((await api(server, `${FILES}/${mine.id}/link`, { method: 'POST', headers: bob.auth })).status, 404);
    const bobs = await forged(bob, mine.id, Math.floor(Date.now() / 1000) + 60);
    assert.equal((await api(server, `${FILES}/${mine.id}/content?link=${bobs}`)).status, 404, 'a valid link of bob acts for bob');

    const carol = await createUser(server, 'carol');
    const hers = await addFile(server, 'carols.txt', 'soon revoked', { auth: carol.auth });
    const { url } = await linkFor(hers.id, carol.auth);
    assert.equal((await api(server, url)).status, 200);
    await server.meta.accounts.deleteTokenByHash(hashSecret(carol.auth.Authorization.slice('Bearer '.length)));
    assert.equal((await api(server, url)).status, 401);
  });

  it('without accounts, answers the plain content path', async () => {
    const open = await startTestServer();
    try {
      const file = await addFile(open, 'open.txt', 'no accounts');
      const res = await api(open, `${FILES}/${file.id}/link`, { method: 'POST' });
      assert.deepEqual(res.json(), { url: `${FILES}/${file.id}/content`, expiresAt: null });
      assert.equal((await api(open, `${FILES}/${file.id}/content?link=anything`)).text(), 'no accounts');
    } finally {
      await open.stop();
    }
  });
});

describe('files API: OpenAPI document', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  it('describes every route with its parameters and schemas', async () => {
    const res = await api(server, '/api/v1/openapi.json');
    assert.equal(res.status, 200);
    type Operation = { parameters: { name: string; in: string }[]; responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>; security?: unknown };
    const paths = (res.json() as { paths: Record<string, Record<string, Operation>> }).paths;
    assert.deepEqual(Object.keys(paths[FILES] ?? {}), ['get']);
    assert.deepEqual(Object.keys(paths[`${FILES}/{id}`] ?? {}).sort(), ['delete', 'get', 'patch']);
    assert.deepEqual(Object.keys(paths[`${FILES}/{id}/content`] ?? {}).sort(), ['get', 'head']);
    assert.deepEqual(Object.keys(paths[`${FILES}/{id}/link`] ?? {}), ['post']);

    const listing = paths[FILES]!.get!;
    assert.deepEqual(listing.parameters.map((parameter) => parameter.name), ['limit', 'offset', 'sort', 'order', 'q', 'folder']);
    const page = listing.responses['200']!.content!['application/json']!.schema as { properties: { files: { items: { title: string } } } };
    assert.equal(page.properties.files.items.title, 'File');
    assert.ok(listing.security, 'the listing needs a token');

    const one = paths[`${FILES}/{id}`]!;
    assert.equal(one.get!.responses['200']!.content!['application/json']!.schema.title, 'File');
    assert.equal(one.get!.responses['404']!.content!['application/json']!.schema.title, 'Error');
    assert.deepEqual(one.get!.parameters.map((parameter) => [parameter.name, parameter.in]), [['id', 'path']]);
    const download = paths[`${FILES}/{id}/content`]!.get!;
    assert.deepEqual(download.parameters.filter((parameter) => parameter.in === 'header').map((parameter) => parameter.name), ['Range', 'If-Range', 'If-None-Match']);
    assert.deepEqual(download.parameters.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name), ['link']);
    assert.ok(download.responses['206'] && download.responses['304'] && download.responses['416']);
  });
});
