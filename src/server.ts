import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { AccountService } from './core/accounts.js';
import type { ChunkedUploads } from './core/chunked.js';
import type { LibraryService } from './core/library.js';
import { blobTransferOf } from './core/tiering.js';
import { Webhooks } from './core/webhooks.js';
import type { UploadService } from './core/uploads.js';
import { buildApp } from './http/app.js';
import { OPERATIONAL_PATHS } from './http/drain.js';
import { Deliverer } from './jobs/deliveries.js';
import { FERRY_JOB_KINDS, FERRY_JOBS, runFerryJobs } from './jobs/ferry-jobs.js';
import { InProcessJobQueue, type JobQueue } from './jobs/queue.js';
import type { MetaStore } from './meta/types.js';
import { wireServices } from './services.js';

/**
 * After the grace period, how long the cut requests get to flush their bytes, record their offsets
 * and answer before every connection is closed (a download to a slow client is simply cut).
 */
const CUT_FLUSH_MS = 5_000;
/** Failed deliveries come due on their own schedule: the outbox is looked at often, and cheaply. */
const DELIVERY_POLL_MS = 1_000;

export interface RunningServer {
  readonly log: Logger;
  readonly uploads: UploadService;
  readonly chunked: ChunkedUploads;
  readonly library: LibraryService;
  readonly accounts: AccountService;
  /** The metadata store, for tests and tools that set up records no API creates. */
  readonly meta: MetaStore;
  /** Where background jobs go: in this process, or RabbitMQ with FERRY_AMQP_URL. */
  readonly jobs: JobQueue;
  /** Base URL the server listens on, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  close(): Promise<void>;
}

/** Wires the configured services, starts the background jobs and listens. */
export async function startServer(config: Config): Promise<RunningServer> {
  const wired = await wireServices(config);
  const { meta, events, uploads, library, accounts, tiering } = wired;
  await uploads.ready();
  const readiness = new Map(Object.entries(wired.readiness));
  const { server, log, drain } = buildApp(config, wired, readiness);
  readiness.set('shutdown', () => (drain.draining ? Promise.reject(new Error('shutting down')) : Promise.resolve()));
  const jobs: JobQueue = config.amqpUrl
    ? (await import('./jobs/amqp.js')).AmqpJobQueue.start({ url: config.amqpUrl, prefix: config.amqpPrefix, kinds: FERRY_JOB_KINDS, log })
    : new InProcessJobQueue(log, FERRY_JOB_KINDS);
  // Without the broker a node still takes uploads (jobs are held until it is back): only a worker,
  // which is there for the jobs, leaves the load balancer's rotation.
  readiness.set('jobs', config.role === 'worker' ? () => jobs.ping() : () => jobs.ping().then(() => undefined, () => 'degraded' as const));
  // Callbacks are signed with their business server's token, webhooks with the webhook secret.
  const deliverer = new Deliverer(meta.outbox, { secretFor: (url) => wired.fupload.servers.secretFor(url) ?? config.webhookSecret ?? '' });
  // An api node only publishes: the jobs run on the worker nodes (or, without a broker, on nodes that share its database).
  if (config.role !== 'api') {
    runFerryJobs(jobs, {
      [FERRY_JOBS.expiredUploads]: () => uploads.sweepExpired(),
      [FERRY_JOBS.unreferencedBytes]: () => library.sweepUnreferenced(),
      // Reading whole files for SHA-1 and MD5 would compete with the uploads streaming in: it waits
      // for a pass when none is (they are for compatibility protocols, which ask for them on demand).
      [FERRY_JOBS.digests]: () => (uploads.streamingCount > 0 ? Promise.resolve(0) : library.fillDigests()),
      [FERRY_JOBS.expiredTokens]: () => accounts.sweepExpired(),
      [FERRY_JOBS.deliveries]: () => deliverer.run(),
      // Each blob due to move is a job of its own, so the copies spread over the workers.
      [FERRY_JOBS.tiering]: async () => {
        const transfers = (await tiering?.planDue()) ?? [];
        for (const transfer of transfers) await jobs.publish({ kind: FERRY_JOBS.blobTransfer, payload: transfer });
        return transfers.length;
      },
    }, {
      [FERRY_JOBS.blobTransfer]: async (job) => ((await tiering?.transfer(blobTransferOf(job.payload))) ? 1 : 0),
    }, { sweepEveryMs: config.expirySweepSeconds * 1000, deliveryEveryMs: DELIVERY_POLL_MS });
  }
  const kick = (kind: string) => () => void jobs.publish({ kind });
  if (config.webhookUrls.length > 0) {
    new Webhooks(meta.outbox, { urls: config.webhookUrls, progressIntervalMs: config.webhookProgressSeconds * 1000 })
      .attach(events, library, kick(FERRY_JOBS.deliveries));
  }
  wired.fupload.tasks.attach(events, library, meta.outbox, kick(FERRY_JOBS.deliveries));
  if (config.role === 'worker') onlyOperationalRoutes(server);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // Nothing keeps running (a broker reconnecting, a timer) for a server that never started.
    await jobs.close();
    await wired.close();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    log,
    uploads,
    chunked: wired.chunked,
    library,
    accounts,
    meta,
    jobs,
    url: `http://${host}:${port}`,
    close: async () => {
      // No new connections, no new requests on open ones; the requests in flight go on for a while.
      drain.begin();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (!(await drain.settled(config.shutdownGraceSeconds * 1000))) {
        // Cut like a client that went away: each streaming body keeps its durable bytes and records
        // its offset, releases its lock, and the client resumes on another node.
        uploads.stopAppends();
        await drain.settled(CUT_FLUSH_MS);
      }
      server.closeAllConnections();
      await closed;
      await jobs.close();
      await wired.close();
    },
  };
}

/** A worker node answers health, readiness and metrics; every other path is not found. */
function onlyOperationalRoutes(server: Server): void {
  const handlers = server.listeners('request') as ((request: IncomingMessage, response: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0]!;
    if (OPERATIONAL_PATHS.has(path)) {
      for (const handler of handlers) handler(request, response);
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
    response.end(JSON.stringify({ error: { code: 'not_found', message: 'this is a worker node: it serves only /healthz, /readyz and /metrics' } }));
  });
}
