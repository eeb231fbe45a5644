/**
 * One request of a soak upload and what its outcome means. Under chaos a refused connection, a
 * reset, a 503 or a 423 is expected: the upload tries again (Transient). 404 and 410 mean the
 * upload is gone (Gone): fine for one left idle past its expiry, a loss otherwise. Any other answer
 * outside what the protocol allows is a finding (Unexpected), as is a 5xx other than 503 or a
 * request that gets no answer at all (both are also retried: the upload may still be resumable).
 */
import { send, type HttpResult, type RequestOptions } from '../helpers/http-client.js';
import type { Random } from './random.js';

/** Longer than any lock wait or checkpoint on a loaded machine; a request still open after it hangs. */
export const ANSWER_WITHIN_MS = 120_000;

export class Transient extends Error {
  /** Set when the failure is retried but still breaks a rule (a 500, a hang). */
  constructor(message: string, readonly violation: string | null = null) {
    super(message);
  }
}

export class Gone extends Error {}

export class Unexpected extends Error {}

/** What a protocol driver gets for one attempt: where to send each request, and whether to cut one. */
export interface Step {
  /** A node's base URL, chosen anew on each call (nodes may be down: that is a Transient). */
  base(): string;
  readonly rng: Random;
  /** Disconnect mid-body on (at most) one request of this attempt. */
  cut: boolean;
  /** Called after each request that stored bytes: the upload's expiry starts again from here. */
  progress(): void;
}

export interface CallOptions extends RequestOptions {
  /** Answers that are success for this request. */
  readonly expect: readonly number[];
  /** Other answers that only mean "look again and retry" for this request (e.g. 409 on an offset). */
  readonly retry?: readonly number[];
  /** Send this many bytes of a Buffer body, then drop the connection. */
  readonly cutAt?: number;
}

/** Sends one request and classifies its outcome; resolves only with an expected answer. */
export async function call(url: string, what: string, options: CallOptions): Promise<HttpResult> {
  const { expect, retry = [], cutAt, body, ...rest } = options;
  const cutting = Buffer.isBuffer(body) && cutAt !== undefined && cutAt > 0 && cutAt < body.length;
  let res: HttpResult;
  try {
    res = await send(url, {
      ...rest,
      timeoutMs: ANSWER_WITHIN_MS,
      headers: cutting ? { ...rest.headers, 'Content-Length': body.length } : rest.headers,
      body: cutting ? { chunks: [body.subarray(0, cutAt), body.subarray(cutAt)], abortAfter: 1 } : body,
    });
  } catch (err) {
    const message = (err as Error).message;
    if (/no complete response within/.test(message)) throw new Transient(`${what}: ${message}`, `${what}: no answer within ${ANSWER_WITHIN_MS} ms`);
    throw new Transient(`${what}: ${message}`);
  }
  if (cutting && res.status === 0) throw new Transient(`${what}: cut by the client after ${cutAt} of ${body.length} bytes`);
  return classify(res, what, expect, retry);
}

export function classify<T extends { status: number }>(res: T & { text?: () => string }, what: string, expect: readonly number[], retry: readonly number[] = []): T {
  const status = res.status;
  if (expect.includes(status)) return res;
  const detail = `${what}: ${status} ${res.text?.().slice(0, 300) ?? ''}`;
  if (status === 503 || status === 423 || retry.includes(status)) throw new Transient(detail);
  if (status === 404 || status === 410) throw new Gone(detail);
  // The server answered while the request was still being sent, then our write hit the closed socket.
  if (status === 0) throw new Transient(`${what}: connection closed without an answer`);
  if (status >= 500) throw new Transient(detail, detail);
  throw new Unexpected(detail);
}

/** A piece of `data` from `offset`: all the rest, or a random part of it. */
export function pieceFrom(data: Buffer, offset: number, rng: Random): Buffer {
  const rest = data.length - offset;
  return data.subarray(offset, offset + (rng.chance(0.5) ? rest : rng.int(1, rest)));
}

/** Where to drop a request carrying `length` bytes, if this attempt cuts and there is a middle. */
export function cutPoint(step: Step, length: number): number | undefined {
  if (!step.cut || length < 2) return undefined;
  step.cut = false;
  return step.rng.int(1, length - 1);
}
