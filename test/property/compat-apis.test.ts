/**
 * Properties of the compatibility APIs' parsers, through a server: fuploadServer's task JSON and
 * blocks (src/http/fupload, src/core/block-uploads.ts) and filestore-server's forms and query
 * parameters (src/http/filestore). Whatever a client sends, the answer is a success or a 4xx in
 * the API's own shape, blocks land only inside the file, and names stay inside the library.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseFileName } from '../../src/core/names.js';
import { Params } from '../../src/http/filestore/params.js';
import { send, type HttpResult } from '../helpers/http-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { OVER_HTTP, PURE, REQUEST_TIMEOUT_MS, anyText, assertNotServerError, isSafeCount, numberish, resultOrClientError, wellFormed } from './support.js';

const TOKEN = 'property-business-token';
const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
/** A field value as a client would fill a form or JSON with it. */
const fieldText = fc.oneof(numberish, anyText.map(wellFormed));
const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fieldText);

/** Encodes a multipart form the way fetch would, for `send`. */
async function multipart(fields: readonly (readonly [string, string])[], file: { field: string; bytes: Buffer } | null) {
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value);
  if (file) form.append(file.field, new Blob([file.bytes as unknown as Uint8Array<ArrayBuffer>]), 'part.bin');
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { 'Content-Type': request.headers.get('content-type')!, body: Buffer.from(await request.arrayBuffer()) };
}

/** fuploadServer's answer shape, success or failure. */
function assertFuploadAnswer(res: HttpResult, what: string): { retCode: string; data: unknown } {
  assertNotServerError(res, what);
  const body = res.json() as { retCode?: unknown; status?: unknown; data?: unknown };
  assert.equal(typeof body.retCode, 'string', `${what}: ${res.text().slice(0, 200)}`);
  assert.equal(typeof body.status, 'string');
  // retCode 1 is a success that lists holes still to fill, or the failure "not authorized" (401).
  if (res.status >= 400) assert.notEqual(body.retCode, '0', what);
  else assert.ok(body.retCode === '0' || body.retCode === '1', `${what}: status ${res.status} with retCode ${String(body.retCode)}`);
  return body as { retCode: string; data: unknown };
}

describe('property: fuploadServer tasks and blocks through the server', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ fuploadClients: { [TOKEN]: 'http://127.0.0.1:9/notify' } }); });
  after(async () => { await server?.stop(); });

  const postJson = (path: string, body: string) =>
    send(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, timeoutMs: REQUEST_TIMEOUT_MS });
  let tasks = 0;
  /** A new task for 10 bytes of its own (a task for the same user and MD5 would be handed back again). */
  const newTask = async () => {
    tasks += 1;
    const data = Buffer.from(String(tasks).padStart(10, '-'));
    const res = await postJson('/api/upload/new/task', JSON.stringify({ token: TOKEN, userId: 'u1', storePath: '/p/', fileName: 'f.bin', fileSize: data.length, fileMd5: md5(data) }));
    assert.equal(res.status, 200, res.text());
    return { data, ...(res.json() as { data: { taskId: number; uploadUrl: string; stateUrl: string } }).data };
  };

  it('a new task from any JSON body is created, or refused in the original\'s answer shape; its name stays in the library', async () => {
    const task = fc.record({
      token: fc.oneof(fc.constant(TOKEN), jsonish),
      userId: fc.oneof(fc.constant('u1'), jsonish),
      storePath: fc.oneof(fc.constantFrom('/videos/2026/', '../../etc', 'a/../../b', 'C:\\x', '/./a//b/'), jsonish),
      fileName: fc.oneof(fc.constant('clip.mp4'), jsonish),
      fileSize: fc.oneof(fc.constant(3), jsonish),
      fileMd5: fc.oneof(fc.constant(md5('abc')), jsonish),
    }, { requiredKeys: [], noNullPrototype: true });
    const body = fc.oneof(task.map((value) => JSON.stringify(value)), fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)), fc.constantFrom('null', '[]', '"x"', '1', '{'));
    await fc.assert(fc.asyncProperty(body, async (text) => {
      const res = await postJson('/api/upload/new/task', text);
      const answer = assertFuploadAnswer(res, `new task ${text.slice(0, 200)}`);
      if (answer.retCode !== '0') return;
      const { taskId } = answer.data as { taskId: number };
      const uploadId = await server.meta.uploads.findAlias('fupload', 'task', String(taskId));
      const name = (await server.meta.uploads.get(uploadId!))!.metadata.filename!;
      assert.equal(parseFileName(name), name);
      assert.ok(!name.split('/').includes('..'));
    }), OVER_HTTP);
  });

  it('a block with any startByte, endByte and partMd5 is stored only when it lies inside the file with its own MD5', async () => {
    const fields = fc.record({
      startByte: fc.oneof(fc.nat(12).map(String), fieldText),
      endByte: fc.oneof(fc.nat(12).map(String), fieldText),
      partMd5: fc.option(fc.oneof(fieldText, fc.constant('good')), { nil: undefined }),
    }, { noNullPrototype: true });
    await fc.assert(fc.asyncProperty(fields, fc.constantFrom('file', 'other'), async (f, fileField) => {
      const { uploadUrl, data } = await newTask();
      const [start, end] = [Number(f.startByte), Number(f.endByte)];
      const valid = /^\d+$/.test(f.startByte.trim()) && /^\d+$/.test(f.endByte.trim()) && start <= end && end < data.length;
      const bytes = valid ? data.subarray(start, end + 1) : data.subarray(0, 3);
      const pairs: [string, string][] = [['startByte', f.startByte], ['endByte', f.endByte]];
      if (f.partMd5 !== undefined) pairs.push(['partMd5', f.partMd5 === 'good' ? md5(bytes) : f.partMd5]);
      const form = await multipart(pairs, { field: fileField, bytes });
      const res = await send(uploadUrl, { method: 'POST', headers: { 'Content-Type': form['Content-Type'] }, body: form.body, timeoutMs: REQUEST_TIMEOUT_MS });
      const answer = assertFuploadAnswer(res, `block ${JSON.stringify(f)}`);
      if (res.status < 400) {
        assert.ok(valid && fileField === 'file', `stored ${JSON.stringify(f)} in field ${fileField}`);
        assert.ok(f.partMd5 === undefined || f.partMd5 === 'good' || f.partMd5.toLowerCase() === md5(bytes));
        for (const hole of (answer.retCode === '1' ? answer.data : []) as { startByte: number; endByte: number }[]) {
          assert.ok(isSafeCount(hole.startByte) && hole.startByte <= hole.endByte && hole.endByte < data.length);
        }
      }
    }), OVER_HTTP);
  });

  it('a state change with any JSON body and any task id or key is applied or refused in the answer shape', async () => {
    const { stateUrl, taskId } = await newTask();
    const body = fc.oneof(
      fc.record({ taskId: fc.oneof(fc.constant(taskId), jsonish), status: fc.oneof(fc.constantFrom('pause', 'upload', 'cancel'), jsonish) }, { requiredKeys: [], noNullPrototype: true }).map((v) => JSON.stringify(v)),
      fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('null', '[]', '7'),
    );
    const url = fc.constantFrom(stateUrl, `${server.url}/api/upload/files/state`, `${stateUrl}x`, stateUrl.replace(/taskId=\d+/, 'taskId=1'));
    await fc.assert(fc.asyncProperty(body, url, async (text, target) => {
      const res = await send(target, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: text, timeoutMs: REQUEST_TIMEOUT_MS });
      const answer = assertFuploadAnswer(res, `state ${text.slice(0, 200)} at ${target}`);
      if (answer.retCode === '0') assert.equal(target, stateUrl, 'only the URL with the task\'s key may change it');
    }), OVER_HTTP);
  });
});

describe('property: filestore-server parameters', () => {
  const pairs = fc.array(fc.tuple(fc.constantFrom('filehash', 'filesize', 'filename', 'index', 'limit', 'op', 'uploadid'), fieldText), { maxLength: 6 });

  it('Params keeps one value per name, refusing a contradiction with a 400', () => {
    fc.assert(fc.property(pairs, pairs, (query, form) => {
      const outcome = resultOrClientError(() => Params.of(query, form));
      const all = [...query, ...form].filter(([, value]) => value !== '');
      const contradicts = all.some(([name, value]) => all.some(([other, otherValue]) => other === name && otherValue !== value));
      assert.equal(outcome.ok, !contradicts);
      if (!outcome.ok) return;
      for (const [name, value] of all) assert.equal(outcome.value.get(name), value);
    }), PURE);
  });

  it('a count is a safe non-negative integer and a SHA-1 is 40 lowercase hex digits, or a 400', () => {
    fc.assert(fc.property(fieldText, fc.oneof(fieldText, fc.stringMatching(/^[0-9a-fA-F]{40}$/)), (count, sha1) => {
      const params = Params.of([['n', count], ['h', sha1]]);
      const n = resultOrClientError(() => params.count('n'));
      if (n.ok) assert.ok(isSafeCount(n.value));
      const h = resultOrClientError(() => params.sha1('h'));
      if (h.ok) assert.match(h.value, /^[0-9a-f]{40}$/);
      else assert.equal(h.error.status, 400);
    }), PURE);
  });
});

describe('property: filestore-server routes through the server', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  /** The course's answer: a RespMsg with code 0 on success, a negative code and Ferry's error on failure. */
  const assertCourseAnswer = (res: HttpResult, what: string) => {
    assertNotServerError(res, what);
    if (res.status < 400) return;
    const body = res.json() as { code?: number; error?: { code?: unknown } };
    assert.ok(typeof body.code === 'number' && body.code < 0, `${what}: ${res.text().slice(0, 200)}`);
    assert.equal(typeof body.error?.code, 'string');
  };
  const ROUTES = ['/file/upload', '/file/meta', '/file/query', '/file/download', '/file/update', '/file/delete', '/file/fastupload', '/file/mpupload/init', '/file/mpupload/uppart', '/file/mpupload/complete'];
  const fields = fc.array(fc.tuple(fc.constantFrom('filehash', 'filesize', 'filename', 'index', 'limit', 'op', 'uploadid', 'chkhash', 'token'), fieldText), { maxLength: 6 });

  it('every route answers any urlencoded form and query with a success or the course\'s failure', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...ROUTES), fields, fields, async (route, query, form) => {
      const res = await send(`${server.url}${route}?${new URLSearchParams(query)}`, {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString(), timeoutMs: REQUEST_TIMEOUT_MS,
      });
      assertCourseAnswer(res, `${route} ${JSON.stringify([query, form]).slice(0, 200)}`);
    }), OVER_HTTP);
  });

  it('every route answers any multipart form, with or without a file, with a success or the course\'s failure', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...ROUTES), fields, fc.option(fc.constantFrom('file', 'other'), { nil: null }), async (route, form, fileField) => {
      const body = await multipart(form, fileField === null ? null : { field: fileField, bytes: Buffer.from('filestore') });
      const res = await send(`${server.url}${route}`, { method: 'POST', headers: { 'Content-Type': body['Content-Type'] }, body: body.body, timeoutMs: REQUEST_TIMEOUT_MS });
      assertCourseAnswer(res, `${route} multipart ${JSON.stringify(form).slice(0, 200)} file ${fileField}`);
    }), OVER_HTTP);
  });

  it('a part upload with any uploadid and index lands only in an existing part, or is refused', async () => {
    const init = await send(`${server.url}/file/mpupload/init`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `filehash=${'a'.repeat(40)}&filesize=10` });
    assert.equal(init.status, 200, init.text());
    const uploadId = (init.json() as { data: { UploadID: string } }).data.UploadID;
    await fc.assert(fc.asyncProperty(fc.oneof(fc.constant(uploadId), fieldText), fc.oneof(fc.constant('1'), fieldText), async (id, index) => {
      const res = await send(`${server.url}/file/mpupload/uppart?${new URLSearchParams({ uploadid: id, index })}`, { method: 'POST', body: '0123456789', timeoutMs: REQUEST_TIMEOUT_MS });
      assertCourseAnswer(res, `uppart ${JSON.stringify([id, index])}`);
      if (res.status < 400) assert.deepEqual([id, Number(index)], [uploadId, 1]);
    }), OVER_HTTP);
  });
});
