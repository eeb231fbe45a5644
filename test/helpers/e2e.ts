/**
 * Small tools the end-to-end tests share: random source files with their hashes, hashing of files,
 * prefixes and streams, plain HTTP requests to loopback servers, and bounded waits.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MiB = 1024 * 1024;

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(path: string | undefined): Promise<void> {
  if (path) await rm(path, { recursive: true, force: true });
}

export interface SourceFile {
  readonly path: string;
  readonly size: number;
  /** Hex SHA-256 of the whole file. */
  readonly sha256: string;
}

/** Writes `size` random bytes to `path`, hashing them on the way. */
export async function writeRandomFile(path: string, size: number): Promise<SourceFile> {
  const hash = createHash('sha256');
  const handle = await open(path, 'wx');
  try {
    let written = 0;
    while (written < size) {
      const piece = randomBytes(Math.min(4 * MiB, size - written));
      hash.update(piece);
      let done = 0;
      while (done < piece.length) {
        const { bytesWritten } = await handle.write(piece, done, piece.length - done, written + done);
        done += bytesWritten;
      }
      written += piece.length;
    }
  } finally {
    await handle.close();
  }
  return { path, size, sha256: hash.digest('hex') };
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256OfStream(stream: AsyncIterable<Buffer | string>): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(buffer);
    bytes += buffer.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** SHA-256 of the first `length` bytes of a file (the whole file when omitted), and how many there were. */
export async function sha256OfFile(path: string, length?: number): Promise<{ sha256: string; bytes: number }> {
  if (length === 0) return { sha256: sha256Hex(Buffer.alloc(0)), bytes: 0 };
  const stream = createReadStream(path, { start: 0, end: length === undefined ? undefined : length - 1, highWaterMark: MiB });
  return sha256OfStream(stream as AsyncIterable<Buffer>);
}

/** Rejects with a message naming `what` when the promise has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asks `condition` every 50 ms until it holds; rejects naming `what` after `ms`. */
export async function until(condition: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** True when nothing accepts connections at `url` any more (a node that stopped listening). */
export function refusesConnections(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/healthz`, { agent: false }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    req.end();
  });
}

export interface SimpleResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface SimpleRequest {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  readonly timeoutMs?: number;
}

/**
 * One HTTP request on a fresh connection (no keep-alive pool, so a server that was killed leaves no
 * stale sockets behind), the whole response body buffered.
 */
export function simpleRequest(url: string, options: SimpleRequest = {}): Promise<SimpleResponse> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body) headers['Content-Length'] = String(options.body.length);
    const req = httpRequest(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (err) => { clearTimeout(timer); reject(err); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms: ${options.method ?? 'GET'} ${url}`)), timeoutMs);
    req.on('error', (err) => { clearTimeout(timer); reject(err); });
    req.end(options.body);
  });
}

export interface DownloadResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly sha256: string;
  readonly bytes: number;
}

/** GETs a URL and hashes the body as it streams in, without buffering it. */
export function downloadSha256(url: string, options: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<DownloadResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      sha256OfStream(res as AsyncIterable<Buffer>).then(
        ({ sha256, bytes }) => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, sha256, bytes });
        },
        (err: unknown) => { clearTimeout(timer); reject(err); },
      );
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms: GET ${url}`)), timeoutMs);
    req.on('error', (err) => { clearTimeout(timer); reject(err); });
    req.end();
  });
}

/** The tus offset of an upload, by HEAD; throws unless the server answers 200 with a numeric Upload-Offset. */
export async function tusOffset(uploadUrl: string): Promise<{ offset: number; response: SimpleResponse }> {
  const response = await simpleRequest(uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  const raw = response.headers['upload-offset'];
  if (response.status !== 200 || typeof raw !== 'string' || !/^\d+$/.test(raw)) {
    throw new Error(`HEAD ${uploadUrl} answered ${response.status} with Upload-Offset ${JSON.stringify(raw)}`);
  }
  return { offset: Number(raw), response };
}

/** The last path segment of an upload URL: the upload id. */
export function idOfUrl(uploadUrl: string): string {
  const id = new URL(uploadUrl).pathname.split('/').filter(Boolean).pop();
  if (!id) throw new Error(`no upload id in ${uploadUrl}`);
  return id;
}

/** Decodes the RFC 8187 `filename*=UTF-8''...` parameter of a Content-Disposition value. */
export function extendedFilename(disposition: string | undefined): string | null {
  if (disposition === undefined) return null;
  const match = /filename\*\s*=\s*UTF-8''([^;\s]+)/i.exec(disposition);
  return match ? decodeURIComponent(match[1]!) : null;
}
