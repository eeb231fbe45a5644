import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../src/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/users.js';

/**
 * The routes of the Go course project "filestore-server", driven as its clients drive them: forms
 * posted with Go's http.PostForm (urlencoded), the token in a `token` parameter, parts posted raw
 * with `index` counted from 1 in the query, files named by their SHA-1 in hex.
 */

const PART = 5 * 1024 * 1024;
const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');

interface RespMsg<T = unknown> {
  code: number;
  msg: string;
  data: T;
  error?: { code: string; message: string };
}

interface FileMeta {
  FileSha1: string;
  FileName: string;
  FileSize: number;
  UploadAt: string;
  Location?: string;
}

interface UserFile {
  UserName: string;
  FileHash: string;
  FileName: string;
  FileSize: number;
  UploadAt: string;
  LastUpdated: string;
}

interface UploadInfo {
  FileHash: string;
  FileSize: number;
  UploadID: string;
  UploadId: string;
  ChunkSize: number;
  ChunkCount: number;
  ChunkExists: number[];
}

interface Answer<T> {
  status: number;
  body: T;
}

/** A course client: every parameter a form value or a query parameter, its Ferry token among them. */
class CourseClient {
  constructor(readonly server: TestServer, readonly user: TestUser | null, readonly token: string | null = user && secretOf(user)) {}

  private withToken(params: Record<string, string>): Record<string, string> {
    return this.token === null ? params : { username: this.user?.username ?? '', token: this.token, ...params };
  }

  /** http.PostForm: the parameters as an urlencoded body. */
  async postForm<T = RespMsg>(path: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const response = await fetch(`${this.server.url}${path}`, { method: 'POST', headers, body: new URLSearchParams(this.withToken(params)) });
    return { status: response.status, body: (await response.json()) as T };
  }

  /** A GET with the parameters in the query, as the course's pages and curl examples send them. */
  async get<T = RespMsg>(path: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const response = await fetch(`${this.server.url}${path}?${new URLSearchParams(this.withToken(params))}`, { headers });
    return { status: response.status, body: (await response.json()) as T };
  }

  /** The course's upload page: a multipart form with the file in `file`, the token in the form's action URL. */
  async upload(name: string, data: Buffer, query: Record<string, string> = {}, fields: Record<string, string> = {}): Promise<Answer<RespMsg<FileMeta>>> {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) form.append(key, value);
    form.append('file', new Blob([data as unknown as Uint8Array<ArrayBuffer>]), name);
    const response = await fetch(`${this.server.url}/file/upload?${new URLSearchParams(this.withToken(query))}`, { method: 'POST', body: form });
    return { status: response.status, body: (await response.json()) as RespMsg<FileMeta> };
  }

  async download(filehash: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
    const response = await fetch(`${this.server.url}/file/download?${new URLSearchParams(this.withToken({ filehash }))}`, { headers });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()), headers: response.headers };
  }

  async query(limit = 100): Promise<UserFile[]> {
    const answer = await this.postForm<UserFile[]>('/file/query', { limit: String(limit) });
    assert.equal(answer.status, 200);
    return answer.body;
  }

  initMultipart(filehash: string, filesize: number, extra: Record<string, string> = {}): Promise<Answer<RespMsg<UploadInfo>>> {
    return this.postForm('/file/mpupload/init', { filehash, filesize: String(filesize), ...extra });
  }

  /** The course's part upload: raw bytes labelled multipart/form-data, uploadid and index in the query. */
  async uploadPart(uploadid: string, index: number | string, bytes: Buffer, extra: Record<string, string> = {}): Promise<Answer<RespMsg>> {
    const query = new URLSearchParams(this.withToken({ uploadid, index: String(index), ...extra }));
    const response = await fetch(`${this.server.url}/file/mpupload/uppart?${query}`, {
      method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: bytes as unknown as Uint8Array<ArrayBuffer>,
    });
    return { status: response.status, body: (await response.json()) as RespMsg };
  }

  completeMultipart(uploadid: string, filehash: string, filesize: number, filename: string): Promise<Answer<RespMsg<FileMeta>>> {
    return this.postForm('/file/mpupload/complete', { uploadid, filehash, filesize: String(filesize), filename });
  }

  fastUpload(filehash: string, filename: string, filesize: number): Promise<Answer<RespMsg<FileMeta>>> {
    return this.postForm('/file/fastupload', { filehash, filename, filesize: String(filesize) });
  }
}

function secretOf(user: TestUser): string {
  return user.auth.Authorization.slice('Bearer '.length);
}

function part(data: Buffer, index: number): Buffer {
  return data.subarray((index - 1) * PART, Math.min(index * PART, data.length));
}

/** Every failure answers JSON with a negative course code and Ferry's error code. */
function assertFailure(answer: Answer<unknown>, status: number, label: string): void {
  assert.equal(answer.status, status, label);
  const body = answer.body as RespMsg;
  assert.ok(typeof body.code === 'number' && body.code < 0, `${label}: code ${body.code}`);
  assert.equal(typeof body.msg, 'string', label);
  assert.equal(typeof body.error?.code, 'string', label);
}

describe('filestore-server protocol', () => {
  let server: TestServer;
  let alice: CourseClient;
  let bob: CourseClient;
  before(async () => {
    server = await startTestServer({ auth: 'required' });
    alice = new CourseClient(server, await createUser(server, 'alice'));
    bob = new CourseClient(server, await createUser(server, 'bob'));
  });
  after(async () => server.stop());

  it('uploads a form file into the library and serves it by SHA-1: meta, query, download', async () => {
    const data = randomBytes(300_000);
    const uploaded = await alice.upload('report.pdf', data);
    assert.equal(uploaded.status, 200);
    assert.equal(uploaded.body.code, 0);
    assert.equal(uploaded.body.data.FileSha1, sha1(data));
    assert.equal(uploaded.body.data.FileName, 'report.pdf');
    assert.equal(uploaded.body.data.FileSize, data.length);
    assert.match(uploaded.body.data.UploadAt, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    assert.equal(uploaded.body.data.Location, undefined, 'no server path is ever shown');

    const meta = await alice.get<FileMeta>('/file/meta', { filehash: sha1(data) });
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.body, uploaded.body.data);
    const listed = await alice.query(15);
    const row = listed.find((file) => file.FileHash === sha1(data));
    assert.ok(row);
    assert.deepEqual({ ...row, UploadAt: null, LastUpdated: null }, {
      UserName: 'alice', FileHash: sha1(data), FileName: 'report.pdf', FileSize: data.length, UploadAt: null, LastUpdated: null,
    });
    const download = await alice.download(sha1(data));
    assert.equal(download.status, 200);
    assert.ok(download.bytes.equals(data));
    assert.match(download.headers.get('content-disposition') ?? '', /^attachment; filename="report.pdf"/);
    const range = await alice.download(sha1(data), { range: 'bytes=10-19' });
    assert.equal(range.status, 206);
    assert.ok(range.bytes.equals(data.subarray(10, 20)));

    // Ferry's own credentials work on every route too.
    const viaBearer = await new CourseClient(server, null, null).get<FileMeta>('/file/meta', { filehash: sha1(data) }, alice.user!.auth);
    assert.equal(viaBearer.body.FileSha1, sha1(data));
    const viaApiKey = await new CourseClient(server, null, null).get<FileMeta>('/file/meta', { filehash: sha1(data) }, { 'x-api-key': alice.token! });
    assert.equal(viaApiKey.status, 200);
    assert.equal((await bob.get('/file/meta', { filehash: sha1(data) })).status, 404, "alice's file is not bob's");
  });

  it('checks a declared filehash as the file streams in, and stores nothing on a mismatch', async () => {
    const data = randomBytes(70_000);
    const right = await alice.upload('checked.bin', data, { filehash: sha1(data).toUpperCase() });
    assert.equal(right.status, 200);
    assert.equal(right.body.data.FileSha1, sha1(data));

    const other = randomBytes(70_000);
    const before = (await alice.query()).length;
    const wrong = await alice.upload('wrong.bin', other, { filehash: sha1(data) });
    assertFailure(wrong, 422, 'a wrong filehash');
    assert.equal(wrong.body.error?.code, 'sha1_mismatch');
    assert.equal((await alice.query()).length, before, 'no file was added');
    assertFailure(await alice.get('/file/meta', { filehash: sha1(other) }), 404, 'the bytes were not kept');

    const asField = await alice.upload('field.bin', other, {}, { filehash: sha1(data) });
    assertFailure(asField, 422, 'a wrong filehash as a form field before the file');
  });

  it('takes the token as a form field before the file', async () => {
    const data = randomBytes(1000);
    const anonymous = new CourseClient(server, null, null);
    const form = new FormData();
    form.append('token', alice.token!);
    form.append('file', new Blob([data as unknown as Uint8Array<ArrayBuffer>]), 'via-field.txt');
    const response = await fetch(`${server.url}/file/upload`, { method: 'POST', body: form });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as RespMsg<FileMeta>).data.FileSha1, sha1(data));
    assertFailure(await anonymous.upload('nobody.txt', data), 401, 'no credentials');
  });

  it('takes a 3-part multipart upload with parts out of order and in parallel, and completes it in place', async () => {
    const data = randomBytes(2 * PART + 12_345);
    const init = await alice.initMultipart(sha1(data), data.length);
    assert.equal(init.status, 200);
    assert.equal(init.body.code, 0);
    const info = init.body.data;
    assert.equal(info.ChunkSize, PART);
    assert.equal(info.ChunkCount, 3, 'ceil: the short last part counts');
    assert.equal(info.FileHash, sha1(data));
    assert.equal(info.FileSize, data.length);
    assert.match(info.UploadID, /^[0-9a-f]{32}$/);
    assert.equal(info.UploadId, info.UploadID);
    assert.deepEqual(info.ChunkExists, []);

    const early = await alice.completeMultipart(info.UploadID, sha1(data), data.length, 'movie.mp4');
    assertFailure(early, 409, 'completing with parts missing');
    assert.equal(early.body.code, -2, "the course's invalid-request code");

    assert.equal((await alice.uploadPart(info.UploadID, 3, part(data, 3))).body.code, 0);
    const [one, two] = await Promise.all([alice.uploadPart(info.UploadID, 1, part(data, 1)), alice.uploadPart(info.UploadID, 2, part(data, 2))]);
    assert.deepEqual([one.status, one.body.code, two.status, two.body.code], [200, 0, 200, 0]);
    const again = await alice.uploadPart(info.UploadID, 2, part(data, 2));
    assert.equal(again.status, 200, 'a part sent twice is harmless');

    const done = await alice.completeMultipart(info.UploadID, sha1(data), data.length, 'movie.mp4');
    assert.equal(done.status, 200);
    assert.equal(done.body.code, 0);
    assert.deepEqual({ ...done.body.data, UploadAt: null }, { FileSha1: sha1(data), FileName: 'movie.mp4', FileSize: data.length, UploadAt: null });
    assert.ok((await alice.download(sha1(data))).bytes.equals(data));
    const repeated = await alice.completeMultipart(info.UploadID, sha1(data), data.length, 'movie.mp4');
    assert.equal(repeated.status, 200, 'completing again answers the same file');
    assert.equal((await alice.query()).filter((file) => file.FileHash === sha1(data)).length, 1, 'and adds none');
  });

  it('reports missing parts 1-based and resumes an upload by its id', async () => {
    const data = randomBytes(PART + 10);
    const { body: { data: info } } = await alice.initMultipart(sha1(data), data.length);
    assert.equal(info.ChunkCount, 2);
    await alice.uploadPart(info.UploadID, 2, part(data, 2));
    const early = await alice.completeMultipart(info.UploadID, sha1(data), data.length, 'resumed.bin');
    assert.deepEqual(early.body.data, { missing: [1] });
    await alice.uploadPart(info.UploadID, 1, part(data, 1));
    assert.equal((await alice.completeMultipart(info.UploadID, sha1(data), data.length, 'resumed.bin')).body.code, 0);
  });

  it('stores an empty file through multipart upload (no parts)', async () => {
    const empty = Buffer.alloc(0);
    const { body: { data: info } } = await alice.initMultipart(sha1(empty), 0);
    assert.equal(info.ChunkCount, 0);
    assertFailure(await alice.uploadPart(info.UploadID, 1, empty), 400, 'an empty file has no part 1');
    const done = await alice.completeMultipart(info.UploadID, sha1(empty), 0, 'empty.txt');
    assert.deepEqual({ ...done.body.data, UploadAt: null }, { FileSha1: sha1(empty), FileName: 'empty.txt', FileSize: 0, UploadAt: null });
  });

  it('refuses a completed multipart upload whose SHA-1 is not the declared one, adding no file', async () => {
    const data = randomBytes(1000);
    const claimed = sha1(randomBytes(10));
    const { body: { data: info } } = await alice.initMultipart(claimed, data.length);
    assert.equal((await alice.uploadPart(info.UploadID, 1, data)).status, 200);
    const contradicting = await alice.completeMultipart(info.UploadID, sha1(data), data.length, 'liar.bin');
    assertFailure(contradicting, 400, 'a filehash that contradicts the one given at init');
    assertFailure(await alice.completeMultipart(info.UploadID, claimed, data.length + 1, 'liar.bin'), 400, 'a filesize that contradicts init');
    const wrong = await alice.completeMultipart(info.UploadID, claimed, data.length, 'liar.bin');
    assertFailure(wrong, 422, 'content whose SHA-1 differs');
    assert.equal(wrong.body.error?.code, 'sha1_mismatch');
    assertFailure(await alice.get('/file/meta', { filehash: sha1(data) }), 404, 'no file has the bytes');
    assertFailure(await alice.get('/file/meta', { filehash: claimed }), 404, 'nor the claimed hash');
    assert.ok(!(await alice.query()).some((file) => file.FileName === 'liar.bin'));
    assert.notEqual((await alice.uploadPart(info.UploadID, 1, data)).status, 200, 'the upload is over');
  });

  it('answers bad parts with 4xx JSON and keeps the upload consistent', async () => {
    const data = randomBytes(PART + 100);
    const { body: { data: info } } = await alice.initMultipart(sha1(data), data.length);
    assertFailure(await alice.uploadPart(info.UploadID, 0, part(data, 1)), 400, 'index 0: parts count from 1');
    assertFailure(await alice.uploadPart(info.UploadID, 3, part(data, 1)), 400, 'index past the last part');
    assertFailure(await alice.uploadPart(info.UploadID, 'one', part(data, 1)), 400, 'an index that is no number');
    assertFailure(await alice.uploadPart(info.UploadID, 2, Buffer.concat([part(data, 2), Buffer.from('x')])), 400, 'an oversized part');
    assertFailure(await alice.uploadPart(info.UploadID, 1, part(data, 1).subarray(1)), 400, 'a short part');
    assertFailure(await alice.uploadPart(info.UploadID, 2, part(data, 2), { chkhash: sha1(Buffer.from('other')) }), 400, 'a part that does not match its chkhash');
    assertFailure(await alice.uploadPart('0'.repeat(32), 1, part(data, 1)), 404, 'an unknown upload id');
    assertFailure(await alice.uploadPart('../../etc', 1, part(data, 1)), 404, 'an id that is a path');
    assertFailure(await bob.uploadPart(info.UploadID, 1, part(data, 1)), 404, "another user's upload");
    assertFailure(await bob.completeMultipart(info.UploadID, sha1(data), data.length, 'x'), 404, "completing another user's upload");
    assertFailure(await alice.initMultipart('not-a-hash', 10), 400, 'a filehash that is not SHA-1 hex');
    assertFailure(await alice.initMultipart(sha1(data), -1), 400, 'a negative filesize');
    assertFailure(await alice.postForm('/file/mpupload/init', { filehash: sha1(data) }), 400, 'no filesize');
    assertFailure(await alice.postForm('/file/mpupload/complete', { filehash: sha1(data) }), 400, 'no uploadid');

    const checked = await alice.uploadPart(info.UploadID, 2, part(data, 2), { chkhash: sha1(part(data, 2)) });
    assert.equal(checked.status, 200, 'a matching chkhash');
    const withForm = new FormData();
    withForm.append('uploadid', info.UploadID);
    withForm.append('index', '1');
    withForm.append('token', alice.token!);
    withForm.append('chunk', new Blob([part(data, 1) as unknown as Uint8Array<ArrayBuffer>]), 'blob');
    const asForm = await fetch(`${server.url}/file/mpupload/uppart`, { method: 'POST', body: withForm });
    assert.equal(asForm.status, 200, 'a part as the file of a real multipart form');
    const done = await alice.completeMultipart(info.UploadID, sha1(data), data.length, 'bad-parts.bin');
    assert.equal(done.body.code, 0);
    assert.ok((await alice.download(sha1(data))).bytes.equals(data), 'no bad part left a byte behind');
  });

  it("makes instant uploads of the caller's own content only", async () => {
    const data = randomBytes(50_000);
    await alice.upload('original.txt', data);
    const before = (await alice.query()).length;
    const instant = await alice.fastUpload(sha1(data), 'copy.txt', data.length);
    assert.equal(instant.status, 200);
    assert.equal(instant.body.code, 0);
    assert.equal(instant.body.msg, '秒传成功');
    assert.equal(instant.body.data.FileName, 'copy.txt');
    assert.equal((await alice.query()).length, before + 1, 'a second file over the same content');

    const others = await bob.fastUpload(sha1(data), 'stolen.txt', data.length);
    assertFailure(others, 404, "someone else's content");
    assert.equal(others.body.code, -1);
    assert.equal(others.body.msg, '秒传失败，请访问普通上传接口');
    const unknown = await bob.fastUpload(sha1(randomBytes(8)), 'nothing.txt', 8);
    assert.deepEqual([unknown.status, unknown.body.code, unknown.body.msg], [others.status, others.body.code, others.body.msg], 'answered like unknown content');
    assertFailure(await alice.fastUpload(sha1(data), 'wrong-size.txt', data.length + 1), 404, 'the right hash with another size');
    assert.equal((await bob.query()).length, 0);
  });

  it('renames with op=0 and deletes by filehash', async () => {
    const data = randomBytes(4000);
    await alice.upload('draft.txt', data);
    const renamed = await alice.postForm<FileMeta>('/file/update', { op: '0', filehash: sha1(data), filename: 'notes/final.txt' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.FileName, 'notes/final.txt');
    assert.equal(renamed.body.FileSha1, sha1(data));
    assert.equal((await alice.get<FileMeta>('/file/meta', { filehash: sha1(data) })).body.FileName, 'notes/final.txt');
    assertFailure(await alice.postForm('/file/update', { op: '1', filehash: sha1(data), filename: 'x' }), 403, 'an op other than 0');
    assertFailure(await alice.postForm('/file/update', { op: '0', filehash: sha1(data), filename: '../../etc/passwd' }), 400, 'a name that is a path');
    assertFailure(await alice.postForm('/file/update', { op: '0', filehash: sha1(data) }), 400, 'no filename');
    assertFailure(await bob.postForm('/file/update', { op: '0', filehash: sha1(data), filename: 'mine.txt' }), 404, "another user's file");
    assertFailure(await bob.postForm('/file/delete', { filehash: sha1(data) }), 404, "deleting another user's file");

    const deleted = await alice.postForm('/file/delete', { filehash: sha1(data) });
    assert.deepEqual([deleted.status, deleted.body.code], [200, 0]);
    assertFailure(await alice.get('/file/meta', { filehash: sha1(data) }), 404, 'gone');
    assertFailure(await alice.postForm('/file/delete', { filehash: sha1(data) }), 404, 'deleted twice');
    assert.equal((await alice.download(sha1(data))).status, 404);

    const again = randomBytes(10);
    await alice.upload('by-delete.txt', again);
    const response = await fetch(`${server.url}/file/delete?${new URLSearchParams({ token: alice.token!, filehash: sha1(again) })}`, { method: 'DELETE' });
    assert.equal(response.status, 200, 'DELETE works as well as POST');
  });

  it('finds files uploaded through other protocols by SHA-1', async () => {
    const data = randomBytes(20_000);
    const created = await fetch(`${server.url}/api/v1/uploads`, {
      method: 'POST',
      headers: { ...alice.user!.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'native.bin', size: data.length }),
    });
    const { id } = (await created.json()) as { id: string };
    const digest = `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;
    const put = await fetch(`${server.url}/api/v1/uploads/${id}/chunks/0`, {
      method: 'PUT', headers: { ...alice.user!.auth, 'content-digest': digest }, body: data as unknown as Uint8Array<ArrayBuffer>,
    });
    assert.equal(put.status, 200);
    const completed = await fetch(`${server.url}/api/v1/uploads/${id}/complete`, { method: 'POST', headers: alice.user!.auth });
    assert.equal(completed.status, 200);
    assert.ok((await alice.query()).some((file) => file.FileHash === sha1(data) && file.FileName === 'native.bin'));
    assert.equal((await alice.get<FileMeta>('/file/meta', { filehash: sha1(data) })).body.FileName, 'native.bin');
  });

  it('answers bad requests with 4xx JSON, never a 5xx', async () => {
    const anonymous = new CourseClient(server, null, null);
    assertFailure(await anonymous.get('/file/meta', { filehash: sha1(Buffer.from('a')) }), 401, 'no credentials');
    assertFailure(await anonymous.get('/file/meta', { filehash: sha1(Buffer.from('a')), token: 'fk_not-a-token' }), 401, 'a bad token');
    assertFailure(await alice.get('/file/meta', {}), 400, 'no filehash');
    assertFailure(await alice.get('/file/meta', { filehash: '../../../etc/passwd' }), 400, 'a filehash that is a path');
    assertFailure(await alice.get('/file/meta', { filehash: 'a'.repeat(64) }), 400, 'a SHA-256 instead of a SHA-1');
    assertFailure(await alice.get('/file/meta', { filehash: sha1(Buffer.from('never stored')) }), 404, 'an unknown filehash');
    assertFailure(await alice.get('/file/query', {}), 400, 'no limit');
    assertFailure(await alice.get('/file/query', { limit: '0' }), 400, 'limit 0');
    assertFailure(await alice.get('/file/query', { limit: '1001' }), 400, 'limit too large');
    assertFailure(await alice.get('/file/query', { limit: '-3' }), 400, 'a negative limit');
    const contradictory = await fetch(`${server.url}/file/meta?filehash=${sha1(Buffer.from('a'))}`, {
      method: 'POST', body: new URLSearchParams({ token: alice.token!, filehash: sha1(Buffer.from('b')) }),
    });
    assertFailure({ status: contradictory.status, body: await contradictory.json() }, 400, 'a filehash in the query and another in the form');
    assertFailure(await alice.fastUpload('zz', 'x', 1), 400, 'fastupload with a bad hash');
    assertFailure(await alice.postForm('/file/fastupload', { filehash: sha1(Buffer.from('a')), filename: 'x' }), 400, 'fastupload without a size');
    assertFailure(await alice.postForm('/file/fastupload', { filehash: sha1(Buffer.from('a')), filesize: '1' }), 400, 'fastupload without a name');

    const notMultipart = await fetch(`${server.url}/file/upload?token=${alice.token}`, { method: 'POST', body: 'raw bytes' });
    assertFailure({ status: notMultipart.status, body: await notMultipart.json() }, 415, 'an upload that is no form');
    const noFile = new FormData();
    noFile.append('something', 'else');
    const withoutFile = await fetch(`${server.url}/file/upload?token=${alice.token}`, { method: 'POST', body: noFile });
    assertFailure({ status: withoutFile.status, body: await withoutFile.json() }, 400, 'a form without a file');
    const garbage = await fetch(`${server.url}/file/upload?token=${alice.token}`, {
      method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: 'not multipart at all',
    });
    assertFailure({ status: garbage.status, body: await garbage.json() }, 400, 'a malformed form');
    const oversizedForm = await fetch(`${server.url}/file/meta?token=${alice.token}`, {
      method: 'POST', body: new URLSearchParams({ filehash: sha1(Buffer.from('a')), pad: 'x'.repeat(100_000) }),
    });
    assertFailure({ status: oversizedForm.status, body: await oversizedForm.json() }, 413, 'a form body too large to be parameters');
    const multipartParams = new FormData();
    multipartParams.append('token', alice.token!);
    multipartParams.append('filehash', sha1(Buffer.from('never stored')));
    const asMultipart = await fetch(`${server.url}/file/meta`, { method: 'POST', body: multipartParams });
    assertFailure({ status: asMultipart.status, body: await asMultipart.json() }, 404, 'parameters as multipart fields are read');
    const longField = new FormData();
    longField.append('token', alice.token!);
    longField.append('filename', 'x'.repeat(5000));
    longField.append('file', new Blob(['abc']), 'long.txt');
    const cut = await fetch(`${server.url}/file/upload`, { method: 'POST', body: longField });
    assertFailure({ status: cut.status, body: await cut.json() }, 400, 'a form field too long to be taken whole');
  });

  it('stores nothing from a form upload the client abandons mid-file, and ends its upload at once', async () => {
    const before = (await alice.query()).length;
    const created: string[] = [];
    const ended: string[] = [];
    const onCreated = (upload: { id: string }) => created.push(upload.id);
    const onEnded = (upload: { id: string }) => ended.push(upload.id);
    server.uploads.events.on('created', onCreated);
    server.uploads.events.on('terminated', onEnded);
    const boundary = 'ferryboundary';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const url = new URL(`${server.url}/file/upload?token=${alice.token}`);
    await new Promise<void>((resolve) => {
      const req = httpRequest(url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': '1000000' } });
      req.on('error', () => resolve());
      req.write(head);
      req.write(randomBytes(100_000));
      setTimeout(() => { req.destroy(); resolve(); }, 200);
    });
    // A form whose body ends without its closing boundary is not a file either.
    const truncated = await fetch(url, {
      method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: Buffer.concat([Buffer.from(head), randomBytes(5000)]),
    });
    assertFailure({ status: truncated.status, body: await truncated.json() }, 400, 'a form cut short');
    await sleep(300);
    server.uploads.events.off('created', onCreated);
    server.uploads.events.off('terminated', onEnded);
    assert.equal((await alice.query()).length, before);
    assert.equal(created.length, 2, 'each form started an upload');
    assert.deepEqual(ended.sort(), created.sort(), 'and each was ended, its bytes freed');
  });
});

describe('FERRY_FILESTORE_TRUST_CLIENT_HASHES', () => {
  it('is off unless set to true', () => {
    assert.equal(loadConfig({}).filestoreTrustClientHashes, false);
    assert.equal(loadConfig({ FERRY_FILESTORE_TRUST_CLIENT_HASHES: 'true' }).filestoreTrustClientHashes, true);
    assert.equal(loadConfig({ FERRY_FILESTORE_TRUST_CLIENT_HASHES: 'FALSE' }).filestoreTrustClientHashes, false);
    assert.throws(() => loadConfig({ FERRY_FILESTORE_TRUST_CLIENT_HASHES: 'sure' }), /FERRY_FILESTORE_TRUST_CLIENT_HASHES/);
  });
});

describe('filestore-server protocol, trusting client hashes', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ auth: 'required', filestoreTrustClientHashes: true });
  });
  after(async () => server.stop());

  it("completes an instant upload from another user's content on the hash alone", async () => {
    const alice = new CourseClient(server, await createUser(server, 'alice'));
    const bob = new CourseClient(server, await createUser(server, 'bob'));
    const data = randomBytes(30_000);
    await alice.upload('shared.bin', data);
    const instant = await bob.fastUpload(sha1(data), 'got-it.bin', data.length);
    assert.equal(instant.status, 200);
    assert.equal(instant.body.code, 0);
    assert.ok((await bob.download(sha1(data))).bytes.equals(data));
    assertFailure(await bob.fastUpload(sha1(data), 'wrong-size.bin', data.length - 1), 404, 'the size must still match');
    assertFailure(await bob.fastUpload(sha1(randomBytes(3)), 'unknown.bin', 3), 404, 'unknown content');
  });
});
