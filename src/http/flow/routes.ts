import { Type } from '@sinclair/typebox';
import type { ChunkedStatus } from '../../core/chunked.js';
import { FerryError } from '../../core/errors.js';
import { cleanFileName, cleanMediaType } from '../../core/names.js';
import type { Principal } from '../../core/principal.js';
import type { HttpContext } from '../context.js';
import type { HttpReply, HttpRequest } from '../exchange.js';
import { contentLength, mediaType } from '../headers.js';
import type { ApiRegistry } from '../api/registry.js';
import { errorResponses, FileJson, fileJson } from '../api/schemas.js';
import { receiveMultipart } from './multipart.js';
import { parseFlowChunk, type FlowChunk } from './params.js';

const TAG = 'flow.js and resumable.js';

/** Documented for flow.js; resumable.js sends the same parameters with the `resumable` prefix. */
const FlowQuery = Type.Object({
  flowChunkNumber: Type.Optional(Type.String({ description: '1-based' })),
  flowChunkSize: Type.Optional(Type.String()),
  flowCurrentChunkSize: Type.Optional(Type.String()),
  flowTotalSize: Type.Optional(Type.String()),
  flowTotalChunks: Type.Optional(Type.String()),
  flowIdentifier: Type.Optional(Type.String({ description: "The client's name for the file, scoped to the user" })),
  flowFilename: Type.Optional(Type.String()),
  flowRelativePath: Type.Optional(Type.String({ description: 'Becomes the folder of the file in the library' })),
});

const ChunkAnswer = Type.Object({
  chunk: Type.Integer({ description: 'The chunk number just stored' }),
  receivedChunks: Type.Integer(),
  totalChunks: Type.Integer(),
  done: Type.Boolean({ description: 'True on the answer that completes the file' }),
  file: Type.Optional(FileJson),
});

/**
 * flow.js and resumable.js. Each chunk request names the file by the client's identifier; the
 * first one creates a chunked upload under that name, the one that stores the last missing chunk
 * completes it and answers with the new file. The test request answers 200 for a stored chunk and
 * 204 for a missing one (these clients treat 404 as a permanent failure).
 */
export function registerFlowRoutes(api: ApiRegistry, ctx: HttpContext, prefix: string): void {
  const path = `${prefix}/flow`;

  api.route({
    method: 'GET', path, tag: TAG, query: FlowQuery, summary: 'Is this chunk already stored? (testChunks)',
    responses: { 200: { description: 'Stored: do not send it' }, 204: { description: 'Not stored: send it' }, ...errorResponses({ 400: 'Inconsistent parameters', 401: 'No valid token' }) },
  }, async ({ principal, request, reply }) => {
    const chunk = parseFlowChunk(queryOf(request));
    const status = await ctx.named.flow.find(principal!, chunk.identifier, { size: chunk.totalSize, chunkSize: chunk.chunkSize, layout: chunk.layout });
    const stored = status !== null && (status.upload.state === 'completed' || !status.missing.includes(chunk.chunkNumber - 1));
    await reply.code(stored ? 200 : 204).send();
  });

  api.route({
    method: 'POST', path, tag: TAG, query: FlowQuery,
    summary: 'Store one chunk: multipart/form-data with the parameters as fields and the chunk in `file`, or the raw chunk with the parameters in the query',
    rawBody: { mediaType: 'multipart/form-data', description: 'Parameter fields, then the chunk in the field `file` (or application/octet-stream with the parameters in the query)' },
    responses: { 200: { description: 'Stored; the answer that completes the file carries it', schema: ChunkAnswer }, ...errorResponses({ 400: 'Inconsistent parameters, or a short chunk', 401: 'No valid token', 409: 'Paused' }) },
  }, async ({ principal, request, reply }) => {
    const answer = mediaType(request) === 'multipart/form-data'
      ? await receiveMultipart(request, 'file', (fields, file) => storeChunk(ctx, principal!, { ...queryOf(request), ...fields }, file.stream, null, file.mimeType))
      : await storeChunk(ctx, principal!, queryOf(request), request.raw, contentLength(request), octetType(request));
    await sendAnswer(reply, answer);
  });
}

interface Stored {
  readonly chunk: FlowChunk;
  readonly status: ChunkedStatus;
  readonly file?: ReturnType<typeof fileJson>;
}

async function storeChunk(
  ctx: HttpContext, owner: Principal, params: Record<string, string>, body: NodeJS.ReadableStream & import('node:stream').Readable,
  length: number | null, partType: string | null,
): Promise<Stored> {
  const chunk = parseFlowChunk(params);
  let status = await ctx.named.flow.findOrCreate(owner, chunk.identifier, {
    name: cleanFileName(chunk.relativePath ?? chunk.filename, 'upload'),
    size: chunk.totalSize,
    type: cleanMediaType(chunk.type ?? partType),
    chunkSize: chunk.chunkSize,
    layout: chunk.layout,
  });
  if (status.upload.state !== 'completed') {
    status = await ctx.chunked.putChunk(owner, status.upload.id, chunk.chunkNumber - 1, { body, contentLength: length, digests: [], firstNumber: 1 });
    if (status.missing.length === 0 && status.upload.state !== 'completed') status = await ctx.chunked.complete(owner, status.upload.id);
  } else {
    body.resume();
  }
  const file = status.upload.fileId ? fileJson(await ctx.library.get(owner, status.upload.fileId)) : undefined;
  return { chunk, status, ...(file ? { file } : {}) };
}

async function sendAnswer(reply: HttpReply, { chunk, status, file }: Stored): Promise<void> {
  await reply.send({
    chunk: chunk.chunkNumber,
    receivedChunks: status.chunkCount - status.missing.length,
    totalChunks: status.chunkCount,
    done: status.upload.state === 'completed',
    ...(file ? { file } : {}),
  });
}

/** The query's parameters; a name given twice with different values is refused rather than one picked. */
function queryOf(request: HttpRequest): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of request.query) {
    if (Object.hasOwn(params, name) && params[name] !== value) throw new FerryError('invalid_request', `contradictory values for ${name}`);
    params[name] = value;
  }
  return params;
}

/** flow.js sends an octet chunk with the file's own type; resumable.js says only application/octet-stream. */
function octetType(request: HttpRequest): string | null {
  const type = mediaType(request);
  return type === null || type === 'application/octet-stream' ? null : type;
}
