/**
 * SECURITY.md's claims about business servers (fuploadServer clients) and signed deliveries: a
 * task is reached only through the key in the URLs handed out for it, whoever knows or guesses
 * its id; and what Ferry signs (webhooks, pre-create hook requests, fupload callbacks) verifies
 * only with the shared secret, for that body and that time.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { signature } from '../../src/hooks/signature.js';
import { send } from '../helpers/http-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN_A = 'business-server-a-token';
const TOKEN_B = 'business-server-b-token';
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

interface TaskUrls {
  taskId: number;
  uploadUrl: string;
  blocksUrl: string;
  stateUrl: string;
}

describe('fuploadServer task keys', () => {
  let server: TestServer;
  let task: TaskUrls;
  const data = Buffer.from('0123456789abcdef');
  before(async () => {
    server = await startTestServer({ fuploadClients: { [TOKEN_A]: 'http://127.0.0.1:9/a', [TOKEN_B]: 'http://127.0.0.1:9/b' } });
    task = await newTask(TOKEN_A, data);
  });
  after(async () => { await server?.stop(); });

  async function newTask(token: string, bytes: Buffer): Promise<TaskUrls> {
    const res = await send(`${server.url}/api/upload/new/task`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token, userId: 'u1', storePath: '/', fileName: 'f.bin', fileSize: bytes.length, fileMd5: md5(bytes) }),
    });
    assert.equal(res.status, 200, res.text());
    return (res.json() as { data: TaskUrls }).data;
  }

  async function block(url: string, start: number, end: number) {
    const form = new FormData();
    form.append('startByte', String(start));
    form.append('endByte', String(end));
    form.append('file', new Blob([data.subarray(start, end + 1) as unknown as Uint8Array<ArrayBuffer>]), 'part');
    const response = await fetch(url, { method: 'POST', body: form });
    return { status: response.status, body: await response.json() as { retCode: string } };
  }

  /** Every route of the task at `query` (taskId=...&key=...), answered as status and retCode. */
  async function everyRoute(query: string) {
    const base = `${server.url}/api/upload/files`;
    const info = await fetch(`${base}/blocks/info?${query}`);
    const state = await fetch(`${base}/state?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'pause' }) });
    const put = await block(`${base}/block?${query}`, 0, 3);
    return [
      [info.status, ((await info.json()) as { retCode: string }).retCode],
      [state.status, ((await state.json()) as { retCode: string }).retCode],
      [put.status, put.body.retCode],
    ];
  }

  it('a task id without its key, with a made-up key, with another task\'s key or a key of another business server answers exactly as no task', async () => {
    const other = await newTask(TOKEN_A, Buffer.from('another file of a'));
    const ofB = await newTask(TOKEN_B, Buffer.from('a file of server b'));
    const keyOf = (urls: TaskUrls) => new URL(urls.uploadUrl).searchParams.get('key')!;
    const keyMadeWithB = createHmac('sha256', TOKEN_B).update(`fupload-task:${task.taskId}`).digest('base64url');
    const attempts = [
      `taskId=${task.taskId}`,
      `taskId=${task.taskId}&key=${'A'.repeat(43)}`,
      `taskId=${task.taskId}&key=${keyOf(other)}`,
      `taskId=${task.taskId}&key=${keyOf(ofB)}`,
      `taskId=${task.taskId}&key=${keyMadeWithB}`,
    ];
    const noTask = await everyRoute(`taskId=1&key=${keyOf(other)}`);
    assert.deepEqual(noTask, [[404, '2'], [404, '2'], [404, '2']]);
    for (const query of attempts) assert.deepEqual(await everyRoute(query), noTask, query);
  });

  it('and none of those attempts changed the task: no byte stored, not paused', async () => {
    const info = await fetch(task.blocksUrl).then((res) => res.json()) as { data: { status: string; expectBlocks: unknown[] } };
    assert.deepEqual(info.data, { totalSize: data.length, status: 'uploading', expectBlocks: [{ startByte: 0, endByte: data.length - 1 }] });
  });

  it('the URLs handed out do reach the task (the refusals above are real)', async () => {
    assert.deepEqual((await block(task.uploadUrl, 0, 3)).body.retCode, '0');
    const info = await fetch(task.blocksUrl).then((res) => res.json()) as { data: { expectBlocks: unknown[] } };
    assert.deepEqual(info.data.expectBlocks, [{ startByte: 4, endByte: data.length - 1 }]);
  });
});

describe('signatures of webhooks, hook requests and callbacks', () => {
  const at = new Date('2026-11-23T05:00:00Z');
  const body = JSON.stringify({ type: 'upload.completed', id: 'x' });
  /** What a receiver does: recompute v1 over `<t>.<body>` with its copy of the secret. */
  const verifies = (header: string, secret: string, received: string) => {
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? [];
    return v1 !== undefined && createHmac('sha256', secret).update(`${t}.${received}`).digest('hex') === v1;
  };

  it('verify with the shared secret, and not with another secret, for another body, or under another timestamp', () => {
    const header = signature('the shared secret', body, at);
    assert.ok(verifies(header, 'the shared secret', body));
    assert.ok(!verifies(header, 'another secret', body));
    assert.ok(!verifies(header, 'the shared secret', body.replace('completed', 'created')));
    assert.ok(!verifies(header.replace(/t=\d+/, `t=${Math.floor(at.getTime() / 1000) + 1}`), 'the shared secret', body));
    assert.ok(!header.includes('the shared secret'));
  });
});
