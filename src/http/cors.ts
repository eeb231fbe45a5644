import type { HttpReply, HttpRequest } from './exchange.js';

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const ALLOWED_HEADERS = [
  'Authorization', 'Content-Type', 'Content-Disposition', 'Range', 'If-Range', 'If-None-Match',
  'Tus-Resumable', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Offset', 'Upload-Metadata',
  'Upload-Checksum', 'Upload-Concat', 'Upload-Complete', 'Upload-Draft-Interop-Version',
  'X-HTTP-Method-Override', 'X-Requested-With', 'X-API-Key', 'Content-Digest', 'Content-MD5',
].join(', ');
const EXPOSED_HEADERS = [
  'Location', 'Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size', 'Tus-Checksum-Algorithm',
  'Upload-Offset', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Metadata', 'Upload-Concat',
  'Upload-Expires', 'Upload-Complete', 'Upload-Limit', 'Upload-Draft-Interop-Version',
  'Content-Range', 'Content-Disposition', 'Accept-Ranges', 'ETag', 'Retry-After', 'WWW-Authenticate', 'RateLimit', 'RateLimit-Policy',
  'Ferry-File-Id',
].join(', ');

/** CORS for browser clients on other origins, with the protocol headers exposed. */
export function applyCors(request: HttpRequest, reply: HttpReply, origins: readonly string[]): void {
  const origin = request.headers.origin;
  const anyOrigin = origins.includes('*');
  // The answer depends on Origin whenever not every origin is allowed, also when this one is not:
  // a cache must not hand a refused origin's answer (no CORS headers) to an allowed one, or back.
  if (!anyOrigin) reply.header('Vary', 'Origin');
  if (origin === undefined || (!anyOrigin && !origins.includes(origin))) return;
  reply.header('Access-Control-Allow-Origin', anyOrigin ? '*' : origin);
  reply.header('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
    reply
      .header('Access-Control-Allow-Methods', ALLOWED_METHODS)
      .header('Access-Control-Allow-Headers', ALLOWED_HEADERS)
      .header('Access-Control-Max-Age', '86400');
  }
}
