import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config.js';
import { FerryError } from '../core/errors.js';
import type { HttpRequest } from './exchange.js';

type ConnectionLimits = Pick<Config, 'headersTimeoutSeconds' | 'keepAliveTimeoutSeconds' | 'maxHeaderBytes'>;

/** Options that node:http only takes when the server is created. */
export function serverOptions(config: ConnectionLimits): ServerOptions {
  return {
    maxHeaderSize: config.maxHeaderBytes,
    // checkMessage() refuses a missing Host with the same JSON error body as every other refusal.
    requireHostHeader: false,
    // Node checks the headers deadline on this interval (30 s by default), so a short deadline
    // would otherwise be enforced up to 30 s late.
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, (config.headersTimeoutSeconds * 1000) / 4)),
  };
}

/**
 * Deadlines on what a client owes the server: its headers, and its next request on an idle
 * keep-alive connection. A request as a whole has none: an upload of any size over a slow link
 * may take as long as it needs, as long as its body keeps moving (see watchClient).
 */
export function applyConnectionLimits(server: Server, config: ConnectionLimits): void {
  server.requestTimeout = 0;
  server.headersTimeout = config.headersTimeoutSeconds * 1000;
  server.keepAliveTimeout = config.keepAliveTimeoutSeconds * 1000;
  server.on('clientError', answerClientError);
}

const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'the request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request headers did not arrive in time'],
};

/**
 * Requests node:http refuses before any handler sees them (headers too large or too slow, a
 * malformed request) get the same JSON error body as every other refusal, then the connection closes.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const response = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request', 'the request is not valid HTTP/1.1'];
  const code = status === 431 ? 'headers_too_large' : status === 408 ? 'request_timeout' : 'invalid_request';
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export interface ClientPace {
  /** The longest the client may send nothing while the server waits for its body, or take nothing of the answer. */
  readonly idleMs: number;
  /** The slowest average rate of a body over each `idleMs` of waiting for it; 0 for no floor. */
  readonly minBytesPerSecond: number;
}

export type ClientCut = 'idle' | 'too_slow' | 'not_reading';

/**
 * Ends an exchange whose client stalls: while the server waits for the request body, nothing for
 * `idleMs` or less than the minimum rate over a window of `idleMs`; while the answer waits for the
 * client to take it (a download it stopped reading), nothing taken for `idleMs`. The connection is
 * closed, which to the code reading a body is the same as the client going away: an upload keeps
 * the bytes stored so far and records their offset, and the client resumes from there. A download
 * lets go of its file or object storage stream.
 *
 * Only waiting on the client counts. A body the server is not reading (its buffer is full because
 * storage is slow or the handler waits for a lock) and an answer still being worked out are never
 * held against it, and a body or download that is slow but keeps moving is never cut: there is no
 * total time limit. Progress is sampled from the socket's byte counts, so watching adds no listener
 * to the body and does not change how it flows.
 */
export function watchClient(request: IncomingMessage, response: ServerResponse, pace: ClientPace, onCut: (cut: ClientCut) => void): void {
  const socket = request.socket;
  const tickMs = Math.max(50, Math.floor(pace.idleMs / 4));
  const floor = (pace.minBytesPerSecond * pace.idleMs) / 1000;
  let read = socket.bytesRead;
  let written = socket.bytesWritten;
  let silentMs = 0;
  let windowMs = 0;
  let windowBytes = 0;
  let unreadMs = 0;
  const tick = () => {
    const arrived = socket.bytesRead - read;
    const taken = socket.bytesWritten - written;
    read += arrived;
    written += taken;
    if (response.writableNeedDrain) {
      unreadMs = taken > 0 ? 0 : unreadMs + tickMs;
      if (unreadMs >= pace.idleMs) return cut('not_reading');
    } else unreadMs = 0;
    const awaitingBody = !request.complete && request.readableLength < request.readableHighWaterMark;
    if (!awaitingBody) {
      silentMs = windowMs = windowBytes = 0;
      return;
    }
    silentMs = arrived > 0 ? 0 : silentMs + tickMs;
    windowMs += tickMs;
    windowBytes += arrived;
    if (silentMs >= pace.idleMs) return cut('idle');
    if (windowMs < pace.idleMs) return;
    if (windowBytes < floor) return cut('too_slow');
    windowMs = windowBytes = 0;
  };
  const timer = setInterval(tick, tickMs);
  timer.unref();
  const cut = (why: ClientCut) => {
    clearInterval(timer);
    onCut(why);
    socket.destroy();
  };
  response.once('close', () => clearInterval(timer));
}

/**
 * Upload-Metadata (tus, and the IETF draft where clients send it too) is stored with the upload and
 * sent back on every HEAD: bounded well below the header limit, yet with room for a file name of
 * 1024 characters in any script and the usual handful of pairs.
 */
export const MAX_METADATA_LENGTH = 8 * 1024;
export const MAX_METADATA_PAIRS = 64;

/** Refuses (400, in the request's protocol) request headers within the head limit but past what Ferry keeps. */
export function checkHeaderLimits(request: HttpRequest): void {
  const metadata = request.headers['upload-metadata'];
  if (typeof metadata !== 'string') return;
  if (metadata.length > MAX_METADATA_LENGTH) throw new FerryError('invalid_metadata', `Upload-Metadata may be at most ${MAX_METADATA_LENGTH} characters`);
  if (metadata.split(',').length > MAX_METADATA_PAIRS) throw new FerryError('invalid_metadata', `Upload-Metadata may have at most ${MAX_METADATA_PAIRS} pairs`);
}
