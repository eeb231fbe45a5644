import { FerryError } from '../core/errors.js';
import type { HttpRequest } from './exchange.js';

/**
 * A Host value as RFC 9112 §3.2 allows it: an IP literal, or a name of URI characters (RFC 3986
 * reg-name), and an optional port. Ferry builds Location URLs from it, so anything else (spaces,
 * quotes, a path) would end up in them.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

/**
 * What HTTP/1.1 requires of a request's framing that node:http lets through: a valid Host (and one
 * at all on HTTP/1.1), and no transfer coding but chunked. node:http removes chunked and passes any
 * other coding on undecoded, so a gzip-coded body would be stored as gzip bytes and its offsets
 * counted in them.
 */
export function checkMessage(request: HttpRequest): void {
  const { headers, raw } = request;
  const host = headers.host;
  if (host === undefined ? raw.httpVersionMajor === 1 && raw.httpVersionMinor >= 1 : !HOST.test(host)) {
    throw new FerryError('invalid_request', host === undefined ? 'an HTTP/1.1 request needs a Host header' : 'the Host header is not a valid host');
  }
  const codings = headers['transfer-encoding'];
  if (codings !== undefined && codings.split(',').some((coding) => coding.trim().toLowerCase() !== 'chunked')) {
    throw new FerryError('invalid_request', 'the only transfer coding Ferry takes is chunked');
  }
}
