import type { HttpReply, HttpRequest } from './exchange.js';
import { FerryError } from '../core/errors.js';
import type { StoredFile } from '../core/file.js';
import type { Readable } from 'node:stream';
import { cleanFileName, cleanMediaType } from '../core/names.js';
import type { ByteRange } from '../storage/types.js';
import { ownerOf, routeId, type HttpContext } from './context.js';
import { header } from './headers.js';

/** What a download needs to know before it opens the bytes. */
export interface ContentSource {
  readonly size: number;
  readonly sha256: string;
  readonly name: string;
  readonly type: string;
  open(range: ByteRange | undefined): Promise<Readable>;
}

/** GET and HEAD of a completed upload's content at its upload URL. */
export async function download(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const owner = await ownerOf(ctx, request);
  const { upload, file } = await ctx.uploads.completedFile(owner, routeId(request));
  await sendContent(request, reply, {
    size: upload.size ?? 0,
    sha256: upload.sha256 ?? '',
    name: file?.name ?? cleanFileName(upload.metadata.filename ?? upload.metadata.name, upload.id),
    type: file?.type ?? cleanMediaType(upload.metadata.filetype ?? upload.metadata.type ?? upload.metadata.contentType),
    open: async (range) => (await ctx.uploads.openDownload(owner, upload.id, range)).body,
  });
}

/** A library file as a download: the files API and compatibility routes alike. */
export async function sendFile(ctx: HttpContext, request: HttpRequest, reply: HttpReply, file: StoredFile): Promise<void> {
  await sendContent(request, reply, {
    size: file.size,
    sha256: file.sha256,
    name: file.name,
    type: file.type,
    open: async (range) => (await ctx.library.openFileContent(file, range)).body,
  });
}

/** A whole file or one range of it, with validators, as a download (never rendered inline). */
export async function sendContent(request: HttpRequest, reply: HttpReply, source: ContentSource): Promise<void> {
  const { size } = source;
  const etag = `"${source.sha256}"`;
  // RFC 9110 §13.2.2: If-Match, then If-None-Match, both before any range.
  const ifMatch = header(request, 'if-match');
  if (ifMatch !== undefined && !namesTag(ifMatch, etag, false)) throw new FerryError('precondition_failed', 'If-Match names no current version of the file');
  const notModified = namesTag(header(request, 'if-none-match'), etag, true);
  const ifRange = header(request, 'if-range');
  const range = !notModified && (ifRange === undefined || ifRange === etag) ? parseRange(header(request, 'range'), size) : null;
  if (range === 'unsatisfiable') {
    reply.header('Content-Range', `bytes */${size}`);
    throw new FerryError('range_not_satisfiable', `the file has ${size} bytes`);
  }
  const length = range ? range.end - range.start + 1 : size;
  // Opened before any header is set: if the bytes cannot be had, the error goes out clean.
  const body = notModified || request.method === 'HEAD' || length === 0 ? null : await source.open(range ?? undefined);
  reply
    .header('Accept-Ranges', 'bytes')
    .header('ETag', etag)
    .header('Content-Type', source.type)
    .header('Content-Disposition', contentDisposition(source.name.split('/').pop()!))
    .header('X-Content-Type-Options', 'nosniff')
    .header('Cache-Control', 'private, max-age=0, must-revalidate');
  if (notModified) {
    await reply.code(304).send();
    return;
  }
  reply.header('Content-Length', String(length));
  if (range) reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  await reply.send(body ?? undefined);
}

/**
 * Whether an If-Match / If-None-Match list names the file's (strong) ETag: `*` names any version;
 * If-None-Match compares weakly (RFC 9110 §8.8.3.2), ignoring a `W/` on either side.
 */
function namesTag(list: string | undefined, etag: string, weak: boolean): boolean {
  if (list === undefined) return false;
  return list.split(',').some((entry) => {
    const tag = entry.trim();
    return tag === '*' || tag === etag || (weak && tag.startsWith('W/') && tag.slice(2) === etag);
  });
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

/** RFC 6266 with an ASCII fallback and the exact name in RFC 8187 form. */
function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
