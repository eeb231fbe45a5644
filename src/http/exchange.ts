import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';

/** One incoming request as the protocol adapters see it. */
export class HttpRequest {
  readonly method: string;
  /** The path without the query string, as sent (not decoded). */
  readonly path: string;
  /** Decoded route parameters, filled in by the router. */
  params: Readonly<Record<string, string>> = {};
  /** The route pattern that matched, for metrics; null when none did. */
  route: string | null = null;

  constructor(readonly raw: IncomingMessage, readonly log: Logger) {
    this.method = raw.method ?? 'GET';
    this.path = (raw.url ?? '/').split('?')[0]!;
  }

  get headers(): IncomingHttpHeaders {
    return this.raw.headers;
  }

  get url(): string {
    return this.raw.url ?? '/';
  }

  /** The query string's parameters, decoded. */
  get query(): URLSearchParams {
    const url = this.url;
    return new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  }

  get protocol(): 'http' | 'https' {
    return (this.raw.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  }

  get host(): string {
    return this.raw.headers.host || `${this.raw.socket.localAddress}:${this.raw.socket.localPort}`;
  }
}

type Payload = string | Buffer | Readable | Record<string, unknown> | undefined;

/** Statuses node:http has no reason phrase for (it would send "unknown"). */
const REASON_PHRASES: Readonly<Record<number, string>> = { 460: 'Checksum Mismatch' };

/** Headers that describe a body being sent, dropped when reading that body fails before it starts. */
const REPRESENTATION_HEADERS = ['content-type', 'content-length', 'content-range', 'content-disposition', 'etag', 'accept-ranges', 'cache-control', 'last-modified'];

/** The response being built: headers and status first, then exactly one send(). */
export class HttpReply {
  statusCode = 200;
  private readonly headers = new Map<string, string>();
  private readonly started = process.hrtime.bigint();

  constructor(readonly raw: ServerResponse) {}

  /** True once the response head has gone out. */
  get sent(): boolean {
    return this.raw.headersSent;
  }

  get elapsedMs(): number {
    return Number(process.hrtime.bigint() - this.started) / 1e6;
  }

  header(name: string, value: string): this {
    const key = name.toLowerCase();
    const listed = key === 'vary' ? this.headers.get(key) : undefined;
    // Vary is a list that each part of the answer depending on a request header adds to (CORS adds
    // Origin, compression Accept-Encoding): a later part must not take an earlier one's name away.
    if (listed === undefined) this.headers.set(key, value);
    else if (!listed.toLowerCase().split(/\s*,\s*/).includes(value.toLowerCase())) this.headers.set(key, `${listed}, ${value}`);
    return this;
  }

  hasHeader(name: string): boolean {
    return this.headers.has(name.toLowerCase());
  }

  code(status: number): this {
    this.statusCode = status;
    return this;
  }

  type(mediaType: string): this {
    return this.header('content-type', mediaType);
  }

  /** Sends the response; objects go out as JSON, streams are piped with backpressure. */
  async send(payload?: Payload): Promise<void> {
    const { raw } = this;
    if (raw.headersSent || raw.destroyed) return;
    let body: string | Buffer | Readable | undefined;
    if (payload instanceof Readable || typeof payload === 'string' || Buffer.isBuffer(payload) || payload === undefined) {
      body = payload;
    } else {
      body = JSON.stringify(payload);
      if (!this.headers.has('content-type')) this.type('application/json; charset=utf-8');
    }
    const bodyless = this.statusCode === 204 || this.statusCode === 304 || (this.statusCode >= 100 && this.statusCode < 200);
    if (bodyless) {
      this.headers.delete('content-length');
      this.headers.delete('content-type');
    } else if (!(body instanceof Readable) && !this.headers.has('content-length')) {
      this.headers.set('content-length', String(body === undefined ? 0 : Buffer.byteLength(body)));
    }
    // A stream from storage opens lazily: wait for its first bytes (or its end) before committing to
    // a status, so a store that cannot be read (object storage down) is answered 503, not a cut connection.
    if (body instanceof Readable && !bodyless && raw.req.method !== 'HEAD') {
      try {
        await firstBytes(body);
      } catch (err) {
        // The error answer describes itself: none of the headers of the representation that failed.
        for (const name of REPRESENTATION_HEADERS) this.headers.delete(name);
        this.statusCode = 200;
        throw err;
      }
    }
    if (raw.headersSent || raw.destroyed) return void (body instanceof Readable && body.destroy());
    const reason = REASON_PHRASES[this.statusCode];
    if (reason) raw.writeHead(this.statusCode, reason, Object.fromEntries(this.headers));
    else raw.writeHead(this.statusCode, Object.fromEntries(this.headers));
    if (body instanceof Readable) {
      if (bodyless || raw.req.method === 'HEAD') {
        body.destroy();
        raw.end();
        return;
      }
      // A client that leaves mid-download just ends the pipe; there is nobody left to answer.
      await pipeline(body, raw).catch(() => undefined);
      return;
    }
    raw.end(bodyless ? undefined : body);
  }
}

/** Resolves once `stream` has data buffered or has ended; rejects (destroying it) with its error. */
function firstBytes(stream: Readable): Promise<void> {
  if (stream.readableLength > 0 || stream.readableEnded) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('readable', onReadable);
      stream.off('error', done);
      stream.off('close', onClose);
      if (err) {
        stream.destroy();
        reject(err);
      } else resolve();
    };
    const onReadable = () => done();
    const onClose = () => done(stream.errored ?? undefined);
    stream.on('readable', onReadable);
    stream.once('error', done);
    stream.once('close', onClose);
  });
}
