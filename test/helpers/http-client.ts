/**
 * A small HTTP/1.1 client for protocol tests, on node:http so that tests control exactly what goes
 * on the wire (no URL normalisation, no automatic headers beyond Host, chunked and slow bodies,
 * lying Content-Length) and can observe 1xx interim responses. Plus a raw-socket variant for
 * requests node:http refuses to send and for checking that a response carries no body at all.
 */
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** A body sent in pieces (Transfer-Encoding: chunked unless a Content-Length header is given). */
export interface ChunkedBody {
  readonly chunks: readonly (Buffer | string)[];
  /** Pause before each chunk after the first. */
  readonly delayMs?: number;
  /** Stop (destroy the socket) after sending this many chunks, instead of ending the request. */
  readonly abortAfter?: number;
  /** Called after each chunk is written (index of the chunk just written). */
  readonly onChunk?: (index: number) => Promise<void> | void;
}

export type RequestBody = Buffer | string | ChunkedBody | undefined;

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: RequestBody;
  readonly timeoutMs?: number;
}

export interface Interim {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** 1xx responses (other than 101) received before the final one, in order. */
  readonly interim: readonly Interim[];
  /** The final response headers as a name -> value map with lower-case names. */
  header(name: string): string | undefined;
  text(): string;
  json(): unknown;
}

function isChunked(body: RequestBody): body is ChunkedBody {
  return typeof body === 'object' && body !== null && !Buffer.isBuffer(body);
}

function makeResult(status: number, headers: IncomingHttpHeaders, body: Buffer, interim: Interim[]): HttpResult {
  return {
    status,
    headers,
    body,
    interim,
    header(name: string) {
      const value = headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    text: () => body.toString('utf8'),
    json: () => JSON.parse(body.toString('utf8')) as unknown,
  };
}

/**
 * Sends one request on a fresh connection and resolves with the final response. If the server
 * answers before the body is fully sent (and then closes the connection), the answer still wins:
 * write errors after a response has started are ignored.
 */
export function send(url: string | URL, options: RequestOptions = {}): Promise<HttpResult> {
  const target = typeof url === 'string' ? url : url.toString();
  const { protocol, hostname, port } = new URL(target);
  if (protocol !== 'http:') throw new Error(`only http: URLs are supported, got ${target}`);
  // Take the path verbatim from the string so that `..` and percent-escapes reach the server as written.
  const path = target.replace(/^http:\/\/[^/]+/, '') || '/';
  const method = options.method ?? 'GET';
  const body = options.body;
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value !== undefined) headers[name] = String(value);
  }
  const hasHeader = (name: string) => Object.keys(headers).some((key) => key.toLowerCase() === name);
  if (!isChunked(body) && body !== undefined && !hasHeader('content-length')) {
    headers['Content-Length'] = String(Buffer.byteLength(body));
  }
  if (body === undefined && !hasHeader('content-length') && !hasHeader('transfer-encoding') && ['POST', 'PATCH', 'PUT'].includes(method)) {
    headers['Content-Length'] = '0';
  }
  const timeoutMs = options.timeoutMs ?? 15_000;

  return new Promise<HttpResult>((resolve, reject) => {
    const interim: Interim[] = [];
    let settled = false;
    let responded = false;
    const finish = (err: Error | null, result?: HttpResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(result!);
    };
    const req = httpRequest({ host: hostname, port, path, method, headers, agent: false, setHost: true });
    const timer = setTimeout(() => {
      req.destroy();
      finish(new Error(`${method} ${path.slice(0, 120)}: no complete response within ${timeoutMs} ms`));
    }, timeoutMs);

    req.on('information', (info) => interim.push({ status: info.statusCode, headers: info.headers }));
    req.on('response', (res) => {
      responded = true;
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => finish(null, makeResult(res.statusCode ?? 0, res.headers, Buffer.concat(parts), interim)));
      res.on('error', (err) => finish(err));
      res.on('aborted', () => finish(null, makeResult(res.statusCode ?? 0, res.headers, Buffer.concat(parts), interim)));
    });
    req.on('error', (err) => {
      if (!responded) finish(new Error(`${method} ${path.slice(0, 120)}: ${err.message}`, { cause: err }));
    });

    if (!isChunked(body)) {
      req.end(body);
      return;
    }
    void (async () => {
      try {
        for (let i = 0; i < body.chunks.length; i += 1) {
          if (settled || responded || req.destroyed) return;
          if (i > 0 && body.delayMs) await sleep(body.delayMs);
          if (settled || responded || req.destroyed) return;
          req.write(body.chunks[i]!);
          await body.onChunk?.(i);
          if (body.abortAfter !== undefined && i + 1 >= body.abortAfter) {
            await sleep(50);
            req.destroy();
            finish(null, makeResult(0, {}, Buffer.alloc(0), interim));
            return;
          }
        }
        if (!req.destroyed) req.end();
      } catch (err) {
        finish(err as Error);
      }
    })();
  });
}

export interface RawResult {
  /** Everything the server sent, as latin1 text. */
  readonly raw: string;
  /** Status of the first final (non-1xx) response, or 0 when none arrived. */
  readonly status: number;
  /** Header block of that response, names lower-cased (last value wins). */
  readonly headers: Readonly<Record<string, string>>;
  /** Bytes after that response's header block. */
  readonly rest: Buffer;
}

/**
 * Writes `text` verbatim to a new TCP connection to the server and collects everything until the
 * server closes (or `timeoutMs`). Use `Connection: close` in the request.
 */
export function sendRaw(baseUrl: string, text: string | Buffer, timeoutMs = 5_000): Promise<RawResult> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const parts: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk: Buffer) => parts.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseRaw(Buffer.concat(parts)));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

function parseRaw(all: Buffer): RawResult {
  let start = 0;
  for (;;) {
    const end = all.indexOf('\r\n\r\n', start, 'latin1');
    if (end < 0) return { raw: all.toString('latin1'), status: 0, headers: {}, rest: Buffer.alloc(0) };
    const head = all.subarray(start, end).toString('latin1');
    const [statusLine, ...lines] = head.split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
    if (status >= 100 && status < 200) {
      start = end + 4;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { raw: all.toString('latin1'), status, headers, rest: all.subarray(end + 4) };
  }
}
