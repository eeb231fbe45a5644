import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FerryApiError, FerryClient, type FetchLike, type UploadProgress } from '../../client/src/node.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PIECE = 64 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Bytes of the request body (PATCH). */
  bytes: number;
  status?: number;
  offset?: string | null;
}

/** A fetch that records every request (and the Upload-Offset answered) and may act in place of the server. */
function recordingFetch(intercept?: (call: Call, init: RequestInit | undefined) => Promise<Response | undefined> | Response | undefined) {
  const calls: Call[] = [];
  const fetchImpl: FetchLike = async (url, init) => {
    const body = init?.body;
    const call: Call = {
      method: init?.method ?? 'GET',
      url,
      headers: Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v])),
      bytes: body instanceof Uint8Array ? body.length : 0,
    };
    calls.push(call);
    const response = (await intercept?.(call, init)) ?? (await fetch(url, init));
    call.status = response.status;
    call.offset = response.headers.get('upload-offset');
    return response;
  };
  const patches = () => calls.filter((call) => call.method === 'PATCH' && call.status === 204);
  return { fetchImpl, calls, patches };
}

describe('client SDK over tus 1.0 against a running server', () => {
  let server: TestServer;
  let dir: string;
  let token: string;

  before(async () => {
    server = await startTestServer({ auth: 'required' });
    dir = await mkdtemp(join(tmpdir(), 'ferry-sdk-tus-'));
    token = (await new FerryClient({ baseUrl: server.url }).signup('tessa', 'correct horse battery')).token;
  });

  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, size: number): Promise<{ path: string; bytes: Buffer }> {
    const path = join(dir, name);
    const bytes = randomBytes(size);
    await writeFile(path, bytes);
    return { path, bytes };
  }

  /** The stored bytes' SHA-256, from the library download. */
  async function storedSha256(id: string): Promise<string> {
    const response = await fetch(`${server.url}/api/v1/files/${id}/content`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    return sha256(new Uint8Array(await response.arrayBuffer()));
  }

  it('creates with the name in Upload-Metadata, sends PATCHes with Upload-Checksum sha256, and reports progress', async () => {
    const { path, bytes } = await file('tus.bin', 10 * PIECE + 321);
    const { fetchImpl, calls, patches } = recordingFetch();
    const client = new FerryClient({ baseUrl: server.url, token, fetch: fetchImpl });
    const progress: UploadProgress[] = [];
    const result = await client.upload(path, { protocol: 'tus', name: 'docs/tus.bin', type: 'application/x-test', chunkSize: 4 * PIECE, onProgress: (p) => progress.push(p) });

    const post = calls.find((call) => call.method === 'POST')!;
    assert.equal(post.headers['tus-resumable'], '1.0.0');
    assert.equal(post.headers['upload-length'], String(bytes.length));
    assert.equal(post.headers['upload-metadata'], `filename ${Buffer.from('docs/tus.bin').toString('base64')},filetype ${Buffer.from('application/x-test').toString('base64')}`);
    assert.deepEqual(patches().map((call) => call.headers['upload-offset']), ['0', String(4 * PIECE), String(8 * PIECE)]);
    for (const call of patches()) assert.match(call.headers['upload-checksum']!, /^sha256 [A-Za-z0-9+/]{43}=$/);
    assert.ok(calls.every((call) => call.method === 'OPTIONS' || call.headers.authorization === `Bearer ${token}`));

    assert.deepEqual([result.file.name, result.file.type, result.file.size], ['docs/tus.bin', 'application/x-test', bytes.length]);
    assert.equal(result.file.sha256, sha256(bytes));
    assert.equal(await storedSha256(result.file.id), sha256(bytes));
    assert.deepEqual([result.resumed, result.instant, result.chunksSent, result.sentBytes], [false, false, 3, bytes.length]);
    assert.ok(post.url.endsWith('/files/'));
    assert.equal(result.uploadId, patches()[0]!.url.split('/').pop());

    const uploading = progress.filter((p) => p.phase === 'uploading').map((p) => p.uploadedBytes);
    assert.deepEqual(uploading, [0, 4 * PIECE, 8 * PIECE, bytes.length]);
    assert.deepEqual(progress.at(-1), { ...progress.at(-1)!, phase: 'done', uploadedBytes: bytes.length, etaSeconds: 0 });
  });

  it('resumes from saved state with HEAD and sends only the bytes the server lacks', async () => {
    const { path, bytes } = await file('resume.bin', 20 * PIECE + 5);
    const statePath = join(dir, 'state', 'uploads.json');
    const controller = new AbortController();
    const first = recordingFetch((call) => {
      if (call.method === 'PATCH' && first.patches().length === 3) controller.abort();
      return undefined;
    });
    const client1 = new FerryClient({ baseUrl: server.url, token, fetch: first.fetchImpl, statePath });
    await assert.rejects(client1.upload(path, { protocol: 'tus', chunkSize: 2 * PIECE, signal: controller.signal }), { name: 'AbortError' });

    const saved = Object.values(JSON.parse(await readFile(statePath, 'utf8')) as Record<string, { tusUrl: string }>);
    assert.equal(saved.length, 1);
    const head = await fetch(saved[0]!.tusUrl, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` } });
    const stored = Number(head.headers.get('upload-offset'));
    assert.ok(stored >= 3 * 2 * PIECE && stored < bytes.length, String(stored));

    const second = recordingFetch();
    const client2 = new FerryClient({ baseUrl: server.url, token, fetch: second.fetchImpl, statePath });
    const result = await client2.upload(path, { protocol: 'tus', chunkSize: 2 * PIECE });
    assert.equal(result.resumed, true);
    assert.ok(!second.calls.some((call) => call.method === 'POST'), 'no new upload was created');
    assert.equal(second.calls.find((call) => call.method !== 'OPTIONS')!.method, 'HEAD');
    assert.equal(second.patches()[0]!.headers['upload-offset'], String(stored));
    assert.equal(second.patches().reduce((sum, call) => sum + call.bytes, 0), bytes.length - stored);
    assert.equal(result.sentBytes, bytes.length - stored);
    assert.equal(result.uploadId, saved[0]!.tusUrl.split('/').pop());
    assert.equal(await storedSha256(result.file.id), sha256(bytes));
    assert.deepEqual(JSON.parse(await readFile(statePath, 'utf8')), {});
  });

  it('retries a PATCH cut off mid-body and one answered 503, going on from the offset HEAD reports', async () => {
    const { path, bytes } = await file('flaky.bin', 12 * PIECE);
    let cut = false;
    let unavailable = false;
    const { fetchImpl, calls, patches } = recordingFetch(async (call, init) => {
      if (call.method !== 'PATCH') return undefined;
      if (!cut && call.headers['upload-offset'] === String(4 * PIECE)) {
        cut = true;
        // Half the body reaches the server, then the connection breaks.
        const body = init!.body as Uint8Array;
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(body.subarray(0, body.length / 2));
            await new Promise((resolve) => setTimeout(resolve, 200));
            controller.error(new Error('cable pulled'));
          },
        });
        return fetch(call.url, { ...init, body: stream, duplex: 'half' } as RequestInit);
      }
      if (!unavailable && cut) {
        unavailable = true;
        return new Response(JSON.stringify({ error: { code: 'service_unavailable', message: 'try later' } }), { status: 503 });
      }
      return undefined;
    });
    const client = new FerryClient({ baseUrl: server.url, token, fetch: fetchImpl, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    // Without Upload-Checksum the server keeps the bytes of a cut-off PATCH.
    const result = await client.upload(path, { protocol: 'tus', chunkSize: 4 * PIECE, tusChecksum: false });
    assert.ok(cut && unavailable);
    assert.ok(calls.every((call) => call.headers['upload-checksum'] === undefined));

    // After each failure the client asked where the upload stood and continued from there.
    const failed = calls.flatMap((call, index) => (call.method === 'PATCH' && call.status !== 204 ? [index] : []));
    assert.deepEqual(failed.map((index) => calls[index]!.status), [undefined, 503], 'the cut PATCH got no answer');
    for (const index of failed) assert.equal(calls[index + 1]!.method, 'HEAD');
    const cutHead = calls[failed[0]! + 1]!;
    const kept = Number(cutHead.offset) - 4 * PIECE;
    assert.ok(kept >= 0 && kept <= 2 * PIECE, String(kept));
    assert.equal(patches().reduce((sum, call) => sum + call.bytes, 0) + kept, bytes.length, 'nothing the server kept was sent again');
    assert.equal(await storedSha256(result.file.id), sha256(bytes));
  });

  it('sends a PATCH refused for its checksum (460) again and completes', async () => {
    const { path, bytes } = await file('checksum.bin', 3 * PIECE);
    let corrupted = false;
    const { fetchImpl, calls } = recordingFetch((call, init) => {
      if (call.method !== 'PATCH' || corrupted) return undefined;
      corrupted = true;
      const body = new Uint8Array(init!.body as Uint8Array);
      body[0] = body[0]! ^ 0xff;
      return fetch(call.url, { ...init, body });
    });
    const client = new FerryClient({ baseUrl: server.url, token, fetch: fetchImpl, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    const result = await client.upload(path, { protocol: 'tus', chunkSize: 2 * PIECE });
    assert.deepEqual(calls.filter((call) => call.method === 'PATCH').map((call) => [call.headers['upload-offset'], call.status]), [['0', 460], ['0', 204], [String(2 * PIECE), 204]]);
    assert.equal(await storedSha256(result.file.id), sha256(bytes));
  });

  it('pauses mid-PATCH and resumes from the offset HEAD reports, and cancel terminates the upload on the server', async () => {
    const { path, bytes } = await file('pause.bin', 8 * PIECE);
    let task!: Awaited<ReturnType<FerryClient['createFileUpload']>>;
    let pausedCalls = -1;
    const { fetchImpl, calls, patches } = recordingFetch((call) => {
      // pause() aborts the request on its way out: it never reaches the server.
      if (call.method === 'PATCH' && call.headers['upload-offset'] === String(2 * PIECE) && pausedCalls < 0) {
        task.pause();
        pausedCalls = calls.length;
      }
      return undefined;
    });
    const client = new FerryClient({ baseUrl: server.url, token, fetch: fetchImpl });
    task = await client.createFileUpload(path, { protocol: 'tus', chunkSize: PIECE });
    const done = task.start();
    while (pausedCalls < 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(task.isPaused);
    assert.equal(calls.length, pausedCalls, 'nothing is sent while paused');
    task.resume();
    const result = await done;
    assert.deepEqual(calls.slice(pausedCalls - 1, pausedCalls + 2).map((call) => [call.method, call.headers['upload-offset'] ?? call.offset]), [
      ['PATCH', String(2 * PIECE)],
      ['HEAD', String(2 * PIECE)],
      ['PATCH', String(2 * PIECE)],
    ]);
    assert.equal(patches().length, 8);
    assert.equal(await storedSha256(result.file.id), sha256(bytes));

    const other = await file('cancel.bin', 8 * PIECE);
    let url = '';
    const cancelled = await client.createFileUpload(other.path, {
      protocol: 'tus',
      chunkSize: PIECE,
      onProgress: (p) => { if (p.sentBytes > 0 && !url) url = patches().at(-1)!.url; },
    });
    const running = cancelled.start();
    while (!url) await new Promise((resolve) => setTimeout(resolve, 5));
    await cancelled.cancel();
    await assert.rejects(running, { name: 'UploadCancelledError' });
    const gone = await fetch(url, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` } });
    assert.ok([404, 410].includes(gone.status), String(gone.status));
  });

  it('sends no Upload-Checksum to a server that does not offer sha256, and refuses an endpoint that does not speak tus', async () => {
    const { path, bytes } = await file('plain.bin', 2 * PIECE);
    const discovery = (headers: Record<string, string>) => recordingFetch((call) => (call.method === 'OPTIONS' ? new Response(null, { status: 204, headers }) : undefined));
    const plain = discovery({ 'tus-version': '1.0.0', 'tus-extension': 'creation,termination', 'tus-checksum-algorithm': 'sha256' });
    const result = await new FerryClient({ baseUrl: server.url, token, fetch: plain.fetchImpl }).upload(path, { protocol: 'tus', chunkSize: PIECE });
    assert.equal(plain.patches().length, 2);
    assert.ok(plain.patches().every((call) => call.headers['upload-checksum'] === undefined));
    assert.equal(await storedSha256(result.file.id), sha256(bytes));

    const other = discovery({ 'tus-version': '0.2.2' });
    await assert.rejects(new FerryClient({ baseUrl: server.url, token, fetch: other.fetchImpl }).upload(path, { protocol: 'tus' }), /does not speak tus 1\.0\.0/);
    assert.deepEqual(other.calls.map((call) => call.method), ['OPTIONS']);
  });

  it('completes an empty file, and without a token gets the 401', async () => {
    const empty = await file('empty.bin', 0);
    const result = await new FerryClient({ baseUrl: server.url, token }).upload(empty.path, { protocol: 'tus' });
    assert.deepEqual([result.file.size, result.file.sha256, result.chunksSent], [0, sha256(new Uint8Array()), 0]);

    await assert.rejects(
      new FerryClient({ baseUrl: server.url }).upload(empty.path, { protocol: 'tus' }),
      (err: unknown) => err instanceof FerryApiError && err.status === 401,
    );
  });
});
