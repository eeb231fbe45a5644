import type { HttpRequest } from './exchange.js';
import { FerryError } from '../core/errors.js';

/** One header's value; a header sent twice is a client error rather than a guess. */
export function header(request: HttpRequest, name: string): string | undefined {
  const value = request.headers[name];
  if (Array.isArray(value)) throw new FerryError('invalid_request', `${name} must be sent once`);
  return value;
}

/** A strict non-negative decimal integer: no sign, no spaces, no exponent, within 2^53. */
export function parseLength(raw: string, name: string): number {
  if (!/^\d{1,16}$/.test(raw)) throw new FerryError('invalid_request', `${name} must be a non-negative integer`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new FerryError('invalid_request', `${name} is too large`);
  return value;
}

export function optionalLength(request: HttpRequest, name: string): number | null {
  const raw = header(request, name);
  return raw === undefined ? null : parseLength(raw, name);
}

/** The body's length when the request declares one; null for a chunked body. */
export function contentLength(request: HttpRequest): number | null {
  return optionalLength(request, 'content-length');
}

/** True when the request may carry a body. */
export function hasBody(request: HttpRequest): boolean {
  const length = contentLength(request);
  return length === null ? request.headers['transfer-encoding'] !== undefined : length > 0;
}

export function mediaType(request: HttpRequest): string | null {
  const raw = header(request, 'content-type');
  return raw === undefined ? null : raw.split(';')[0]!.trim().toLowerCase();
}

/** Absolute URL of an upload, from the configured public URL or the request's own origin. */
export function uploadUrl(request: HttpRequest, publicUrl: string | null, prefix: string, id: string): string {
  const base = publicUrl ?? `${request.protocol}://${request.host}`;
  return `${base}${prefix}/${id}`;
}

/**
 * A small request body, whole, as text: refused (413) as soon as its declared or received length
 * passes `maxBytes`, so a client cannot make the server hold more. `what` names it in the error.
 */
export async function readSmallBody(request: HttpRequest, maxBytes: number, what: string): Promise<string> {
  const tooLarge = () => new FerryError('too_large', `${what} may be at most ${maxBytes} bytes`);
  if (Number(request.headers['content-length'] ?? Number.NaN) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request.raw as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
