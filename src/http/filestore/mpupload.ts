import type { Readable } from 'node:stream';
import { MAX_CHUNKS, type ChunkedStatus } from '../../core/chunked.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import type { StoredFile } from '../../core/file.js';
import { cleanFileName } from '../../core/names.js';
import type { HttpContext } from '../context.js';
import type { HttpReply, HttpRequest } from '../exchange.js';
import { contentLength } from '../headers.js';
import { fileMeta, respMsg, type MultipartUploadInfoJson } from './answers.js';
import { callerBeforeBody, filestorePrincipal } from './auth.js';
import { receiveFormFile } from './form.js';
import { isMultipart, Params, queryPairs, readParams } from './params.js';

/** The course's part size. A file that would need more parts than storage allows gets larger ones. */
export const COURSE_CHUNK_SIZE = 5 * 1024 * 1024;
const MIB = 1024 * 1024;

/**
 * POST /file/mpupload/init (filehash, filesize): a chunked upload cut into parts of ChunkSize,
 * ceil(filesize / ChunkSize) of them (the course's integer division dropped the last, short part).
 * The declared SHA-1 is kept with the upload and checked when it completes.
 */
export async function initMultipart(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const params = await readParams(request);
  const owner = await filestorePrincipal(ctx, request, params);
  const sha1 = params.sha1('filehash');
  const size = params.count('filesize');
  const status = await ctx.chunked.create(owner, {
    // The course names the file only at completion; until then it goes by its hash.
    name: cleanFileName(params.get('filename'), sha1),
    size,
    chunkSize: Math.max(COURSE_CHUNK_SIZE, Math.ceil(size / MAX_CHUNKS / MIB) * MIB),
    layout: 'ceil',
    metadata: { filehash: sha1 },
  });
  await reply.send(respMsg(uploadInfo(status, sha1)));
}

/**
 * POST /file/mpupload/uppart?uploadid=&index=: one part, numbered from 1 as every course client
 * counts, as the raw body (what the course's clients send, even when they label it
 * multipart/form-data) or as the file of a real multipart form. Written in place; parts may come
 * in any order and in parallel, and a part already stored is not written again. An optional
 * `chkhash` (the part's SHA-1, sent by the course's later web client) must match.
 */
export async function uploadPart(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const query = Params.of(queryPairs(request));
  const caller = await callerBeforeBody(ctx, request, query);
  const store = async (params: Params, body: Readable, length: number | null) => {
    const owner = caller ?? (await filestorePrincipal(ctx, request, params));
    const id = params.required('uploadid');
    const index = params.count('index');
    const chkhash = params.optionalSha1('chkhash');
    const { chunkCount } = await ctx.chunked.status(owner, id);
    if (index < 1 || index > chunkCount) {
      throw new FerryError('chunk_out_of_range', chunkCount === 0
        ? 'this upload has no parts: complete it'
        : `index must be from 1 to ${chunkCount}: parts are numbered from 1`);
    }
    await ctx.chunked.putChunk(owner, id, index - 1, {
      body,
      contentLength: length,
      digests: chkhash === null ? [] : [{ algorithm: 'sha1', digest: Buffer.from(chkhash, 'hex') }],
      firstNumber: 1,
    });
  };
  if (isMultipart(request)) {
    await receiveFormFile(request, null, (fields, part) => store(query.with(fields), part.stream, null));
  } else {
    await store(query, request.raw, contentLength(request));
  }
  await reply.send(respMsg());
}

/**
 * POST /file/mpupload/complete (uploadid, filehash, filesize, filename): once every part is
 * stored, checks the file's SHA-1 against filehash and adds it to the library as `filename`. The
 * parts were written in place, so nothing is merged: this is the chunked core's completion.
 */
export async function completeMultipart(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const params = await readParams(request);
  const owner = await filestorePrincipal(ctx, request, params);
  const id = params.required('uploadid');
  const { upload } = await ctx.chunked.status(owner, id);
  const size = params.optionalCount('filesize');
  if (size !== null && size !== upload.size) {
    throw new FerryError('invalid_request', `filesize ${size} contradicts the ${upload.size} bytes given at init`);
  }
  const initial = upload.metadata.filehash ?? null;
  const declared = params.optionalSha1('filehash');
  if (declared !== null && initial !== null && declared !== initial) {
    throw new FerryError('invalid_request', `filehash ${declared} contradicts the ${initial} given at init`);
  }
  const sha1 = declared ?? initial;
  const rawName = params.get('filename');
  const name = rawName === null ? null : cleanFileName(rawName, upload.metadata.filename ?? sha1 ?? 'upload');

  let status: ChunkedStatus;
  try {
    status = await ctx.chunked.complete(owner, id, { sha1, name });
  } catch (err) {
    if (!isFerryError(err, 'upload_incomplete')) throw err;
    const missing = (err.details.missing as number[]).map((index) => index + 1);
    throw new FerryError('upload_incomplete', `${missing.length} of ${upload.chunkCount} parts are still missing`, { details: { missing } });
  }
  let file: StoredFile = await ctx.library.find(owner, status.upload.fileId!);
  // An empty file completed as it was created, before any hash or name could be checked.
  const digests = await ctx.library.ensureDigests(file.sha256);
  if (!digests) throw new FerryError('file_not_found', 'the file was deleted as it was completed');
  if (sha1 !== null && digests.sha1 !== sha1) {
    await ctx.library.remove(owner, file.id);
    throw new FerryError('sha1_mismatch', `the file's SHA-1 is ${digests.sha1}, not the declared ${sha1}`);
  }
  if (name !== null && file.name !== name) file = await ctx.library.rename(owner, file.id, name);
  await reply.send(respMsg(fileMeta(file, digests.sha1)));
}

function uploadInfo(status: ChunkedStatus, sha1: string): MultipartUploadInfoJson {
  const { upload, chunkCount, missing } = status;
  const absent = new Set(missing);
  const exists: number[] = [];
  for (let index = 0; index < chunkCount; index += 1) if (!absent.has(index)) exists.push(index + 1);
  return {
    FileHash: sha1,
    FileSize: upload.size ?? 0,
    UploadID: upload.id,
    UploadId: upload.id,
    ChunkSize: upload.chunkSize ?? COURSE_CHUNK_SIZE,
    ChunkCount: chunkCount,
    ChunkExists: exists,
  };
}
