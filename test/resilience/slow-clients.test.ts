/**
 * Clients that send slowly or not at all, over raw sockets: headers that never finish, a body that
 * stops (its bytes so far are kept and the upload resumes from them), a body that trickles below
 * the minimum rate, a body that is slow but steady (never cut, however long it takes), a body the
 * server is not reading yet (never the client's fault), a download nobody reads, and idle
 * keep-alive connections.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sha256Hex, withTimeout } from '../helpers/e2e.js';
import { send, sendRaw, sleep } from '../helpers/http-client.js';
import { CHUNK, tusCreate, tusOffset, tusPatch, tusUpload } from '../helpers/http-tus.js';
import { contentDigest } from '../helpers/native-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Generous: the bounds under test are one or two seconds; this only keeps a broken server from hanging the run. */
const BOUND_MS = 30_000;

/** The upload's offset once `settled` holds for it: an ended request records its offset just after its connection closes. */
async function settledOffset(location: string, settled: (offset: number) => boolean): Promise<number> {
  const deadline = Date.now() + BOUND_MS;
  for (;;) {
    const offset = await tusOffset(location);
    if (settled(offset) || Date.now() > deadline) return offset;
    await sleep(50);
  }
}

interface RawConnection {
  readonly socket: Socket;
  /** Resolves with everything the server sent once it closes the connection. */
  readonly closed: Promise<string>;
}

async function open(server: TestServer): Promise<RawConnection> {
  const { hostname, port } = new URL(server.url);
  const socket = connect({ host: hostname, port: Number(port) });
  const parts: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => parts.push(chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(Buffer.concat(parts).toString('latin1'))));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, closed };
}

function patchHead(location: string, offset: number, length: number): string {
  const { pathname, host } = new URL(location);
  return `PATCH ${pathname} HTTP/1.1\r\nHost: ${host}\r\nTus-Resumable: 1.0.0\r\nContent-Type: ${CHUNK}\r\n` +
    `Upload-Offset: ${offset}\r\nContent-Length: ${length}\r\n\r\n`;
}

/** Writes `data` in pieces of `piece` bytes, one every `everyMs`, until done or the server closes. Returns bytes written. */
async function trickle(connection: RawConnection, data: Buffer, piece: number, everyMs: number): Promise<number> {
  let written = 0;
  let closed = false;
  void connection.closed.then(() => { closed = true; });
  while (written < data.length && !closed) {
    connection.socket.write(data.subarray(written, written + piece));
    written = Math.min(data.length, written + piece);
    await sleep(everyMs);
  }
  return written;
}

describe('slow clients', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      headersTimeoutSeconds: 1,
      idleTimeoutSeconds: 1,
      minBodyBytesPerSecond: 0,
      keepAliveTimeoutSeconds: 1,
      // A duplicate chunk waits for the first copy's lock for as long as that one keeps flowing.
      lockTimeoutMs: BOUND_MS,
    });
  });
  after(async () => {
    await server?.stop();
  });

  it('answers headers that do not arrive in time with a JSON 408 and closes the connection', async () => {
    const result = await sendRaw(server.url, 'POST /files/ HTTP/1.1\r\nHost: ferry\r\nTus-Resumable: 1.0.0\r\n', BOUND_MS);
    assert.equal(result.status, 408, result.raw);
    assert.equal(result.headers.connection, 'close');
    assert.deepEqual(JSON.parse(result.rest.toString('utf8')), { error: { code: 'request_timeout', message: 'the request headers did not arrive in time' } });
  });

  it('ends a body that stops sending, keeps its bytes and offset, and the upload resumes from them', async () => {
    const data = randomBytes(200_000);
    const created = await tusCreate(server, { 'Upload-Length': data.length });
    const connection = await open(server);
    connection.socket.write(patchHead(created.location, 0, data.length));
    connection.socket.write(data.subarray(0, 70_000));
    // Then nothing: the server ends the request, like a client that went away.
    await withTimeout(connection.closed, BOUND_MS, 'the server to close the stalled PATCH');
    assert.equal(await settledOffset(created.location, (offset) => offset === 70_000), 70_000);
    const rest = await tusPatch(created.location, 70_000, data.subarray(70_000));
    assert.equal(rest.status, 204, rest.text());
    assert.equal(rest.header('upload-offset'), String(data.length));
    const download = await send(created.location);
    assert.equal(sha256Hex(download.body), sha256Hex(data));
  });

  it('never cuts a body that is slow but keeps coming, however much longer than the idle timeout it takes', async () => {
    const data = randomBytes(4_000);
    const created = await tusCreate(server, { 'Upload-Length': data.length });
    const connection = await open(server);
    connection.socket.write(patchHead(created.location, 0, data.length));
    // 100 bytes every 100 ms: 4 s in all, four times the idle timeout.
    const written = await trickle(connection, data, 100, 100);
    assert.equal(written, data.length, 'the server closed the connection while the body was still coming');
    connection.socket.end();
    const answer = await withTimeout(connection.closed, BOUND_MS, 'the answer');
    assert.match(answer, /^HTTP\/1\.1 204 /);
    assert.match(answer, new RegExp(`\r\nupload-offset: ${data.length}\r\n`, 'i'));
  });

  it('does not hold it against a client when the server is not reading its body yet', async () => {
    const native = await send(`${server.url}/api/v1/uploads`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'a.bin', size: 64 * 1024, chunkSize: 64 * 1024 }),
    });
    assert.equal(native.status, 201, native.text());
    const { id } = native.json() as { id: string };
    const chunk = randomBytes(64 * 1024);
    const head = `PUT /api/v1/uploads/${id}/chunks/0 HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/octet-stream\r\n` +
      `Content-Digest: ${contentDigest(chunk)}\r\nContent-Length: ${chunk.length}\r\nConnection: close\r\n\r\n`;
    const first = await open(server);
    first.socket.write(head);
    first.socket.write(chunk.subarray(0, 4_096));
    await sleep(200);
    // The same chunk again, all of it at once: it waits for the first copy, which keeps flowing for
    // longer than the idle timeout. The server is not reading this one meanwhile.
    const duplicate = send(`${server.url}/api/v1/uploads/${id}/chunks/0`, {
      method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-digest': contentDigest(chunk) }, body: chunk, timeoutMs: BOUND_MS,
    });
    await trickle(first, chunk.subarray(4_096), 2_048, 100);
    const answers = await Promise.all([withTimeout(first.closed, BOUND_MS, 'the first copy'), duplicate]);
    assert.match(answers[0], /^HTTP\/1\.1 200 /, answers[0].slice(0, 200));
    assert.equal(answers[1].status, 200, answers[1].text());
  });

  it('closes a download whose client stops taking it, letting go of the stored file', async () => {
    const downloadsEnded = async () => {
      const metrics = (await send(`${server.url}/metrics`)).text();
      return Number(/ferry_http_request_duration_seconds_count\{route="\/files\/:id",method="GET",status_code="200"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    };
    const created = await tusUpload(server, randomBytes(32 * 1024 * 1024));
    const before = await downloadsEnded();
    const connection = await open(server);
    connection.socket.write(`GET ${new URL(created.location).pathname} HTTP/1.1\r\nHost: ferry\r\n\r\n`);
    // Read nothing: the kernel's buffers fill, then the server waits on the client.
    connection.socket.pause();
    const deadline = Date.now() + BOUND_MS;
    while ((await downloadsEnded()) === before && Date.now() < deadline) await sleep(100);
    assert.equal(await downloadsEnded(), before + 1, 'the download request ended');
    connection.socket.destroy();
  });

  it('closes a keep-alive connection that stays idle', async () => {
    const connection = await open(server);
    connection.socket.write('GET /healthz HTTP/1.1\r\nHost: ferry\r\n\r\n');
    const everything = await withTimeout(connection.closed, BOUND_MS, 'the server to close the idle connection');
    assert.match(everything, /^HTTP\/1\.1 200 /);
    assert.match(everything, /\r\nkeep-alive: timeout=1\r\n/i);
  });
});

describe('a body below the minimum rate', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ idleTimeoutSeconds: 1, minBodyBytesPerSecond: 2_000 });
  });
  after(async () => {
    await server?.stop();
  });

  it('is ended even though bytes never stop coming, keeping what arrived for the client to resume', async () => {
    const data = randomBytes(20_000);
    const created = await tusCreate(server, { 'Upload-Length': data.length });
    const connection = await open(server);
    connection.socket.write(patchHead(created.location, 0, data.length));
    // 10 bytes every 50 ms: 200 bytes a second, a tenth of the floor, never silent for a whole second.
    const written = await trickle(connection, data, 10, 50);
    assert.ok(written < data.length, 'the trickle was allowed to finish');
    const offset = await settledOffset(created.location, (at) => at > 0);
    assert.ok(offset > 0 && offset <= written, `offset ${offset} of ${written} bytes sent`);
    const rest = await tusPatch(created.location, offset, data.subarray(offset));
    assert.equal(rest.status, 204, rest.text());
    assert.equal(sha256Hex((await send(created.location)).body), sha256Hex(data));
  });
});

describe('request heads past the size limit', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ maxHeaderBytes: 4_096 });
  });
  after(async () => {
    await server?.stop();
  });

  it('are answered 431 with a JSON body, and the connection is closed', async () => {
    const result = await sendRaw(server.url, `HEAD /files/x HTTP/1.1\r\nHost: ferry\r\nTus-Resumable: 1.0.0\r\nX-Filler: ${'a'.repeat(5_000)}\r\n\r\n`, BOUND_MS);
    assert.equal(result.status, 431, result.raw.slice(0, 200));
    assert.equal(result.headers.connection, 'close');
    assert.equal((JSON.parse(result.rest.toString('utf8')) as { error: { code: string } }).error.code, 'headers_too_large');
  });

  it('still lets a head within the limit through', async () => {
    const result = await send(`${server.url}/healthz`, { headers: { 'X-Filler': 'a'.repeat(3_000) } });
    assert.equal(result.status, 200);
  });
});

