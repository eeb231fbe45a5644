import { createHash } from 'node:crypto';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import { FerryError, isFerryError } from '../../core/errors.js';
import type { ExtraDigests } from '../../core/library.js';
import { cleanFileName } from '../../core/names.js';
import type { Principal } from '../../core/principal.js';
import type { Upload } from '../../core/upload.js';
import type { HttpContext } from '../context.js';
import type { HttpReply, HttpRequest } from '../exchange.js';
import { fileMeta, respMsg } from './answers.js';
import { callerBeforeBody, filestorePrincipal } from './auth.js';
import { receiveFormFile, type FormFile } from './form.js';
import { isMultipart, Params, queryPairs } from './params.js';

/**
 * POST /file/upload: the form's `file` part streams into an upload of unknown length, which
 * completes into a file of the caller's library when the part ends. A `filehash` (query, or a
 * field before the file) is checked as the bytes arrive: a mismatch stores nothing.
 */
export async function formUpload(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  if (!isMultipart(request)) throw new FerryError('unsupported_media_type', 'send the file as multipart/form-data, in the field "file"');
  const query = Params.of(queryPairs(request));
  const caller = await callerBeforeBody(ctx, request, query);
  const answer = await receiveFormFile(request, 'file', async (fields, part) => {
    const params = query.with(fields);
    const owner = caller ?? (await filestorePrincipal(ctx, request, params));
    return storeFormFile(ctx, request, owner, part, params.optionalSha1('filehash'));
  });
  await reply.send(answer);
}

async function storeFormFile(ctx: HttpContext, request: HttpRequest, owner: Principal, part: FormFile, sha1: string | null) {
  const upload = await ctx.uploads.create(owner, {
    size: null,
    metadata: { filename: cleanFileName(part.filename, 'upload'), filetype: part.mimeType },
  });
  const tap = new DigestTap();
  pipeline(part.stream, tap, () => undefined);
  let completed: Upload;
  try {
    completed = await ctx.uploads.append(owner, upload.id, {
      offset: 0,
      body: tap,
      completes: true,
      checksum: sha1 === null ? null : { algorithm: 'sha1', digest: Buffer.from(sha1, 'hex') },
    });
  } catch (err) {
    await abandon(ctx, request, owner, upload.id);
    if (isFerryError(err, 'checksum_mismatch')) throw new FerryError('sha1_mismatch', `the file's SHA-1 is not the declared filehash ${sha1}; nothing was stored`);
    throw err;
  }
  if (completed.state !== 'completed' || completed.fileId === null) {
    await abandon(ctx, request, owner, upload.id);
    throw new FerryError('client_aborted', 'the file part ended before the form did; nothing was stored');
  }
  const file = await ctx.library.find(owner, completed.fileId);
  const digests = await ctx.library.ensureDigests(file.sha256, tap.digests());
  if (!digests) throw new FerryError('file_not_found', 'the file was deleted as it was stored');
  return respMsg(fileMeta(file, digests.sha1));
}

/** An upload this request started and will not finish: its bytes go now rather than at expiry. */
async function abandon(ctx: HttpContext, request: HttpRequest, owner: Principal, id: string): Promise<void> {
  if (!ctx.uploads.supportsTermination) return;
  await ctx.uploads.terminate(owner, id).catch((err: unknown) => request.log.warn({ err, upload: id }, 'could not end an abandoned upload'));
}

/**
 * SHA-1 and MD5 of the bytes passing through, for the course's clients, which name files by
 * SHA-1: they are recorded with the blob only when the upload completes, that is when every byte
 * that passed was stored, so nothing needs to read the file again.
 */
class DigestTap extends Transform {
  private readonly sha1 = createHash('sha1');
  private readonly md5 = createHash('md5');

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sha1.update(chunk);
    this.md5.update(chunk);
    callback(null, chunk);
  }

  digests(): ExtraDigests {
    return { sha1: this.sha1.digest('hex'), md5: this.md5.digest('hex') };
  }
}
