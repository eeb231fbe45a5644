import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';
import { FerryError } from '../core/errors.js';
import type { AccountService } from '../core/accounts.js';
import type { ChunkedUploads } from '../core/chunked.js';
import type { LibraryService } from '../core/library.js';
import type { NamedUploads } from '../core/named-uploads.js';
import type { UploadService } from '../core/uploads.js';
import type { RequestLimiters } from '../limits/rate-limit.js';
import { registerApi } from './api/index.js';
import { createAuthenticator } from './auth.js';
import type { HttpContext } from './context.js';
import { applyCors } from './cors.js';
import { Drain } from './drain.js';
import { sendError } from './errors.js';
import { HttpReply, HttpRequest } from './exchange.js';
import { registerFileRoutes } from './files-routes.js';
import { registerFilestoreRoutes } from './filestore/routes.js';
import { registerFuploadRoutes, type FuploadServices } from './fupload/routes.js';
import { applyConnectionLimits, checkHeaderLimits, serverOptions, watchClient } from './limits.js';
import { checkMessage } from './message.js';
import { Metrics } from './metrics.js';
import { registerPage } from './page.js';
import { limitRequest } from './rate-limit.js';
import { Router, type Handler } from './router.js';
import { applySecurityHeaders } from './security-headers.js';

const OVERRIDABLE = new Set(['PATCH', 'DELETE', 'HEAD', 'GET', 'POST', 'OPTIONS']);
/** A service that does not answer within this is down as far as /readyz is concerned: it never hangs. */
const READY_CHECK_TIMEOUT_MS = 3_000;

/**
 * One service /readyz asks about: resolves while it can serve, rejects with why not, or resolves
 * `degraded` while it is away but the node still serves without it.
 */
export type ReadinessCheck = () => Promise<void | 'degraded'>;

export interface Services {
  readonly uploads: UploadService;
  readonly chunked: ChunkedUploads;
  readonly named: { readonly flow: NamedUploads };
  readonly fupload: FuploadServices;
  readonly library: LibraryService;
  readonly accounts: AccountService;
  readonly limiters: RequestLimiters;
}

export interface App {
  readonly server: Server;
  readonly log: Logger;
  /** The requests in flight, and the switch that starts a graceful shutdown. */
  readonly drain: Drain;
}

/**
 * The HTTP edge on node:http: protocols, health, metrics, error mapping and one log line per
 * request. (A framework was tried first; at 64 concurrent uploads its resident heap made V8 answer
 * the stream of network buffers with full collections, doubling CPU and memory. Ferry needs only a
 * few fixed routes, so it keeps the edge this small instead.)
 */
export function buildApp(config: Config, services: Services, readiness: ReadonlyMap<string, ReadinessCheck> = new Map()): App {
  const { uploads } = services;
  const ctx: HttpContext = { ...services, config, auth: createAuthenticator(config.auth, services.accounts) };
  const log = pino({ level: config.logLevel, base: undefined });
  const metrics = new Metrics(uploads.events);
  const router = new Router();
  const drain = new Drain();
  const pace = { idleMs: config.idleTimeoutSeconds * 1000, minBytesPerSecond: config.minBodyBytesPerSecond };
  registerFileRoutes(router, ctx);
  registerFilestoreRoutes(router, ctx);
  registerApi(router, ctx);
  registerFuploadRoutes(router, ctx, services.fupload);
  registerPage(router, config);
  router.on('GET', '/metrics', async (_request, reply) => {
    await reply.type(metrics.contentType).send(await metrics.render());
  });
  router.on('GET', '/healthz', async (_request, reply) => {
    await reply.send({ status: 'ok' });
  });
  // Says which service is down (meta, storage, locks, jobs), not how: the details go to the log.
  router.on('GET', '/readyz', async (request, reply) => {
    const names = [...readiness.keys()];
    const results = await Promise.allSettled(names.map((name) => withDeadline(readiness.get(name)!(), READY_CHECK_TIMEOUT_MS, name)));
    const checks: Record<string, 'ok' | 'degraded' | 'unavailable'> = {};
    const down: string[] = [];
    const degraded: string[] = [];
    results.forEach((result, index) => {
      const name = names[index]!;
      checks[name] = result.status === 'rejected' ? 'unavailable' : (result.value ?? 'ok');
      if (result.status === 'rejected') {
        down.push(name);
        request.log.warn({ err: result.reason, service: name }, 'not ready');
      } else if (result.value === 'degraded') {
        degraded.push(name);
      }
    });
    if (down.length > 0) await reply.code(503).send({ status: 'unavailable', down, checks });
    else if (degraded.length > 0) await reply.send({ status: 'degraded', degraded, checks });
    else await reply.send({ status: 'ready', checks });
  });

  const handle = async (raw: IncomingMessage, response: ServerResponse) => {
    const override = raw.headers['x-http-method-override'];
    // tus allows clients that cannot send PATCH or DELETE to tunnel them through POST.
    const tunnelled = raw.method === 'POST' && typeof override === 'string';
    const unknownOverride = tunnelled && !OVERRIDABLE.has(override.toUpperCase());
    if (tunnelled && !unknownOverride) raw.method = override.toUpperCase();
    const request = new HttpRequest(raw, log);
    const reply = new HttpReply(response);
    watchClient(raw, response, pace, (cut) => log.info({ method: request.method, path: request.path, cut }, 'client stalled; closed its connection'));
    response.once('close', () => {
      log.info({ method: request.method, path: request.path, status: response.statusCode, ms: Math.round(reply.elapsedMs) }, 'request');
    });
    metrics.track(request, reply);
    try {
      // A CORS preflight can name any API route; the CORS headers are the whole answer.
      const handler = router.match(request) ?? (request.method === 'OPTIONS' ? preflight : null);
      applyCors(request, reply, config.corsOrigins);
      drain.admit(request.path, response);
      applySecurityHeaders(reply, config);
      await limitRequest(ctx, request, reply);
      checkMessage(request);
      checkHeaderLimits(request);
      if (unknownOverride) throw new FerryError('method_not_allowed', `X-HTTP-Method-Override names a method Ferry does not take: ${override}`);
      if (!handler) throw noRoute(router, request, reply);
      await handler(request, reply);
    } catch (err) {
      if (!reply.sent) await sendError(ctx, request, reply, err);
      else response.destroy();
    }
  };

  const preflight: Handler = async (_request, reply) => {
    await reply.code(204).send();
  };
  const server = createServer(serverOptions(config), (raw, response) => drain.track(response, handle(raw, response)));
  applyConnectionLimits(server, config);
  return { server, log, drain };
}

/** 405 with Allow when the path has routes for other methods (RFC 9110 §15.5.6), else 404. */
function noRoute(router: Router, request: HttpRequest, reply: HttpReply): FerryError {
  const allowed = router.allowed(request);
  if (allowed.length === 0) return new FerryError('not_found', 'no such resource');
  reply.header('Allow', allowed.join(', '));
  return new FerryError('method_not_allowed', `${request.method} is not allowed here; allowed: ${allowed.join(', ')}`);
}

function withDeadline<T>(check: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([check, late]).finally(() => clearTimeout(timer));
}
