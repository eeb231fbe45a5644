import type { HttpReply, HttpRequest } from './exchange.js';
import { FerryError } from '../core/errors.js';
import type { Upload } from '../core/upload.js';
import { routeId, type HttpContext } from './context.js';
import { header } from './headers.js';

/** GET and HEAD of a completed upload's content. */
export async function download(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const upload = await ctx.uploads.get(routeId(request));
  if (upload.state !== 'completed' || upload.size === null) throw new FerryError('not_completed', 'the upload is not complete yet');
  const size = upload.size;
  const etag = `"${upload.sha256}"`;
  const ifRange = header(request, 'if-range');
  const range = ifRange === undefined || ifRange === etag ? parseRange(header(request, 'range'), size) : null;
  if (range === 'unsatisfiable') {
    reply.header('Content-Range', `bytes */${size}`);
    throw new FerryError('range_not_satisfiable', `the file has ${size} bytes`);
  }
  reply
    .header('Accept-Ranges', 'bytes')
    .header('ETag', etag)
    .header('Content-Type', contentTypeOf(upload))
    .header('Content-Disposition', contentDisposition(filenameOf(upload)))
    .header('X-Content-Type-Options', 'nosniff')
    .header('Cache-Control', 'private, max-age=0, must-revalidate');

  if (header(request, 'if-none-match')?.split(',').some((tag) => tag.trim() === etag)) {
    await reply.code(304).send();
    return;
  }
  const length = range ? range.end - range.start + 1 : size;
  reply.header('Content-Length', String(length));
  if (range) reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  if (request.method === 'HEAD' || length === 0) {
    await reply.send();
    return;
  }
  const { body } = await ctx.uploads.openDownload(upload.id, range ?? undefined);
  await reply.send(body);
}

/**
 * One `bytes=` range, resolved against the size. Multiple ranges and syntax the server does not
 * understand are ignored (the whole file is sent), as RFC 9110 allows.
 */
function parseRange(raw: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (raw === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(raw.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

// type/subtype with optional `; name=value` parameters (tokens only): anything else is not served.
const TOKEN = "[a-z0-9!#$&^_.+-]{1,64}";
const SAFE_MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:\\s*;\\s*${TOKEN}=${TOKEN})*$`);

function contentTypeOf(upload: Upload): string {
  const declared = (upload.metadata.filetype ?? upload.metadata.contentType ?? upload.metadata.type ?? '').trim().toLowerCase();
  return SAFE_MEDIA_TYPE.test(declared) ? declared : 'application/octet-stream';
}

function filenameOf(upload: Upload): string {
  const declared = upload.metadata.filename ?? upload.metadata.name ?? '';
  // Keep the last path segment only and drop control characters: a name is never a path.
  const cleaned = declared.split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? upload.id : cleaned.slice(0, 255);
}

/** RFC 6266 with an ASCII fallback and the exact name in RFC 8187 form. */
function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
