import type { HttpReply, HttpRequest } from '../exchange.js';
import { FerryError } from '../../core/errors.js';
import type { Metadata, Upload } from '../../core/upload.js';
import { fileUrl, routeId, type HttpContext, ownerOf } from '../context.js';
import { contentLength, hasBody, header, mediaType } from '../headers.js';
import { parseMetadata } from '../tus/headers.js';
import { filenameFromDisposition } from './disposition.js';
import { sfBoolean, sfIntegerDictionary, sfNonNegativeInteger } from './fields.js';
import { sendInterim } from './interim.js';

/** Interop versions this server speaks: 5 (draft -03), 6 (-04/-05), 7 (-06 to -08), 8 (-09 to -11). */
const INTEROP_VERSIONS = [5, 6, 7, 8] as const;
const PARTIAL_UPLOAD = 'application/partial-upload';

/** The interop version a request asks for, or null when it is not an IETF draft request. */
export function interopVersion(request: HttpRequest): number | null {
  const raw = request.headers['upload-draft-interop-version'];
  if (raw === undefined) return null;
  const version = sfNonNegativeInteger(Array.isArray(raw) ? raw[0] : raw);
  if (version === undefined || !(INTEROP_VERSIONS as readonly number[]).includes(version)) {
    throw new FerryError('invalid_request', `Upload-Draft-Interop-Version must be one of ${INTEROP_VERSIONS.join(', ')}`);
  }
  return version;
}

/** Upload-Limit for one upload, or for the server as a whole when `upload` is omitted. */
export function uploadLimit(ctx: HttpContext, version: number, upload?: Upload): string {
  const limits: Record<string, number> = {};
  if (ctx.config.maxUploadSize !== null) limits['max-size'] = ctx.config.maxUploadSize;
  else if (upload === undefined) limits['min-size'] = 0;
  if (upload?.expiresAt && upload.state === 'open') {
    limits[version >= 7 ? 'max-age' : 'expires'] = (upload.expiresAt.getTime() - Date.now()) / 1000;
  } else if (upload === undefined && version >= 7) {
    // Every upload gets this lifetime, so the server as a whole announces it (OPTIONS): limits
    // announced there must not be looser than those an upload then gets.
    limits['max-age'] = ctx.config.uploadExpirySeconds;
  }
  if (Object.keys(limits).length === 0) limits['min-size'] = 0;
  return sfIntegerDictionary(limits);
}

/** Upload creation: any POST to the endpoint carrying Upload-Complete. */
export async function create(ctx: HttpContext, request: HttpRequest, reply: HttpReply, version: number): Promise<void> {
  const completes = sfBoolean(header(request, 'upload-complete'));
  if (completes === undefined) throw new FerryError('invalid_request', 'Upload-Complete is required to create an upload');
  const declaredSize = sfNonNegativeInteger(header(request, 'upload-length')) ?? null;
  const length = contentLength(request);
  if (completes && length !== null && declaredSize !== null && declaredSize !== length) {
    throw new FerryError('inconsistent_length', 'Upload-Length differs from the length of a completing request');
  }
  const size = declaredSize ?? (completes && length !== null ? length : null);

  let upload = await ctx.uploads.create(await ownerOf(ctx, request), { size, metadata: creationMetadata(request) });
  const location = fileUrl(ctx, request, upload.id);
  reply.header('Location', location);
  if (ctx.config.interimResponses) sendInterim(reply, {
    Location: location,
    'Upload-Limit': version >= 6 ? uploadLimit(ctx, version, upload) : undefined,
    'Upload-Draft-Interop-Version': String(version),
  });
  if (hasBody(request) || (completes && upload.state !== 'completed')) {
    upload = await ctx.uploads.append(await ownerOf(ctx, request), upload.id, {
      offset: 0, body: request.raw, contentLength: length, declaredSize: size, completes, onProgress: progressReporter(ctx, reply, version),
    });
  }
  await respondToTransfer(ctx, reply, version, upload, 201);
}

/** Offset retrieval: HEAD or GET on the upload resource. */
export async function status(ctx: HttpContext, request: HttpRequest, reply: HttpReply, version: number): Promise<void> {
  const upload = await ctx.uploads.status(await ownerOf(ctx, request), routeId(request));
  reply
    .header('Upload-Offset', String(upload.offset))
    .header('Upload-Complete', upload.state === 'completed' ? '?1' : '?0')
    .header('Cache-Control', 'no-store');
  if (upload.size !== null) reply.header('Upload-Length', String(upload.size));
  if (version >= 6) reply.header('Upload-Limit', uploadLimit(ctx, version, upload));
  await reply.code(204).send();
}

/** Upload append: PATCH with the next bytes. */
export async function append(ctx: HttpContext, request: HttpRequest, reply: HttpReply, version: number): Promise<void> {
  if (version >= 6 && mediaType(request) !== PARTIAL_UPLOAD) {
    throw new FerryError('unsupported_media_type', `appending requires Content-Type: ${PARTIAL_UPLOAD}`);
  }
  const offset = sfNonNegativeInteger(header(request, 'upload-offset'));
  if (offset === undefined) throw new FerryError('invalid_request', 'Upload-Offset is required');
  const completes = sfBoolean(header(request, 'upload-complete'));
  if (completes === undefined) throw new FerryError('invalid_request', 'Upload-Complete is required');
  const upload = await ctx.uploads.append(await ownerOf(ctx, request), routeId(request), {
    offset,
    body: request.raw,
    contentLength: contentLength(request),
    declaredSize: sfNonNegativeInteger(header(request, 'upload-length')) ?? null,
    completes,
    onProgress: progressReporter(ctx, reply, version),
  });
  await respondToTransfer(ctx, reply, version, upload, 204);
}

/** Upload cancellation. */
export async function cancel(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  await ctx.uploads.terminate(await ownerOf(ctx, request), routeId(request));
  await reply.code(204).send();
}

/**
 * A completed upload answers as the targeted resource would (200 with the stored file); an
 * incomplete one acknowledges the bytes so far.
 */
async function respondToTransfer(ctx: HttpContext, reply: HttpReply, version: number, upload: Upload, incompleteStatus: number): Promise<void> {
  reply.header('Upload-Offset', String(upload.offset));
  if (upload.state === 'completed') {
    await reply.header('Upload-Complete', '?1').code(200).send({ id: upload.id, size: upload.size, sha256: upload.sha256 });
    return;
  }
  reply.header('Upload-Complete', '?0');
  if (version >= 6) reply.header('Upload-Limit', uploadLimit(ctx, version, upload));
  await reply.code(incompleteStatus).send();
}

/** 104 interim responses carrying each newly durable offset while a long body streams in. */
function progressReporter(ctx: HttpContext, reply: HttpReply, version: number): ((offset: number) => void) | undefined {
  if (!ctx.config.interimResponses) return undefined;
  return (offset) => sendInterim(reply, { 'Upload-Offset': String(offset), 'Upload-Draft-Interop-Version': String(version) });
}

/** Representation metadata of the creation request, plus tus-style Upload-Metadata if a client sends it. */
function creationMetadata(request: HttpRequest): Metadata {
  const metadata: Record<string, string | null> = { ...parseMetadata(header(request, 'upload-metadata')) };
  const type = mediaType(request);
  if (type && type !== PARTIAL_UPLOAD && metadata.filetype === undefined) metadata.filetype = header(request, 'content-type')!;
  const filename = filenameFromDisposition(header(request, 'content-disposition'));
  if (filename !== null && metadata.filename === undefined) metadata.filename = filename;
  return metadata;
}
