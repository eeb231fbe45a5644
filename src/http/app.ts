import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { UploadService } from '../core/uploads.js';
import type { HttpContext } from './context.js';
import { registerCors } from './cors.js';
import { sendError } from './errors.js';
import { fileRoutes } from './files-routes.js';
import { registerMetrics } from './metrics.js';

const OVERRIDABLE = new Set(['PATCH', 'DELETE', 'HEAD', 'GET', 'POST', 'OPTIONS']);

/** The HTTP edge: protocols, health, metrics, error mapping and one log line per request. */
export function buildApp(config: Config, uploads: UploadService): FastifyInstance {
  const ctx: HttpContext = { uploads, config };
  const app = Fastify({
    logger: { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    exposeHeadRoutes: false,
    bodyLimit: 1024 * 1024,
    requestTimeout: 0,
    // Malformed URLs and over-long ids are client errors like any other, answered the same way.
    frameworkErrors: (err, request, reply) => sendError(ctx, request, reply, err),
    // tus allows clients that cannot send PATCH or DELETE to tunnel them through POST.
    serverFactory: (handler) =>
      createServer((request: IncomingMessage, response: ServerResponse) => {
        const override = request.headers['x-http-method-override'];
        if (request.method === 'POST' && typeof override === 'string' && OVERRIDABLE.has(override.toUpperCase())) {
          request.method = override.toUpperCase();
        }
        handler(request, response);
      }),
  });

  app.setErrorHandler((err, request, reply) => sendError(ctx, request, reply, err));
  app.setNotFoundHandler((request, reply) =>
    sendError(ctx, request, reply, Object.assign(new Error('no such resource'), { statusCode: 404 })),
  );
  app.addHook('onResponse', async (request, reply) => {
    const path = request.url.split('?')[0];
    request.log.info({ method: request.method, path, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  registerCors(app, config.corsOrigins);
  registerMetrics(app, uploads.events);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await uploads.ready();
      return { status: 'ready' };
    } catch (err) {
      reply.log.warn({ err }, 'not ready');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });
  void app.register(fileRoutes, ctx);
  return app;
}
