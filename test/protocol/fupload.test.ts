/**
 * The fuploadServer task API, driven the way a business server and its clients drive it, with a
 * fake business server that checks the signatures of its callbacks; and the README's own curl
 * examples, run as written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ProcessServer, freePort } from '../helpers/process-server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'business-server-token-1';
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Answer {
  status: number;
  body: { retCode: string; status: string; data: unknown };
}

interface Callback {
  key: string;
  body: { retCode: string; status: string; data: unknown; date: unknown; taskId: number };
}

/** The business server's notify endpoint: keeps the callbacks whose signature checks out. */
class BusinessServer {
  readonly callbacks: Callback[] = [];
  forged = 0;
  private server!: Server;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers['ferry-signature']));
        const expected = match ? createHmac('sha256', TOKEN).update(`${match[1]}.${body}`).digest() : null;
        if (!match || !expected || !timingSafeEqual(expected, Buffer.from(match[2]!, 'hex'))) {
          this.forged += 1;
          response.writeHead(401).end();
          return;
        }
        this.callbacks.push({ key: String(request.headers['idempotency-key']), body: JSON.parse(body) as Callback['body'] });
        response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/notify`;
  }

  async callbackFor(taskId: number, ms = 10_000): Promise<Callback> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.callbacks.find((callback) => callback.body.taskId === taskId);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no callback for task ${taskId}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function json(url: string, body: unknown, method = 'POST'): Promise<Answer> {
  const response = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

async function newTask(base: string, data: Buffer, extra: Record<string, unknown> = {}) {
  const answer = await json(`${base}/api/upload/new/task`, {
    token: TOKEN, userId: '123', storePath: '/videos/2026/', fileName: 'clip.mp4', fileSize: String(data.length), fileMd5: md5(data),
    feedBackParameter: { orderId: 42, note: '回调' }, ...extra,
  });
  return answer as Answer & { body: { data: { taskId: number; uploadUrl: string; blocksUrl: string; stateUrl: string } } };
}

async function block(uploadUrl: string, data: Buffer, start: number, end: number, partMd5 = md5(data.subarray(start, end + 1))): Promise<Answer> {
  const form = new FormData();
  form.append('startByte', String(start));
  form.append('endByte', String(end));
  form.append('partMd5', partMd5);
  form.append('file', new Blob([data.subarray(start, end + 1) as unknown as Uint8Array<ArrayBuffer>]), 'part');
  const response = await fetch(uploadUrl, { method: 'POST', body: form });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

describe('fuploadServer task API', () => {
  let business: BusinessServer;
  let server: TestServer;
  before(async () => {
    business = await new BusinessServer().start();
    server = await startTestServer({ auth: 'required', fuploadClients: { [TOKEN]: business.url } });
  });
  after(async () => {
    await server.stop();
    await business.stop();
  });

  it('takes blocks out of order, reports holes, pauses, and calls back the business server once the MD5 checks out', async () => {
    const data = randomBytes(300_000);
    const task = await newTask(server.url, data);
    assert.deepEqual([task.status, task.body.retCode], [200, '0']);
    const { taskId, uploadUrl, blocksUrl, stateUrl } = task.body.data;
    assert.ok(Number.isSafeInteger(taskId));

    assert.deepEqual((await block(uploadUrl, data, 0, 99_999)).body, { retCode: '0', status: 'ok', data: '' });
    const hole = await block(uploadUrl, data, 200_000, 249_999);
    assert.equal(hole.body.retCode, '1');
    assert.deepEqual(hole.body.data, [{ startByte: 100_000, endByte: 199_999 }]);
    const info = await fetch(blocksUrl).then((r) => r.json()) as Answer['body'] & { data: { totalSize: number; status: string; expectBlocks: unknown[] } };
    assert.deepEqual(info.data, { totalSize: data.length, status: 'uploading', expectBlocks: [{ startByte: 100_000, endByte: 199_999 }, { startByte: 250_000, endByte: 299_999 }] });

    assert.equal((await json(stateUrl, { taskId, status: 'pause' })).body.retCode, '0');
    const paused = await block(uploadUrl, data, 100_000, 199_999);
    assert.deepEqual([paused.status, paused.body.retCode], [409, '4']);
    assert.equal((await json(stateUrl, { taskId, status: 'pause' })).body.retCode, '6', 'same as the old state');
    assert.equal((await json(stateUrl, { taskId, status: 'upload' })).body.retCode, '0');

    const overlap = await block(uploadUrl, data, 50_000, 120_000);
    assert.deepEqual([overlap.status, overlap.body.retCode], [400, '8']);
    const badMd5 = await block(uploadUrl, data, 100_000, 199_999, md5(Buffer.from('other')));
    assert.deepEqual([badMd5.status, badMd5.body.retCode], [400, '7']);

    await block(uploadUrl, data, 250_000, 299_999);
    const last = await block(uploadUrl, data, 100_000, 199_999);
    assert.deepEqual(last.body, { retCode: '0', status: 'ok', data: '' });
    const callback = await business.callbackFor(taskId);
    assert.deepEqual(callback.body, { retCode: '0', status: 'ok', data: { orderId: 42, note: '回调' }, date: { orderId: 42, note: '回调' }, taskId });
    assert.match(callback.key, /^[0-9a-f]{32}$/);
    assert.equal(business.forged, 0);
    const done = await fetch(blocksUrl).then((r) => r.json()) as { data: { status: string; expectBlocks: unknown[] } };
    assert.deepEqual(done.data, { totalSize: data.length, status: 'finish', expectBlocks: [] } as never);
  });

  it('tells the business server when the whole file MD5 differs, and keeps nothing', async () => {
    const data = randomBytes(1000);
    const task = await newTask(server.url, data, { fileMd5: md5(Buffer.from('something else')) });
    const answer = await block(task.body.data.uploadUrl, data, 0, 999);
    assert.equal(answer.status, 422);
    const callback = await business.callbackFor(task.body.data.taskId);
    assert.deepEqual([callback.body.retCode, callback.body.status], ['-2', 'md5 error']);
    const gone = await fetch(task.body.data.blocksUrl);
    assert.equal(gone.status, 404);
  });

  it('hands back the unfinished task when the business server asks again for the same user and file', async () => {
    const data = randomBytes(2000);
    const first = await newTask(server.url, data);
    await block(first.body.data.uploadUrl, data, 0, 999);
    const again = await newTask(server.url, data);
    assert.equal(again.body.data.taskId, first.body.data.taskId);
    assert.equal(again.body.data.uploadUrl, first.body.data.uploadUrl);
    assert.equal((await block(again.body.data.uploadUrl, data, 1000, 1999)).body.retCode, '0');
  });

  it('refuses bad tokens, storePaths and parameters with the original codes and a 4xx', async () => {
    const data = randomBytes(10);
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['a wrong token', { token: 'nope' }, 401, '1'],
      ['no token', { token: undefined }, 401, '1'],
      ['.. in storePath', { storePath: '/videos/../../etc/' }, 400, '6'],
      ['NUL in storePath', { storePath: 'a\u0000b' }, 400, '6'],
      ['a drive letter', { storePath: 'C:\\Windows' }, 400, '6'],
      ['a file name with a slash', { fileName: '../x' }, 400, '6'],
      ['a size that is not a number', { fileSize: 'big' }, 400, '6'],
      ['a negative size', { fileSize: -1 }, 400, '6'],
      ['a malformed MD5', { fileMd5: 'xyz' }, 400, '6'],
    ];
    for (const [label, extra, status, retCode] of cases) {
      const answer = await newTask(server.url, data, extra);
      assert.deepEqual([answer.status, answer.body.retCode], [status, retCode], label);
    }
    const task = (await newTask(server.url, randomBytes(100))).body.data;
    const forged = task.uploadUrl.replace(/key=[^&]+/, 'key=forged');
    assert.deepEqual((await block(forged, data, 0, 9)).body.retCode, '2');
    const other = task.uploadUrl.replace(/taskId=\d+/, 'taskId=1');
    assert.equal((await block(other, data, 0, 9)).status, 404);
    assert.equal((await block(task.uploadUrl, randomBytes(100), 50, 10)).body.retCode, '8', 'endByte before startByte');
    assert.equal((await block(task.uploadUrl, randomBytes(200), 0, 150)).body.retCode, '8', 'past the end of the file');
  });

  it("puts the file in a folder of the business server's user, separate from Ferry's own users", async () => {
    const data = randomBytes(500);
    const task = (await newTask(server.url, data, { userId: '777', storePath: 'reports', fileName: 'q3.pdf' })).body.data;
    await block(task.uploadUrl, data, 0, 499);
    await business.callbackFor(task.taskId);
    const user = await server.meta.accounts.findUserByName(`fu-${createHash('sha256').update(TOKEN).digest('hex').slice(0, 8)}-777`);
    assert.ok(user);
    const files = await server.library.list({ userId: user.user.id, tenant: user.user.tenant }, { sort: 'name', order: 'asc', nameContains: null, folder: null, limit: 10, offset: 0 });
    assert.deepEqual(files.files.map((file) => [file.name, file.sha256]), [['reports/q3.pdf', sha256(data)]]);
  });

  it("runs the README's curl examples as written, with protocol answers", async () => {
    const curl = promisify(execFile);
    const host = server.url.replace('http://', '');
    const withToken = await startTestServer({ fuploadClients: { xxxxx: business.url } });
    try {
      const base = withToken.url.replace('http://', '');
      const created = await curl('curl', ['-s', '-i', '-H', 'content-type: application/json', '-X', 'POST', '-d',
        '{"token":"xxxxx","userId":"123","storePath":"/tmp/fupload/","fileName":"hello.mp4","fileSize":"345000000","fileMd5":"04465d416b4eca345976021db8698f15"}',
        `http://${base}/api/upload/new/task`]);
      assert.match(created.stdout, /^HTTP\/1\.1 200/);
      assert.match(created.stdout, /"retCode":"0"/);
      const blockAnswer = await curl('curl', ['-s', '-H', 'Content-Type:multipart/form-data', '-X', 'POST', '-F', 'startByte=0', '-F', 'endByte=1000',
        '-F', 'partMd5=a01610228fe998f515a72dd730294d87', '-F', 'file=/tmp/1.mp4.01', `http://${host}/api/upload/files/block?taskId=123`]);
      assert.equal((JSON.parse(blockAnswer.stdout) as Answer['body']).retCode, '2');
      const state = await curl('curl', ['-s', '-H', 'content-type: application/json', '-X', 'POST', '-d', '{"taskId":12344,"status":"pause"}', `http://${host}/api/upload/files/state`]);
      assert.equal((JSON.parse(state.stdout) as Answer['body']).retCode, '2');
      const info = await curl('curl', ['-s', `http://${host}/api/upload/files/blocks/info?taskId=123`]);
      assert.equal((JSON.parse(info.stdout) as Answer['body']).retCode, '2');
    } finally {
      await withToken.stop();
    }
  });
});

describe('fuploadServer callbacks across kill -9', () => {
  it('delivers the success callback queued before the crash, exactly once per idempotency key', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-fupload-'));
    const port = await freePort();
    const business = new BusinessServer();
    const server = await ProcessServer.start({ dataDir, env: { FERRY_FUPLOAD_CLIENTS: JSON.stringify({ [TOKEN]: `http://127.0.0.1:${port}/notify` }) } });
    try {
      const data = randomBytes(4000);
      const task = (await newTask(server.url, data)).body.data;
      assert.equal((await block(task.uploadUrl, data, 0, 3999)).body.retCode, '0');
      await server.kill('SIGKILL');
      await business.start(port);
      await server.restart();
      // A delivery the killed process had claimed waits out its claim (request timeout + 5 s).
      const callback = await business.callbackFor(task.taskId, 30_000);
      assert.equal(callback.body.retCode, '0');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(new Set(business.callbacks.filter((c) => c.body.taskId === task.taskId).map((c) => c.key)).size, 1);
    } finally {
      await server.stop();
      await business.stop().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
