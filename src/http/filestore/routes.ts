import { FerryError } from '../../core/errors.js';
import type { HttpContext } from '../context.js';
import type { HttpReply, HttpRequest } from '../exchange.js';
import type { Handler, Router } from '../router.js';
import { sendFailure } from './answers.js';
import { download, fastUpload, meta, query, remove, update } from './files.js';
import { completeMultipart, initMultipart, uploadPart } from './mpupload.js';
import { formUpload } from './upload.js';

type FilestoreHandler = (ctx: HttpContext, request: HttpRequest, reply: HttpReply) => Promise<void>;

/**
 * The API of the Go course project "filestore-server" and its many forks, at its own paths
 * (outside /api/v1): each route a thin adapter over the upload core and the library. Methods are
 * those the course's clients use; the course's net/http version took any method, but nothing
 * that changes data answers GET here.
 */
const ROUTES: readonly (readonly [method: string, path: string, handler: FilestoreHandler])[] = [
  ['POST', '/file/upload', formUpload],
  ['GET', '/file/meta', meta],
  ['POST', '/file/meta', meta],
  ['GET', '/file/query', query],
  ['POST', '/file/query', query],
  ['GET', '/file/download', download],
  ['HEAD', '/file/download', download],
  ['POST', '/file/download', download],
  ['POST', '/file/update', update],
  ['POST', '/file/delete', remove],
  ['DELETE', '/file/delete', remove],
  ['POST', '/file/fastupload', fastUpload],
  ['POST', '/file/mpupload/init', initMultipart],
  ['POST', '/file/mpupload/uppart', uploadPart],
  ['POST', '/file/mpupload/complete', completeMultipart],
];

export function registerFilestoreRoutes(router: Router, ctx: HttpContext): void {
  for (const [method, path, handler] of ROUTES) router.on(method, path, answeringFailures(ctx, handler));
}

/**
 * Domain errors become the course's failure answer (code, msg) with their HTTP status; anything
 * else is a bug and goes on to the app's handler, which logs it and answers 500.
 */
function answeringFailures(ctx: HttpContext, handler: FilestoreHandler): Handler {
  return async (request, reply) => {
    try {
      await handler(ctx, request, reply);
    } catch (err) {
      if (!(err instanceof FerryError) || reply.sent) throw err;
      await sendFailure(request, reply, err);
    }
  };
}
