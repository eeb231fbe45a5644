import { Type } from '@sinclair/typebox';
import type { ChunkedStatus } from '../../core/chunked.js';
import { FerryError } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';
import type { HttpContext } from '../context.js';
import { contentLength } from '../headers.js';
import { chunkDigests } from './digest-headers.js';
import type { ApiRegistry } from './registry.js';
import { errorResponses, FileJson, fileJson } from './schemas.js';

const SHA256_HEX = { pattern: '^[0-9a-fA-F]{64}$' };
/** Smaller chunks would cost a request and a flush each for too few bytes. */
const MIN_CHUNK_SIZE = 64 * 1024;

const CreateUpload = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 1024, description: 'File name; `/` separates folders' }),
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Bytes' }),
    type: Type.Optional(Type.String({ maxLength: 255, description: 'Media type' })),
    sha256: Type.Optional(Type.String({ ...SHA256_HEX, description: 'Of the whole file: enables instant upload, checked at completion' })),
    chunkSize: Type.Optional(Type.Integer({ minimum: MIN_CHUNK_SIZE, description: 'Bytes per chunk (the last may be shorter); at most 10,000 chunks' })),
  },
  { additionalProperties: false },
);

const Challenge = Type.Object(
  {
    algorithm: Type.Literal('hmac-sha256'),
    nonce: Type.String({ description: 'base64url; the HMAC key is its decoded bytes' }),
    ranges: Type.Array(Type.Object({ start: Type.Integer(), end: Type.Integer({ description: 'Inclusive' }) })),
    expiresAt: Type.String({ format: 'date-time' }),
  },
  {
    description:
      'Proof of possession: POST to /proof the lowercase hex HMAC-SHA256, keyed with the nonce, of the bytes of the ranges ' +
      'concatenated in order. A right answer completes the upload without sending it; otherwise send the chunks.',
  },
);

const UploadStatus = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    size: Type.Integer(),
    type: Type.String(),
    sha256: Type.Union([Type.String(), Type.Null()], { description: 'As declared at creation' }),
    state: Type.Union([Type.Literal('open'), Type.Literal('paused'), Type.Literal('completed')]),
    chunkSize: Type.Integer(),
    chunkCount: Type.Integer(),
    receivedChunks: Type.Integer(),
    missing: Type.Array(Type.Integer(), { description: 'Indexes of the chunks still to send, ascending' }),
    instant: Type.Boolean({ description: 'Completed from stored content: no bytes had to be sent' }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    challenge: Type.Optional(Challenge),
    file: Type.Optional(FileJson),
  },
  { title: 'Upload' },
);

const Proof = Type.Object({ proof: Type.String({ maxLength: 256, description: 'Lowercase hex HMAC-SHA256' }) }, { additionalProperties: false });
const StateChange = Type.Object(
  { state: Type.Union([Type.Literal('paused'), Type.Literal('open')], { description: '`paused` refuses chunks until set back to `open`' }) },
  { additionalProperties: false },
);

const ChunkTarget = Type.Object(
  {
    index: Type.Integer(),
    size: Type.Integer({ description: 'Send exactly this many bytes' }),
    method: Type.Literal('PUT'),
    url: Type.String({ description: 'Presigned object-storage URL for this chunk (an S3 UploadPart); no Ferry token goes with it' }),
    headers: Type.Record(Type.String(), Type.String(), { description: 'Headers to send as they are: they are signed' }),
    expiresAt: Type.String({ format: 'date-time' }),
  },
  { title: 'ChunkUploadTarget' },
);

const ChunkUploaded = Type.Object(
  { md5: Type.String({ pattern: '^([0-9a-fA-F]{32}|[A-Za-z0-9+/]{22}==)$', description: 'MD5 of the chunk, hex or base64' }) },
  { additionalProperties: false },
);

const TAG = 'Uploads (native chunk API)';

function chunkIndex(raw: string | undefined): number {
  if (!/^\d{1,9}$/.test(raw ?? '')) throw new FerryError('chunk_out_of_range', 'the chunk index must be a whole number');
  return Number(raw);
}

/** The native chunk API: numbered chunks in any order and in parallel, instant upload by proof. */
export function registerUploadsApi(api: ApiRegistry, ctx: HttpContext, prefix: string): void {
  const base = `${prefix}/uploads`;
  const answer = async (owner: Principal, status: ChunkedStatus) => {
    const { upload } = status;
    const file = upload.fileId ? fileJson(await ctx.library.get(owner, upload.fileId)) : undefined;
    return {
      id: upload.id,
      name: upload.metadata.filename ?? '',
      size: upload.size ?? 0,
      type: upload.metadata.filetype ?? 'application/octet-stream',
      sha256: upload.expectedSha256,
      state: upload.state,
      chunkSize: upload.chunkSize!,
      chunkCount: status.chunkCount,
      receivedChunks: status.chunkCount - status.missing.length,
      missing: status.missing,
      instant: status.instant,
      expiresAt: upload.expiresAt?.toISOString() ?? null,
      ...(status.challenge ? { challenge: { ...status.challenge, expiresAt: status.challenge.expiresAt.toISOString() } } : {}),
      ...(file ? { file } : {}),
    };
  };

  api.route({
    method: 'POST', path: base, tag: TAG, body: CreateUpload,
    summary: 'Create an upload; it may complete at once (instant upload) or come with a proof-of-possession challenge',
    responses: { 201: { description: 'The upload', schema: UploadStatus }, ...errorResponses({ 400: 'Invalid request', 401: 'No valid token', 413: 'Larger than allowed', 422: 'sha256 impossible for the size' }) },
  }, async ({ principal, body, reply }) => {
    const status = await ctx.chunked.create(principal!, body);
    await reply.code(201).send(await answer(principal!, status));
  });

  api.route({
    method: 'GET', path: `${base}/:id`, tag: TAG, summary: 'State of an upload and the chunks still missing',
    responses: { 200: { description: 'The upload', schema: UploadStatus }, ...errorResponses({ 401: 'No valid token', 404: 'No such upload' }) },
  }, async ({ principal, params, reply }) => {
    await reply.send(await answer(principal!, await ctx.chunked.status(principal!, params.id!)));
  });

  api.route({
    method: 'PUT', path: `${base}/:id/chunks/:index`, tag: TAG,
    summary: 'Store one chunk at its offset; chunks may come in any order and in parallel, and re-sending a stored chunk is harmless',
    rawBody: { mediaType: 'application/octet-stream', description: 'The chunk: exactly chunkSize bytes, the last chunk the remainder' },
    headers: [
      { name: 'Content-Digest', description: 'RFC 9530, e.g. `sha-256=:<base64>:`; this or Content-MD5 is required' },
      { name: 'Content-MD5', description: 'base64 MD5 of the chunk' },
    ],
    responses: {
      200: { description: 'Stored (or already stored)', schema: UploadStatus },
      ...errorResponses({ 400: 'Bad index, length or digest, or the digest does not match', 401: 'No valid token', 404: 'No such upload', 409: 'The upload is paused' }),
    },
  }, async ({ principal, params, request, reply }) => {
    const index = chunkIndex(params.index);
    const digests = chunkDigests(request);
    if (digests.length === 0) throw new FerryError('invalid_digest', 'send Content-Digest (sha-256) or Content-MD5 with each chunk');
    const status = await ctx.chunked.putChunk(principal!, params.id!, index, { body: request.raw, contentLength: contentLength(request), digests });
    await reply.send(await answer(principal!, status));
  });

  api.route({
    method: 'POST', path: `${base}/:id/chunks/:index/presign`, tag: TAG,
    summary: 'A presigned URL to PUT one chunk straight to object storage (S3 storage only); then confirm it with `/uploaded`',
    responses: {
      200: { description: 'Where to send the chunk', schema: ChunkTarget },
      ...errorResponses({ 400: 'Bad index, chunk already stored, or the storage takes no direct uploads (local disk)', 401: 'No valid token', 404: 'No such upload', 409: 'The upload is paused' }),
    },
  }, async ({ principal, params, reply }) => {
    const target = await ctx.chunked.presignChunk(principal!, params.id!, chunkIndex(params.index));
    await reply.send({ ...target, headers: { ...target.headers }, expiresAt: target.expiresAt.toISOString() });
  });

  api.route({
    method: 'POST', path: `${base}/:id/chunks/:index/uploaded`, tag: TAG, body: ChunkUploaded,
    summary: 'Record a chunk sent through its presigned URL, once its size and MD5 as stored check out',
    responses: {
      200: { description: 'Recorded (or already recorded)', schema: UploadStatus },
      ...errorResponses({
        400: 'Bad index; the stored chunk has the wrong size or MD5 (nothing is recorded: send it again); or the storage takes no direct uploads',
        401: 'No valid token', 404: 'No such upload', 409: 'The chunk has not reached storage, or the upload is paused',
      }),
    },
  }, async ({ principal, params, body, reply }) => {
    await reply.send(await answer(principal!, await ctx.chunked.confirmChunk(principal!, params.id!, chunkIndex(params.index), { md5: body.md5 })));
  });

  api.route({
    method: 'POST', path: `${base}/:id/complete`, tag: TAG,
    summary: 'Check that every chunk is stored and the SHA-256 matches, then add the file to the library',
    responses: {
      200: { description: 'Completed; `file` is the new library file', schema: UploadStatus },
      ...errorResponses({ 401: 'No valid token', 404: 'No such upload', 409: 'Chunks are missing', 422: 'The SHA-256 differs from the declared one: the upload is discarded' }),
    },
  }, async ({ principal, params, reply }) => {
    await reply.send(await answer(principal!, await ctx.chunked.complete(principal!, params.id!)));
  });

  api.route({
    method: 'POST', path: `${base}/:id/proof`, tag: TAG, body: Proof,
    summary: 'Answer the proof-of-possession challenge; a right answer completes the upload, anything else leaves it open',
    responses: { 200: { description: 'The upload, completed or still open', schema: UploadStatus }, ...errorResponses({ 400: 'No open challenge', 401: 'No valid token', 404: 'No such upload' }) },
  }, async ({ principal, params, body, reply }) => {
    await reply.send(await answer(principal!, await ctx.chunked.prove(principal!, params.id!, body.proof)));
  });

  api.route({
    method: 'PATCH', path: `${base}/:id`, tag: TAG, body: StateChange, summary: 'Pause or resume an upload',
    responses: { 200: { description: 'The upload', schema: UploadStatus }, ...errorResponses({ 400: 'Already complete', 401: 'No valid token', 404: 'No such upload' }) },
  }, async ({ principal, params, body, reply }) => {
    await reply.send(await answer(principal!, await ctx.chunked.setPaused(principal!, params.id!, body.state === 'paused')));
  });

  api.route({
    method: 'DELETE', path: `${base}/:id`, tag: TAG, summary: 'Cancel an upload and free its space',
    responses: { 204: { description: 'Cancelled' }, ...errorResponses({ 401: 'No valid token', 404: 'No such upload' }) },
  }, async ({ principal, params, reply }) => {
    await ctx.chunked.cancel(principal!, params.id!);
    await reply.code(204).send();
  });
}
