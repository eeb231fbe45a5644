import type { HttpReply, HttpRequest } from './exchange.js';
import type { Handler, Router } from './router.js';
import { FILES_PREFIX, routeId, type HttpContext, ownerOf } from './context.js';
import { download } from './download.js';
import * as ietf from './ietf/handlers.js';
import * as tus from './tus/handlers.js';

/**
 * A HEAD without Tus-Resumable is the HEAD of the download, as HTTP defines it, once there is
 * something to download; before that it is a tus request missing its version (412).
 */
async function plainHead(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const upload = await ctx.uploads.get(await ownerOf(ctx, request), routeId(request));
  if (upload.state !== 'completed') tus.requireTusResumable(request);
  await download(ctx, request, reply);
}

export function registerFileRoutes(router: Router, ctx: HttpContext): void {
  const either = (forTus: Handler, forIetf: (request: HttpRequest, reply: HttpReply, version: number) => Promise<void>): Handler =>
    async (request, reply) => {
      const version = ietf.interopVersion(request);
      if (version === null) {
        reply.header('Tus-Resumable', tus.TUS_VERSION);
        await forTus(request, reply);
      } else {
        await forIetf(request, reply, version);
      }
    };

  const options: Handler = async (request, reply) => {
    if (request.headers['upload-draft-interop-version'] === undefined) reply.header('Tus-Resumable', tus.TUS_VERSION);
    tus.describeServer(ctx, reply);
    await reply.header('Upload-Limit', ietf.uploadLimit(ctx, 8)).code(204).send();
  };
  router.on('OPTIONS', FILES_PREFIX, options);
  router.on('OPTIONS', `${FILES_PREFIX}/:id`, options);

  router.on('POST', FILES_PREFIX, either(
    (request, reply) => tus.create(ctx, request, reply),
    (request, reply, version) => ietf.create(ctx, request, reply, version),
  ));
  router.on('HEAD', `${FILES_PREFIX}/:id`, either(
    (request, reply) => (request.headers['tus-resumable'] === undefined ? plainHead(ctx, request, reply) : tus.status(ctx, request, reply)),
    (request, reply, version) => ietf.status(ctx, request, reply, version),
  ));
  router.on('GET', `${FILES_PREFIX}/:id`, either(
    (request, reply) => download(ctx, request, reply),
    (request, reply, version) => ietf.status(ctx, request, reply, version),
  ));
  router.on('PATCH', `${FILES_PREFIX}/:id`, either(
    (request, reply) => tus.append(ctx, request, reply),
    (request, reply, version) => ietf.append(ctx, request, reply, version),
  ));
  router.on('DELETE', `${FILES_PREFIX}/:id`, either(
    (request, reply) => tus.terminate(ctx, request, reply),
    (request, reply) => ietf.cancel(ctx, request, reply),
  ));
}
