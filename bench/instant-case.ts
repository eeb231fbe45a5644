// The instant case (Ferry only): how long an instant upload of a file the
// server already stores takes, at the server and as a round trip. User A
// uploads the source file and its first 1 MiB through the native API; then
// A creates uploads of the same content (answered at once: completed,
// instant), and user B does too (answered with a proof-of-possession
// challenge, then the proof, which makes the server read 4 × 64 KiB of the
// stored blob). Server time is the `ms` of the one log line Ferry writes per
// request, so this case runs Ferry with FERRY_LOG_LEVEL=info, and with
// FERRY_AUTH=required to have two users.
import { spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FERRY_MAIN, INSTANT_SAMPLES, INSTANT_SMALL, INSTANT_WARMUPS, NATIVE_CONNECTIONS } from './config.js';
import { HttpApi, uploadNative, type Challenge, type FileJson, type UploadJson } from './native-client.js';
import { startServer, stopServer, type RunningServer } from './servers.js';
import type { SourceFile } from './source.js';

export interface Sample {
  /** The server's own figure: whole ms from the request's headers to its answer sent. */
  serverMs: number;
  /** Client round trip on a warm keep-alive connection. */
  rttMs: number;
}

export type InstantPath = 'same-user' | 'other-create' | 'other-proof' | 'other-both';

export interface InstantSeries {
  path: InstantPath;
  fileBytes: number;
  /** The first request of this kind after the server started (a warm-up, not in `samples`). */
  cold: Sample | null;
  samples: Sample[];
}

export interface InstantResult {
  series: InstantSeries[];
  /** null when every request answered as an instant upload should. */
  error: string | null;
}

interface Content {
  start: number;
  length: number;
  sha256: string;
}

interface LogLine {
  method: string;
  path: string;
  status: number;
  ms: number;
}

/** The server's per-request log lines (pino JSON on stdout), taken in order by method and path. */
class RequestLog {
  private rest = '';
  private lines: LogLine[] = [];
  private wake: (() => void) | null = null;

  constructor(stdout: Readable) {
    stdout.on('data', (chunk: Buffer) => {
      const text = this.rest + chunk.toString('utf8');
      const cut = text.lastIndexOf('\n');
      this.rest = text.slice(cut + 1);
      for (const line of text.slice(0, cut + 1).split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as Partial<LogLine> & { msg?: string };
          if (entry.msg === 'request' && typeof entry.ms === 'number') {
            this.lines.push({ method: String(entry.method), path: String(entry.path), status: Number(entry.status), ms: entry.ms });
          }
        } catch {
          // not a log line
        }
      }
      this.wake?.();
    });
  }

  clear(): void {
    this.lines = [];
  }

  /** The first logged request with this method and path; waits for it, since the line is written after the answer. */
  async take(method: string, urlPath: string, timeoutMs = 5_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => l.method === method && l.path === urlPath);
      if (i >= 0) return this.lines.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no log line for ${method} ${urlPath} within ${timeoutMs} ms (is FERRY_LOG_LEVEL=info honoured?)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}

function createServiceAccount(dataDir: string, name: string): string {
  const run = spawnSync(process.execPath, [FERRY_MAIN, 'service-account', 'create', name, '--json'], {
    env: { ...process.env, FERRY_DATA_DIR: dataDir },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`ferry service-account create ${name}: ${run.stderr.trim() || `exit ${run.status}`}`);
  const key = (JSON.parse(run.stdout) as { key?: { key?: string } }).key?.key;
  if (typeof key !== 'string') throw new Error(`ferry service-account create ${name}: no key in ${run.stdout.slice(0, 200)}`);
  return key;
}

function sha256Of(file: string, start: number, length: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    fs.readSync(fd, buf, 0, length, start);
    return createHash('sha256').update(buf).digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** The proof a client holding the content gives: HMAC-SHA256 keyed with the nonce over the ranges in order. */
function answerChallenge(challenge: Challenge, file: string, content: Content): string {
  const hmac = createHmac('sha256', Buffer.from(challenge.nonce, 'base64url'));
  const fd = fs.openSync(file, 'r');
  try {
    for (const range of challenge.ranges) {
      const buf = Buffer.allocUnsafe(range.end - range.start + 1);
      fs.readSync(fd, buf, 0, buf.length, content.start + range.start);
      hmac.update(buf);
    }
  } finally {
    fs.closeSync(fd);
  }
  return hmac.digest('hex');
}

/** Waits until the background job has filled in SHA-1 and MD5, so that its read of the blob does not overlap the timing. */
async function settle(api: HttpApi, fileIds: string[]): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (const id of fileIds) {
    for (;;) {
      const got = await api.json<FileJson>('GET', `/api/v1/files/${id}`);
      if (got.status !== 200) throw new Error(`GET /api/v1/files/${id}: ${got.status}`);
      if (got.json.sha1 !== null) break;
      if (Date.now() > deadline) throw new Error('the server did not fill in SHA-1/MD5 within 300 s');
      await sleep(200);
    }
  }
  spawnSync('sync');
}

class InstantRun {
  readonly series = new Map<string, InstantSeries>();
  private names = 0;

  constructor(
    private readonly log: RequestLog,
    private readonly a: HttpApi,
    private readonly b: HttpApi,
    private readonly src: SourceFile,
  ) {}

  /** A request timed by the server's log line and by the client. */
  private async timed<T>(api: HttpApi, method: string, urlPath: string, body: unknown): Promise<{ status: number; json: T; sample: Sample }> {
    this.log.clear();
    const reply = await api.json<T>(method, urlPath, body);
    const line = await this.log.take(method, urlPath);
    if (line.status !== reply.status) throw new Error(`${method} ${urlPath}: answered ${reply.status} but logged ${line.status}`);
    return { status: reply.status, json: reply.json, sample: { serverMs: line.ms, rttMs: reply.ms } };
  }

  private record(p: InstantPath, content: Content, sample: Sample, measured: boolean): void {
    const key = `${p}/${content.length}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = { path: p, fileBytes: content.length, cold: null, samples: [] };
      this.series.set(key, s);
    }
    if (measured) s.samples.push(sample);
    else s.cold ??= sample;
  }

  private create(content: Content, who: string) {
    return { name: `instant/${who}-${content.length}-${(this.names += 1)}.bin`, size: content.length, sha256: content.sha256 };
  }

  /** A: the content is the user's own, so the create completes the upload at once. */
  async sameUser(content: Content, measured: boolean): Promise<void> {
    const r = await this.timed<UploadJson>(this.a, 'POST', '/api/v1/uploads', this.create(content, 'a'));
    if (r.status !== 201 || r.json.state !== 'completed' || !r.json.instant || r.json.file?.sha256 !== content.sha256) {
      throw new Error(`same user, ${content.length} bytes: expected 201 completed instant, got ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
    }
    this.record('same-user', content, r.sample, measured);
  }

  /** B: a challenge, the proof, then B's new file is deleted so that B does not own the content next time. */
  async otherUser(content: Content, measured: boolean): Promise<void> {
    const created = await this.timed<UploadJson>(this.b, 'POST', '/api/v1/uploads', this.create(content, 'b'));
    const challenge = created.json.challenge;
    if (created.status !== 201 || created.json.state !== 'open' || challenge === undefined) {
      throw new Error(`other user, ${content.length} bytes: expected 201 open with a challenge, got ${created.status} ${JSON.stringify(created.json).slice(0, 300)}`);
    }
    const proof = answerChallenge(challenge, this.src.path, content);
    const proved = await this.timed<UploadJson>(this.b, 'POST', `/api/v1/uploads/${created.json.id}/proof`, { proof });
    const file = proved.json.file;
    if (proved.status !== 200 || proved.json.state !== 'completed' || !proved.json.instant || file?.sha256 !== content.sha256) {
      throw new Error(`other user's proof, ${content.length} bytes: expected 200 completed instant, got ${proved.status} ${JSON.stringify(proved.json).slice(0, 300)}`);
    }
    this.record('other-create', content, created.sample, measured);
    this.record('other-proof', content, proved.sample, measured);
    this.record('other-both', content, { serverMs: created.sample.serverMs + proved.sample.serverMs, rttMs: created.sample.rttMs + proved.sample.rttMs }, measured);
    const removed = await this.b.request('DELETE', `/api/v1/files/${file.id}`);
    if (removed.status !== 204) throw new Error(`DELETE B's file: ${removed.status} ${removed.body.toString('utf8').slice(0, 200)}`);
  }
}

export async function runInstantCase(src: SourceFile, runDir: string): Promise<InstantResult> {
  const dataDir = path.join(runDir, 'data-ferry-instant');
  fs.mkdirSync(dataDir, { recursive: true });
  let running: RunningServer | undefined;
  let run: InstantRun | undefined;
  const apis: HttpApi[] = [];
  try {
    const keyA = createServiceAccount(dataDir, 'bench-a');
    const keyB = createServiceAccount(dataDir, 'bench-b');
    running = await startServer('ferry', dataDir, { FERRY_AUTH: 'required', FERRY_LOG_LEVEL: 'info' });
    if (running.child.stdout === null) throw new Error('no server stdout');
    const log = new RequestLog(running.child.stdout);
    const a = new HttpApi(running.base, { authorization: `Bearer ${keyA}` });
    const b = new HttpApi(running.base, { authorization: `Bearer ${keyB}` });
    apis.push(a, b);

    // The contents: the whole source, and its first 1 MiB unless that is the whole source.
    const contents: Content[] = [{ start: 0, length: src.size, sha256: src.sha256 }];
    if (src.size > INSTANT_SMALL) contents.push({ start: 0, length: INSTANT_SMALL, sha256: sha256Of(src.path, 0, INSTANT_SMALL) });
    const fileIds: string[] = [];
    for (const c of contents) {
      const whole = c.length === src.size;
      const stored = await uploadNative({
        target: 'ferry',
        base: running.base,
        headers: a.headers,
        name: `stored-${c.length}.bin`,
        file: src.path,
        start: c.start,
        length: c.length,
        sha256: c.sha256,
        chunkSize: src.chunks.size,
        ...(whole ? { digests: src.chunks.sha256Base64 } : {}),
        connections: NATIVE_CONNECTIONS,
      });
      if (stored.file?.sha256 !== c.sha256) throw new Error(`storing ${c.length} bytes: the file's SHA-256 is ${stored.file?.sha256}`);
      fileIds.push(stored.file.id);
    }
    await settle(a, fileIds);

    run = new InstantRun(log, a, b, src);
    // Warm-ups first (the very first request of each kind is kept as "cold"), then the timed ones;
    // sizes alternate so that drift on the machine hits both alike.
    for (let i = 0; i < INSTANT_WARMUPS + INSTANT_SAMPLES; i++) {
      const measured = i >= INSTANT_WARMUPS;
      for (const c of contents) await run.sameUser(c, measured);
      for (const c of contents) await run.otherUser(c, measured);
    }
    return { series: [...run.series.values()], error: null };
  } catch (err) {
    const output = running?.output() ?? '';
    const message = err instanceof Error ? err.message : String(err);
    return { series: run ? [...run.series.values()] : [], error: `${message}${output && !message.includes(output) ? ` — server: ${output.slice(-400)}` : ''}` };
  } finally {
    for (const api of apis) api.close();
    if (running !== undefined) await stopServer(running.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
    spawnSync('sync');
  }
}

/** Folds the rounds: samples pooled, the slowest first request kept, first error wins. */
export function combineInstant(rounds: InstantResult[]): InstantResult {
  const series = new Map<string, InstantSeries>();
  for (const round of rounds) {
    for (const s of round.series) {
      const key = `${s.path}/${s.fileBytes}`;
      const have = series.get(key);
      if (have === undefined) series.set(key, { ...s, samples: [...s.samples] });
      else {
        have.samples.push(...s.samples);
        if (s.cold !== null && (have.cold === null || s.cold.serverMs > have.cold.serverMs)) have.cold = s.cold;
      }
    }
  }
  const failed = rounds.findIndex((r) => r.error !== null);
  return {
    series: [...series.values()],
    error: failed < 0 ? null : rounds.length > 1 ? `round ${failed + 1}: ${rounds[failed].error}` : rounds[failed].error,
  };
}
