import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FILES_PREFIX, routeId, type HttpContext } from './context.js';
import { download } from './download.js';
import * as ietf from './ietf/handlers.js';
import * as tus from './tus/handlers.js';

/**
 * A HEAD without Tus-Resumable is the HEAD of the download, as HTTP defines it, once there is
 * something to download; before that it is a tus request missing its version (412).
 */
async function plainHead(ctx: HttpContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const upload = await ctx.uploads.get(routeId(request));
  if (upload.state !== 'completed') tus.requireTusResumable(request);
  await download(ctx, request, reply);
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * tus 1.0 and the IETF resumable-upload draft share one endpoint; the draft's interop-version
 * header decides which protocol a request speaks.
 */
export async function fileRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  // Upload bodies are streamed by the handlers themselves, whatever their media type: no built-in
  // parser (JSON, text) may read them first. Fastify scopes this to the routes of this plugin.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers['upload-draft-interop-version'] === undefined) reply.header('Tus-Resumable', tus.TUS_VERSION);
  });

  const either = (forTus: Handler, forIetf: (request: FastifyRequest, reply: FastifyReply, version: number) => Promise<void>): Handler =>
    async (request, reply) => {
      const version = ietf.interopVersion(request);
      if (version === null) await forTus(request, reply);
      else await forIetf(request, reply, version);
      // Returning the reply tells Fastify the handler answered, even while a stream is still flowing.
      return reply;
    };

  const options: Handler = async (_request, reply) => {
    tus.describeServer(ctx, reply);
    return reply.header('Upload-Limit', ietf.uploadLimit(ctx, 8)).code(204).send();
  };
  app.options(FILES_PREFIX, options);
  app.options(`${FILES_PREFIX}/:id`, options);

  app.post(FILES_PREFIX, either(
    (request, reply) => tus.create(ctx, request, reply),
    (request, reply, version) => ietf.create(ctx, request, reply, version),
  ));
  app.head(`${FILES_PREFIX}/:id`, either(
    (request, reply) => (request.headers['tus-resumable'] === undefined ? plainHead(ctx, request, reply) : tus.status(ctx, request, reply)),
    (request, reply, version) => ietf.status(ctx, request, reply, version),
  ));
  app.get(`${FILES_PREFIX}/:id`, either(
    (request, reply) => download(ctx, request, reply),
    (request, reply, version) => ietf.status(ctx, request, reply, version),
  ));
  app.patch(`${FILES_PREFIX}/:id`, either(
    (request, reply) => tus.append(ctx, request, reply),
    (request, reply, version) => ietf.append(ctx, request, reply, version),
  ));
  app.delete(`${FILES_PREFIX}/:id`, either(
    (request, reply) => tus.terminate(ctx, request, reply),
    (request, reply) => ietf.cancel(ctx, request, reply),
  ));
}
