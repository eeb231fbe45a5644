import { FerryError } from '../../core/errors.js';
import type { StoredFile } from '../../core/file.js';
import { cleanFileName, parseFileName } from '../../core/names.js';
import type { Principal } from '../../core/principal.js';
import type { HttpContext } from '../context.js';
import { sendFile } from '../download.js';
import type { HttpReply, HttpRequest } from '../exchange.js';
import { FAST_UPLOAD_DONE, FAST_UPLOAD_NOT_FOUND, fileMeta, respMsg, userFile, type UserFileJson } from './answers.js';
import { filestorePrincipal } from './auth.js';
import { readParams, type Params } from './params.js';

/** As many files as the files API lists in one page. */
const MAX_LIMIT = 1000;

/** The caller and the request's parameters, from the query and a form body. */
async function callOf(ctx: HttpContext, request: HttpRequest): Promise<{ owner: Principal; params: Params }> {
  const params = await readParams(request);
  return { owner: await filestorePrincipal(ctx, request, params), params };
}

/**
 * The caller's file named by `filehash`: their most recently added file with that content. An
 * unknown hash and another user's are answered alike, 404.
 */
async function fileByHash(ctx: HttpContext, owner: Principal, params: Params): Promise<{ file: StoredFile; sha1: string }> {
  const sha1 = params.sha1('filehash');
  const file = await ctx.library.findOwnedBySha1(owner, sha1);
  if (!file) throw new FerryError('file_not_found', 'no file of yours has this filehash');
  return { file, sha1 };
}

/** GET|POST /file/meta?filehash=: the course's FileMeta, bare (not in a RespMsg), as the course answers it. */
export async function meta(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const { owner, params } = await callOf(ctx, request);
  const { file, sha1 } = await fileByHash(ctx, owner, params);
  await reply.send(fileMeta(file, sha1));
}

/**
 * GET|POST /file/query?limit=: the caller's newest files first, as a bare array of the course's
 * UserFile. A file whose SHA-1 the background job has not computed yet gets it computed now.
 */
export async function query(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const { owner, params } = await callOf(ctx, request);
  const limit = params.count('limit');
  if (limit < 1 || limit > MAX_LIMIT) throw new FerryError('invalid_request', `limit must be from 1 to ${MAX_LIMIT}`);
  const { files } = await ctx.library.list(owner, { sort: 'time', order: 'desc', nameContains: null, folder: null, limit, offset: 0 });
  const username = (await ctx.accounts.getUser(owner.userId))?.username ?? '';
  const listed: UserFileJson[] = [];
  for (const file of files) {
    const sha1 = file.sha1 ?? (await ctx.library.ensureDigests(file.sha256))?.sha1;
    // Null only when the file was deleted while the page was read: it is not listed.
    if (sha1) listed.push(userFile(username, file, sha1));
  }
  // A bare JSON array, as the course answers: the reply's JSON encoding takes objects only.
  await reply.type('application/json; charset=utf-8').send(JSON.stringify(listed));
}

/** GET|HEAD|POST /file/download?filehash=: the bytes, with ranges and validators like every Ferry download. */
export async function download(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const { owner, params } = await callOf(ctx, request);
  const { file } = await fileByHash(ctx, owner, params);
  await sendFile(ctx, request, reply, file);
}

/**
 * POST /file/update (op=0, filehash, filename): renames the file, answering the course's bare
 * FileMeta. op 0 (rename) is the only operation; any other is refused with 403, as the course does.
 */
export async function update(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const { owner, params } = await callOf(ctx, request);
  if (params.get('op') !== '0') throw new FerryError('invalid_request', 'op must be 0 (rename), the only operation', { status: 403 });
  const name = parseFileName(params.required('filename'));
  const { file, sha1 } = await fileByHash(ctx, owner, params);
  await reply.send(fileMeta(await ctx.library.rename(owner, file.id, name), sha1));
}

/** POST|DELETE /file/delete?filehash=: deletes the file (its content stays while other files name it). */
export async function remove(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const { owner, params } = await callOf(ctx, request);
  const { file } = await fileByHash(ctx, owner, params);
  await ctx.library.remove(owner, file.id);
  await reply.send(respMsg());
}

/**
 * POST /file/fastupload (filehash, filename, filesize): instant upload. A new file from content
 * the caller already owns with this SHA-1 and size; from anyone's content within the dedup scope
 * only when the operator set FERRY_FILESTORE_TRUST_CLIENT_HASHES. Otherwise the course's "upload
 * normally" answer (code -1), with 404: whether someone else has the content is never told.
 */
export async function fastUpload(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const { owner, params } = await callOf(ctx, request);
  const sha1 = params.sha1('filehash');
  const size = params.count('filesize');
  const name = cleanFileName(params.required('filename'), sha1);
  const upload = await ctx.chunked.completeFromSha1(owner, { name, size, sha1, trustSha1: ctx.config.filestoreTrustClientHashes });
  if (!upload?.fileId) throw new FerryError('file_not_found', FAST_UPLOAD_NOT_FOUND);
  const file = await ctx.library.find(owner, upload.fileId);
  await reply.send(respMsg(fileMeta(file, sha1), FAST_UPLOAD_DONE));
}
