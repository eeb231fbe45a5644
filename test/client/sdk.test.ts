import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FerryApiError, FerryClient, FileStateStore, type FetchLike, type UploadProgress } from '../../client/src/node.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CHUNK = 64 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const chunkPut = (url: string, init?: RequestInit) => init?.method === 'PUT' && /\/chunks\/\d+$/.test(url);

/** A fetch that records every request and may answer or act in place of the server. */
function recordingFetch(intercept?: (url: string, init: RequestInit | undefined, count: number) => Response | undefined) {
  const calls: { method: string; url: string }[] = [];
  const fetchImpl: FetchLike = async (url, init) => {
    calls.push({ method: init?.method ?? 'GET', url });
    const answer = intercept?.(url, init, calls.length);
    return answer ?? fetch(url, init);
  };
  const puts = () => calls.filter((call) => call.method === 'PUT' && /\/chunks\/\d+$/.test(call.url));
  return { fetchImpl, calls, puts };
}

describe('client SDK against a running server', () => {
  let server: TestServer;
  let dir: string;
  let alice: string;
  let bob: string;
  let shared: { path: string; bytes: Buffer };

  before(async () => {
    server = await startTestServer({ auth: 'required' });
    dir = await mkdtemp(join(tmpdir(), 'ferry-sdk-'));
    alice = (await new FerryClient({ baseUrl: server.url }).signup('alice', 'correct horse battery')).token;
    bob = (await new FerryClient({ baseUrl: server.url }).signup('bob', 'correct horse battery')).token;
    shared = { path: join(dir, 'shared.bin'), bytes: randomBytes(40 * CHUNK + 1234) };
    await writeFile(shared.path, shared.bytes);
  });

  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads in parallel chunks with progress, and the download has the same SHA-256', async () => {
    const { fetchImpl, puts } = recordingFetch();
    const client = new FerryClient({ baseUrl: server.url, token: alice, fetch: fetchImpl });
    const progress: UploadProgress[] = [];
    const result = await client.upload(shared.path, { name: 'data/shared.bin', chunkSize: CHUNK, parallel: 4, onProgress: (p) => progress.push(p) });
    assert.equal(result.instant, false);
    assert.equal(result.file.name, 'data/shared.bin');
    assert.equal(result.file.sha256, sha256(shared.bytes));
    assert.equal(puts().length, 41);
    assert.equal(result.chunksSent, 41);
    assert.equal(result.sentBytes, shared.bytes.length);
    assert.ok(progress.some((p) => p.phase === 'hashing'));
    const last = progress.at(-1)!;
    assert.deepEqual([last.phase, last.uploadedBytes, last.totalBytes, last.etaSeconds], ['done', shared.bytes.length, shared.bytes.length, 0]);
    assert.ok(progress.filter((p) => p.phase === 'uploading').every((p, i, all) => i === 0 || p.uploadedBytes >= all[i - 1]!.uploadedBytes));

    const target = join(dir, 'downloaded.bin');
    const downloaded = await client.download(result.file.id, target);
    assert.equal(downloaded.receivedBytes, shared.bytes.length);
    assert.equal(sha256(await readFile(target)), result.file.sha256);

    const listed = await client.list({ folder: 'data' });
    assert.deepEqual(listed.files.map((file) => file.id), [result.file.id]);
  });

  it('completes an upload of content the user already has instantly, without a chunk', async () => {
    const { fetchImpl, puts } = recordingFetch();
    const client = new FerryClient({ baseUrl: server.url, token: alice, fetch: fetchImpl });
    const result = await client.upload(shared.path, { name: 'again.bin', chunkSize: CHUNK });
    assert.equal(result.instant, true);
    assert.equal(result.sentBytes, 0);
    assert.equal(puts().length, 0);
    assert.equal(result.file.name, 'again.bin');
  });

  it("answers the proof-of-possession challenge for another user's content and completes without a chunk", async () => {
    const { fetchImpl, calls, puts } = recordingFetch();
    const client = new FerryClient({ baseUrl: server.url, token: bob, fetch: fetchImpl });
    const result = await client.upload(shared.path, { chunkSize: CHUNK });
    assert.equal(result.instant, true);
    assert.equal(puts().length, 0);
    assert.ok(calls.some((call) => call.method === 'POST' && call.url.endsWith('/proof')));
    assert.equal(result.file.name, 'shared.bin');
    assert.equal(result.file.sha256, sha256(shared.bytes));
  });

  it('retries chunks answered 503 with backoff and completes', async () => {
    const path = join(dir, 'retry.bin');
    const bytes = randomBytes(6 * CHUNK);
    await writeFile(path, bytes);
    let failures = 0;
    const { fetchImpl, puts } = recordingFetch((url, init) => {
      if (!chunkPut(url, init) || failures >= 3) return undefined;
      failures += 1;
      return new Response(JSON.stringify({ error: { code: 'unavailable', message: 'try later' } }), { status: 503 });
    });
    const client = new FerryClient({ baseUrl: server.url, token: alice, fetch: fetchImpl, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    const result = await client.upload(path, { chunkSize: CHUNK, parallel: 2 });
    assert.equal(failures, 3);
    assert.equal(puts().length, 6 + 3);
    assert.equal(result.chunksSent, 6);
    assert.equal(result.file.sha256, sha256(bytes));
  });

  it('gives up with the API error when retries run out', async () => {
    const path = join(dir, 'down.bin');
    await writeFile(path, randomBytes(CHUNK));
    const { fetchImpl } = recordingFetch((url, init) => (chunkPut(url, init) ? new Response('', { status: 502, statusText: 'Bad Gateway' }) : undefined));
    const client = new FerryClient({ baseUrl: server.url, token: alice, fetch: fetchImpl, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    await assert.rejects(client.upload(path, { chunkSize: CHUNK }), (err: unknown) => err instanceof FerryApiError && err.status === 502);
  });

  it('resumes from saved state after an abort, sending only the chunks the server lacks', async () => {
    const path = join(dir, 'resume.bin');
    const bytes = randomBytes(24 * CHUNK + 7);
    await writeFile(path, bytes);
    const statePath = join(dir, 'state', 'uploads.json');
    const controller = new AbortController();
    const first = recordingFetch();
    let stored = 0;
    const aborting: FetchLike = async (url, init) => {
      const response = await first.fetchImpl(url, init);
      if (chunkPut(url, init) && response.ok && (stored += 1) === 5) controller.abort();
      return response;
    };
    const client1 = new FerryClient({ baseUrl: server.url, token: alice, fetch: aborting, statePath });
    await assert.rejects(client1.upload(path, { chunkSize: CHUNK, parallel: 2, signal: controller.signal }), { name: 'AbortError' });

    const saved = Object.values(JSON.parse(await readFile(statePath, 'utf8')) as Record<string, { uploadId: string; sha256: string }>);
    assert.equal(saved.length, 1);
    assert.equal(saved[0]!.sha256, sha256(bytes));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const status = (await (await fetch(`${server.url}/api/v1/uploads/${saved[0]!.uploadId}`, { headers: { authorization: `Bearer ${alice}` } })).json()) as { receivedChunks: number; missing: number[] };
    assert.ok(status.receivedChunks >= 5 && status.receivedChunks < 25, String(status.receivedChunks));

    const second = recordingFetch();
    const client2 = new FerryClient({ baseUrl: server.url, token: alice, fetch: second.fetchImpl, state: new FileStateStore(statePath) });
    const result = await client2.upload(path, { chunkSize: CHUNK, parallel: 3 });
    assert.equal(result.resumed, true);
    assert.equal(result.uploadId, saved[0]!.uploadId);
    const sent = second.puts().map((call) => Number(call.url.split('/').pop()));
    assert.deepEqual(sent.sort((a, b) => a - b), status.missing);
    assert.equal(result.chunksSent, 25 - status.receivedChunks);
    assert.ok(!second.calls.some((call) => call.method === 'POST' && call.url.endsWith('/api/v1/uploads')), 'no new upload was created');
    assert.equal(result.file.sha256, sha256(bytes));
    assert.deepEqual(JSON.parse(await readFile(statePath, 'utf8')), {});
  });

  it('pauses and resumes an upload, and cancel removes it from the server', async () => {
    const path = join(dir, 'pause.bin');
    const bytes = randomBytes(12 * CHUNK);
    await writeFile(path, bytes);
    const { fetchImpl, puts } = recordingFetch();
    const client = new FerryClient({ baseUrl: server.url, token: alice, fetch: fetchImpl });
    let task!: Awaited<ReturnType<FerryClient['createFileUpload']>>;
    let pausedAt = -1;
    task = await client.createFileUpload(path, {
      chunkSize: CHUNK,
      parallel: 1,
      onProgress: (p) => {
        if (p.phase === 'uploading' && p.sentBytes >= 2 * CHUNK && pausedAt < 0) {
          task.pause();
          pausedAt = puts().length;
        }
      },
    });
    const done = task.start();
    while (pausedAt < 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(task.isPaused);
    assert.ok(puts().length <= pausedAt + 1, 'nothing is sent while paused');
    task.resume();
    const result = await done;
    assert.equal(result.file.sha256, sha256(bytes));

    const other = join(dir, 'cancel.bin');
    await writeFile(other, randomBytes(12 * CHUNK));
    let uploadId = '';
    const cancelled = await client.createFileUpload(other, {
      chunkSize: CHUNK,
      parallel: 1,
      onProgress: (p) => { if (p.phase === 'uploading' && p.sentBytes > 0 && !uploadId) uploadId = 'started'; },
    });
    const running = cancelled.start();
    while (!uploadId) await new Promise((resolve) => setTimeout(resolve, 5));
    await cancelled.cancel();
    await assert.rejects(running, { name: 'UploadCancelledError' });
    const id = puts().at(-1)!.url.split('/uploads/')[1]!.split('/')[0]!;
    const gone = await fetch(`${server.url}/api/v1/uploads/${id}`, { headers: { authorization: `Bearer ${alice}` } });
    assert.ok([404, 410].includes(gone.status), String(gone.status));
  });

  it('continues a partial download with Range and removes files', async () => {
    const client = new FerryClient({ baseUrl: server.url, token: alice });
    const [file] = (await client.list({ q: 'again.bin' })).files;
    const target = join(dir, 'partial.bin');
    await writeFile(`${target}.part`, shared.bytes.subarray(0, 100_000));
    const result = await client.download(file!.id, target);
    assert.equal(result.resumedFrom, 100_000);
    assert.equal(result.receivedBytes, shared.bytes.length - 100_000);
    assert.equal(sha256(await readFile(target)), shared.bytes.length ? sha256(shared.bytes) : '');

    await client.remove(file!.id);
    await assert.rejects(client.file(file!.id), (err: unknown) => err instanceof FerryApiError && err.status === 404);
    await assert.rejects(new FerryClient({ baseUrl: server.url }).login('alice', 'wrong password!'), (err: unknown) => err instanceof FerryApiError && err.status === 401);
  });
});
