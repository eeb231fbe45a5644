/**
 * The crash test: Ferry runs as its own process and is SIGKILLed while one long PATCH streams into
 * it, at several random points of the same upload. After each restart on the same data dir the
 * reported offset must be no more than the client sent, the stored prefix must be the client's
 * bytes exactly, and the upload must resume from there and finish with the right content.
 *
 * The kill points come from a seeded generator; the seed is printed, and FERRY_E2E_CRASH_SEED=<n>
 * replays a run.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  MiB,
  downloadSha256,
  makeTempDir,
  removeDir,
  sha256OfFile,
  simpleRequest,
  tusOffset,
  withTimeout,
  writeRandomFile,
  type SimpleResponse,
  type SourceFile,
} from '../helpers/e2e.js';
import { ProcessServer } from '../helpers/process-server.js';

const SIZE = 96 * MiB;
const KILLS = 4;
/** Kill points keep at least this much apart, and this far from the ends of the file. */
const MIN_GAP = 6 * MiB;
const CHECKPOINT_BYTES = MiB;
const TUS = { 'Tus-Resumable': '1.0.0' };

/** mulberry32: a small seeded generator, so a run's kill points can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** KILLS sorted points in [MIN_GAP, SIZE - MIN_GAP], each at least MIN_GAP after the previous. */
function killPoints(random: () => number): number[] {
  const slack = SIZE - 2 * MIN_GAP - (KILLS - 1) * MIN_GAP;
  const spreads = Array.from({ length: KILLS }, () => Math.floor(random() * slack)).sort((a, b) => a - b);
  return spreads.map((spread, i) => MIN_GAP + i * MIN_GAP + spread);
}

interface StreamOutcome {
  /** Body bytes handed to the socket by this request. */
  readonly sent: number;
  /** The server's answer, when the request ran to its end. */
  readonly response: SimpleResponse | null;
}

/**
 * One tus PATCH streaming the source from `offset` to its end. With `stopAt`, calls `onStop` (the
 * kill) as soon as the bytes handed to the socket reach that absolute position, then drops the
 * request; without it, sends everything and waits for the response.
 */
async function streamPatch(
  uploadUrl: string,
  source: SourceFile,
  offset: number,
  stopAt: number | null,
  onStop: () => Promise<void>,
): Promise<StreamOutcome> {
  const req: ClientRequest = httpRequest(uploadUrl, {
    method: 'PATCH',
    agent: false,
    headers: {
      ...TUS,
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': String(source.size - offset),
    },
  });
  let failure: Error | null = null;
  let answered: SimpleResponse | null = null;
  const response = new Promise<SimpleResponse>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        answered = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
        resolve(answered);
      });
      res.on('error', reject);
    });
    req.on('error', (err) => { failure = err; reject(err); });
  });
  response.catch(() => undefined);

  const file = createReadStream(source.path, { start: offset, highWaterMark: 256 * 1024 });
  let sent = 0;
  try {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      // Never hand over bytes past the kill point: the bound "offset <= sent" is then exact.
      const piece = stopAt !== null ? chunk.subarray(0, Math.max(0, stopAt - (offset + sent))) : chunk;
      const flowing = piece.length > 0 ? req.write(piece) : true;
      sent += piece.length;
      if (stopAt !== null && offset + sent >= stopAt) {
        await onStop();
        req.destroy();
        return { sent, response: null };
      }
      if (answered) {
        const early = answered as SimpleResponse;
        throw new Error(`the server answered ${early.status} before the body was sent (after ${sent} bytes): ${early.body.toString()}`);
      }
      if (failure) throw new Error(`the PATCH failed after ${sent} bytes: ${(failure as Error).message}`);
      if (!flowing) {
        await withTimeout(
          new Promise<void>((resolve, reject) => {
            const onDrain = () => { req.off('error', onError); resolve(); };
            const onError = (err: Error) => { req.off('drain', onDrain); reject(err); };
            req.once('drain', onDrain);
            req.once('error', onError);
          }),
          30_000,
          `the server to take more of the PATCH body (after ${sent} bytes)`,
        );
      }
    }
  } finally {
    file.destroy();
  }
  req.end();
  return { sent, response: await withTimeout(response, 60_000, 'the response to the final PATCH') };
}

describe('crash: SIGKILL while a long PATCH streams', () => {
  let dir: string;
  let server: ProcessServer | null = null;

  before(async () => {
    dir = await makeTempDir('ferry-e2e-crash-');
  });

  after(async () => {
    await server?.stop();
    await removeDir(dir);
  });

  test(`${KILLS} kills at random points of one ${SIZE / MiB} MiB upload, resumed after each restart`, { timeout: 150_000 }, async (t) => {
    const seed = process.env.FERRY_E2E_CRASH_SEED ? Number(process.env.FERRY_E2E_CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
    const points = killPoints(seededRandom(seed));
    t.diagnostic(`seed ${seed} (replay with FERRY_E2E_CRASH_SEED=${seed}); kill points ${points.join(', ')}`);

    const source = await writeRandomFile(join(dir, 'source.bin'), SIZE);
    const dataDir = join(dir, 'data');
    server = await ProcessServer.start({ dataDir, env: { FERRY_CHECKPOINT_BYTES: String(CHECKPOINT_BYTES) } });
    const current = server;

    const created = await simpleRequest(current.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(SIZE) } });
    assert.equal(created.status, 201, `creation: ${created.body.toString()}`);
    const location = String(created.headers.location);
    const id = new URL(location, current.endpoint).pathname.split('/').pop()!;
    const blobPath = join(dataDir, 'blobs', id.slice(0, 2), id);
    const uploadUrl = () => `${current.endpoint}${id}`;

    let offset = 0;
    for (const [round, killAt] of points.entries()) {
      const started = offset;
      const { sent } = await streamPatch(uploadUrl(), source, started, killAt, async () => {
        const exit = await current.kill('SIGKILL');
        assert.equal(exit.signal, 'SIGKILL', 'the server died of the kill');
      });
      await current.restart();

      const { offset: reported } = await tusOffset(uploadUrl());
      t.diagnostic(`round ${round + 1}: resumed at ${started}, sent ${sent} (to ${started + sent}), killed; the server kept ${reported}`);
      // (a) never more than the client sent, and never less than was already durable.
      assert.ok(reported <= started + sent, `round ${round + 1}: offset ${reported} <= bytes sent ${started + sent}`);
      assert.ok(reported >= started, `round ${round + 1}: offset ${reported} did not go back from ${started}`);
      // (b) the stored prefix is exactly the client's bytes.
      const blobSize = (await stat(blobPath)).size;
      assert.ok(blobSize >= reported, `round ${round + 1}: the blob holds ${blobSize} bytes, at least the offset ${reported}`);
      const stored = await sha256OfFile(blobPath, reported);
      const expected = await sha256OfFile(source.path, reported);
      assert.equal(stored.bytes, reported);
      assert.equal(stored.sha256, expected.sha256, `round ${round + 1}: the stored prefix [0, ${reported}) is the client's`);
      offset = reported;
    }
    // With 1 MiB checkpoints and several MiB streamed per round, progress must have survived the kills.
    assert.ok(offset > 0, 'some progress survived the kills');

    const { sent, response } = await streamPatch(uploadUrl(), source, offset, null, async () => undefined);
    assert.equal(sent, SIZE - offset);
    assert.ok(response);
    assert.equal(response.status, 204, `the last PATCH: ${response.body.toString()}`);
    assert.equal(response.headers['upload-offset'], String(SIZE));

    // (c) the finished upload is the source, as served and as recorded (the ETag is the SHA-256).
    const head = await tusOffset(uploadUrl());
    assert.equal(head.offset, SIZE);
    assert.equal(head.response.headers['upload-length'], String(SIZE));
    const download = await downloadSha256(uploadUrl(), { timeoutMs: 60_000 });
    assert.equal(download.status, 200);
    assert.equal(download.bytes, SIZE);
    assert.equal(download.sha256, source.sha256, 'SHA-256 of the downloaded bytes');
    assert.equal(download.headers.etag, `"${source.sha256}"`, 'the ETag carries the SHA-256 the server recorded');
  });
});
