// A small client of Ferry's native chunk API over node:http with a keep-alive
// agent, for the native and instant cases. It also drives the raw baseline's
// positioned PUT, so that both servers get the same requests from the same code.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';

const REQUEST_TIMEOUT_MS = 120_000;

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Round trip: from starting the request to the last byte of the answer. */
  ms: number;
}

export interface Challenge {
  algorithm: string;
  nonce: string;
  ranges: { start: number; end: number }[];
  expiresAt: string;
}

export interface FileJson {
  id: string;
  name: string;
  size: number;
  sha256: string;
  sha1: string | null;
  md5: string | null;
}

export interface UploadJson {
  id: string;
  state: string;
  chunkSize: number;
  chunkCount: number;
  missing: number[];
  instant: boolean;
  challenge?: Challenge;
  file?: FileJson;
}

/** One server, one set of headers (e.g. a bearer token), one keep-alive connection pool. */
export class HttpApi {
  private readonly agent: http.Agent;

  constructor(readonly base: string, readonly headers: Record<string, string> = {}, connections = 1) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  }

  request(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = http.request(`${this.base}${path}`, {
        method,
        agent: this.agent,
        headers: { ...this.headers, ...headers, 'content-length': String(body?.length ?? 0) },
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${path}: no answer in ${REQUEST_TIMEOUT_MS} ms`)));
      req.once('error', reject);
      req.once('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.once('error', reject);
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), ms: performance.now() - t0 }));
      });
      req.end(body);
    });
  }

  /** A JSON request; the answer's body parsed (null when empty). */
  async json<T>(method: string, path: string, body?: unknown): Promise<Reply & { json: T }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const reply = await this.request(method, path, payload, payload === undefined ? {} : { 'content-type': 'application/json' });
    const text = reply.body.toString('utf8');
    let json: T;
    try {
      json = (text === '' ? null : JSON.parse(text)) as T;
    } catch {
      throw new Error(`${method} ${path} answered ${reply.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    return { ...reply, json };
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface NativeJob {
  /** ferry: POST /api/v1/uploads, PUT chunks, POST complete. raw: the raw server's create and positioned PUTs. */
  target: 'ferry' | 'raw';
  base: string;
  headers?: Record<string, string>;
  name: string;
  file: string;
  /** The byte range of `file` to upload. */
  start: number;
  length: number;
  /** Hex SHA-256 of the range, declared at creation (Ferry checks it at completion). */
  sha256: string;
  chunkSize: number;
  /** Base64 SHA-256 of each chunk; computed before the clock starts when absent. */
  digests?: string[];
  connections: number;
}

export interface NativeResult {
  /** create + every chunk + complete */
  wallMs: number;
  /** Where the stored bytes can be read back: Ferry's file content URL, or the raw upload's URL. */
  url: string;
  /** Ferry's file record (null for raw). */
  file: FileJson | null;
}

function expect(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) throw new Error(`${what}: ${reply.status} ${reply.body.toString('utf8').slice(0, 300)}`);
}

/** Base64 SHA-256 of each chunk of a byte range of a file. */
export async function chunkDigests(file: string, start: number, length: number, chunkSize: number): Promise<string[]> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(length, 1)));
    const digests: string[] = [];
    for (let at = 0; at < length; at += chunkSize) {
      const n = Math.min(chunkSize, length - at);
      await readFully(fh, buf, n, start + at);
      digests.push(createHash('sha256').update(buf.subarray(0, n)).digest('base64'));
    }
    return digests;
  } finally {
    await fh.close();
  }
}

async function readFully(fh: fs.FileHandle, buf: Buffer, n: number, position: number): Promise<void> {
  for (let got = 0; got < n; ) {
    const { bytesRead } = await fh.read(buf, got, n - got, position + got);
    if (bytesRead === 0) throw new Error(`the source ends before byte ${position + n}`);
    got += bytesRead;
  }
}

/**
 * Uploads a byte range of a file in chunks: `connections` workers take chunk indexes from one
 * shared queue, each reading its chunk into its own buffer and sending it in one request.
 */
export async function uploadNative(job: NativeJob): Promise<NativeResult> {
  const count = Math.ceil(job.length / job.chunkSize);
  const digests = job.digests ?? (await chunkDigests(job.file, job.start, job.length, job.chunkSize));
  if (digests.length !== count) throw new Error(`${digests.length} chunk digests for ${count} chunks`);
  const api = new HttpApi(job.base, job.headers, job.connections);
  const fh = await fs.open(job.file, 'r');
  try {
    const t0 = performance.now();
    let queue: number[];
    let chunkPath: (index: number) => string;
    let chunkHeaders: (index: number) => Record<string, string>;
    let okStatus: number;
    let url: string;
    let uploadId = '';
    if (job.target === 'ferry') {
      const created = await api.json<UploadJson>('POST', '/api/v1/uploads', { name: job.name, size: job.length, sha256: job.sha256, chunkSize: job.chunkSize });
      expect(created, 201, 'create');
      if (created.json.chunkSize !== job.chunkSize) throw new Error(`asked for ${job.chunkSize}-byte chunks, got ${created.json.chunkSize}`);
      // A challenge comes with any content the user does not own yet; it is optional: send the chunks.
      uploadId = created.json.id;
      queue = [...created.json.missing];
      chunkPath = (index) => `/api/v1/uploads/${uploadId}/chunks/${index}`;
      chunkHeaders = (index) => ({ 'content-type': 'application/octet-stream', 'content-digest': `sha-256=:${digests[index]}:` });
      okStatus = 200;
      url = '';
    } else {
      const created = await api.request('POST', '/files/', undefined, { 'tus-resumable': '1.0.0', 'upload-length': String(job.length) });
      expect(created, 201, 'create');
      const location = created.headers.location;
      if (location === undefined) throw new Error('create: no Location');
      const path = new URL(location).pathname;
      queue = Array.from({ length: count }, (_, i) => i);
      chunkPath = () => path;
      chunkHeaders = (index) => ({ 'content-type': 'application/octet-stream', 'chunk-offset': String(index * job.chunkSize) });
      okStatus = 204;
      url = location;
    }

    const worker = async (): Promise<void> => {
      const buf = Buffer.allocUnsafe(Math.min(job.chunkSize, Math.max(job.length, 1)));
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        const n = Math.min(job.chunkSize, job.length - index * job.chunkSize);
        await readFully(fh, buf, n, job.start + index * job.chunkSize);
        const reply = await api.request('PUT', chunkPath(index), buf.subarray(0, n), chunkHeaders(index));
        expect(reply, okStatus, `chunk ${index}`);
      }
    };
    await Promise.all(Array.from({ length: job.connections }, worker));

    let file: FileJson | null = null;
    if (job.target === 'ferry') {
      const done = await api.json<UploadJson>('POST', `/api/v1/uploads/${uploadId}/complete`);
      expect(done, 200, 'complete');
      if (done.json.state !== 'completed' || done.json.file === undefined) throw new Error(`complete: state ${done.json.state}, no file`);
      file = done.json.file;
      url = `${job.base}/api/v1/files/${file.id}/content`;
    }
    return { wallMs: performance.now() - t0, url, file };
  } finally {
    await fh.close();
    api.close();
  }
}
