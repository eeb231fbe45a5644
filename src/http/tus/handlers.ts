import type { HttpReply, HttpRequest } from '../exchange.js';
import { FerryError } from '../../core/errors.js';
import type { Upload } from '../../core/upload.js';
import { FILES_PREFIX, fileUrl, routeId, type HttpContext, ownerOf } from '../context.js';
import { contentLength, hasBody, header, mediaType, optionalLength, parseLength } from '../headers.js';
import { formatConcat, formatMetadata, parseChecksum, parseConcat, parseMetadata } from './headers.js';

export const TUS_VERSION = '1.0.0';
const CHUNK_TYPE = 'application/offset+octet-stream';

function tusExtensions(ctx: HttpContext): string {
  const extensions = ['creation', 'creation-with-upload', 'expiration', 'checksum'];
  if (ctx.uploads.supportsDeferredLength) extensions.push('creation-defer-length');
  if (ctx.uploads.supportsTermination) extensions.push('termination');
  if (ctx.uploads.supportsConcatenation) extensions.push('concatenation');
  return extensions.join(',');
}

/** OPTIONS: what this server speaks (section 5.2, discovery). */
export function describeServer(ctx: HttpContext, reply: HttpReply): void {
  reply.header('Tus-Version', TUS_VERSION).header('Tus-Extension', tusExtensions(ctx)).header('Tus-Checksum-Algorithm', 'sha1,sha256,md5');
  if (ctx.config.maxUploadSize !== null) reply.header('Tus-Max-Size', String(ctx.config.maxUploadSize));
}

/** Every tus request but OPTIONS must name the protocol version (412 otherwise). */
export function requireTusResumable(request: HttpRequest): void {
  if (header(request, 'tus-resumable') !== TUS_VERSION) {
    throw new FerryError('missing_tus_resumable', `Tus-Resumable: ${TUS_VERSION} is required`);
  }
}

/** POST: creation, creation-defer-length, creation-with-upload and concatenation. */
export async function create(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  requireTusResumable(request);
  const concat = parseConcat(header(request, 'upload-concat'), FILES_PREFIX);
  const size = optionalLength(request, 'upload-length');
  const deferRaw = header(request, 'upload-defer-length');
  if (deferRaw !== undefined && deferRaw !== '1') throw new FerryError('invalid_request', 'Upload-Defer-Length must be 1');
  const deferred = deferRaw === '1';
  if (concat?.kind === 'final') {
    if (size !== null || deferred) throw new FerryError('invalid_request', 'a final upload takes its length from its parts');
  } else if ((size === null) === !deferred) {
    throw new FerryError('invalid_request', 'send exactly one of Upload-Length and Upload-Defer-Length: 1');
  }
  const metadata = parseMetadata(header(request, 'upload-metadata'));
  const withBody = hasBody(request);
  if (withBody && mediaType(request) !== CHUNK_TYPE) {
    throw new FerryError('unsupported_media_type', `a creation request with data must be ${CHUNK_TYPE}`);
  }
  const checksum = withBody ? parseChecksum(header(request, 'upload-checksum')) : null;
  if (withBody && concat?.kind === 'final') throw new FerryError('final_upload_patch', 'a final upload cannot carry data');
  const declaredLength = contentLength(request);
  if (withBody && size !== null && declaredLength !== null && declaredLength > size) {
    throw new FerryError('body_exceeds_length', 'the request body is longer than Upload-Length');
  }

  let upload = await ctx.uploads.create(await ownerOf(ctx, request), { size, metadata, concat });
  reply.header('Location', fileUrl(ctx, request, upload.id));
  if (withBody) {
    upload = await ctx.uploads.append(await ownerOf(ctx, request), upload.id, { offset: 0, body: request.raw, contentLength: declaredLength, checksum });
  }
  describeProgress(reply, upload);
  await reply.code(201).send();
}

/** HEAD: where the upload stands. */
export async function status(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  requireTusResumable(request);
  const upload = await ctx.uploads.status(await ownerOf(ctx, request), routeId(request));
  reply.header('Cache-Control', 'no-store');
  if (upload.size === null) reply.header('Upload-Defer-Length', '1');
  else reply.header('Upload-Length', String(upload.size));
  if (Object.keys(upload.metadata).length > 0) reply.header('Upload-Metadata', formatMetadata(upload.metadata));
  if (upload.concat) reply.header('Upload-Concat', formatConcat(upload.concat, (id) => fileUrl(ctx, request, id)));
  describeProgress(reply, upload);
  await reply.code(200).send();
}

/** PATCH: append the body at Upload-Offset. */
export async function append(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  requireTusResumable(request);
  if (mediaType(request) !== CHUNK_TYPE) throw new FerryError('unsupported_media_type', `PATCH requests must be ${CHUNK_TYPE}`);
  const rawOffset = header(request, 'upload-offset');
  if (rawOffset === undefined) throw new FerryError('invalid_request', 'Upload-Offset is required');
  const offset = parseLength(rawOffset, 'Upload-Offset');
  const upload = await ctx.uploads.append(await ownerOf(ctx, request), routeId(request), {
    offset,
    body: request.raw,
    contentLength: contentLength(request),
    declaredSize: optionalLength(request, 'upload-length'),
    checksum: parseChecksum(header(request, 'upload-checksum')),
  });
  describeProgress(reply, upload);
  await reply.code(204).send();
}

/** DELETE: termination. */
export async function terminate(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  requireTusResumable(request);
  await ctx.uploads.terminate(await ownerOf(ctx, request), routeId(request));
  await reply.code(204).send();
}

function describeProgress(reply: HttpReply, upload: Upload): void {
  reply.header('Upload-Offset', String(upload.offset));
  if (upload.expiresAt) reply.header('Upload-Expires', upload.expiresAt.toUTCString());
  // tus has no way to name what a finished upload became: Ferry's clients find the library file here.
  if (upload.fileId) reply.header('Ferry-File-Id', upload.fileId);
}
