import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { AccountService } from './core/accounts.js';
import { ChunkedUploads } from './core/chunked.js';
import { NamedUploads } from './core/named-uploads.js';
import { UploadEventBus } from './core/events.js';
import { LibraryService } from './core/library.js';
import { Webhooks } from './core/webhooks.js';
import { HttpPreCreateHook } from './hooks/http-pre-create.js';
import { Deliverer } from './jobs/deliveries.js';
import { UploadService } from './core/uploads.js';
import { buildApp } from './http/app.js';
import { startMaintenance } from './jobs/maintenance.js';
import { MemoryLocker } from './locks/memory.js';
import { RedisLocker } from './locks/redis.js';
import type { MetaStore } from './meta/types.js';
import { PostgresMetaStore } from './meta/postgres/index.js';
import { SqliteMetaStore } from './meta/sqlite/index.js';
import { LocalBlobStore } from './storage/local.js';
import { openS3BlobStore } from './storage/s3/index.js';

const SHUTDOWN_GRACE_MS = 5_000;
const DELIVERY_POLL_MS = 1_000;

export interface RunningServer {
  readonly log: Logger;
  readonly uploads: UploadService;
  readonly chunked: ChunkedUploads;
  readonly library: LibraryService;
  readonly accounts: AccountService;
  /** The metadata store, for tests and tools that set up records no API creates. */
  readonly meta: MetaStore;
  /** Base URL the server listens on, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  close(): Promise<void>;
}

/** Wires the embedded defaults (SQLite, local disk, in-process locks and jobs) and listens. */
export async function startServer(config: Config): Promise<RunningServer> {
  // With PostgreSQL, every node shares the records: uploads, accounts and the library.
  const meta: MetaStore = config.databaseUrl
    ? await PostgresMetaStore.open(config.databaseUrl)
    : new SqliteMetaStore(join(config.dataDir, 'ferry.db'));
  // With S3, every node reads and writes the same blobs.
  const s3 = config.storage === 's3' ? openS3BlobStore(config) : null;
  const store = s3?.store ?? new LocalBlobStore(join(config.dataDir, 'blobs'));
  const events = new UploadEventBus();
  const library = new LibraryService({ store, meta, events });
  const accounts = new AccountService({ meta });
  // With Redis, locks span every node on it, so a client may resume on any of them.
  const redisLocker = config.redisUrl ? new RedisLocker(config.redisUrl) : null;
  const uploads = new UploadService({
    store,
    meta,
    library,
    locker: redisLocker ?? new MemoryLocker(),
    events,
    preCreate: config.preCreateHookUrl ? new HttpPreCreateHook(config.preCreateHookUrl, config.webhookSecret!) : undefined,
    limits: {
      maxSize: config.maxUploadSize,
      expiryMs: config.uploadExpirySeconds * 1000,
      lockTimeoutMs: config.lockTimeoutMs,
      checkpointBytes: config.checkpointBytes,
    },
  });
  const chunked = new ChunkedUploads({
    uploads, library, store, meta, dedupScope: config.dedupScope, defaultChunkSize: config.defaultChunkSize,
  });
  await uploads.ready();
  const named = { flow: new NamedUploads('flow', { chunked, uploads, meta }) };
  const { server, log } = buildApp(config, { uploads, chunked, named, library, accounts });
  const maintenance = startMaintenance([
    { name: 'expired uploads', run: () => uploads.sweepExpired() },
    { name: 'unreferenced bytes', run: () => library.sweepUnreferenced() },
    { name: 'digests', run: () => library.fillDigests() },
    { name: 'expired tokens', run: () => accounts.sweepExpired() },
  ], config.expirySweepSeconds * 1000, log);
  uploads.events.on('completed', () => maintenance.kick('digests'));
  const deliverer = new Deliverer(meta.outbox, { secretFor: () => config.webhookSecret ?? '' });
  // Failed deliveries come due on their own schedule: this loop looks often, and cheaply.
  const deliveries = startMaintenance([{ name: 'deliveries', run: () => deliverer.run() }], DELIVERY_POLL_MS, log);
  if (config.webhookUrls.length > 0) {
    new Webhooks(meta.outbox, { urls: config.webhookUrls, progressIntervalMs: config.webhookProgressSeconds * 1000 })
      .attach(events, library, () => deliveries.kick('deliveries'));
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    log,
    uploads,
    chunked,
    library,
    accounts,
    meta,
    url: `http://${host}:${port}`,
    close: async () => {
      uploads.stopAppends();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Requests that still hold on (a download to a slow client) get a short grace period.
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await maintenance.stop();
      await deliveries.stop();
      await redisLocker?.close();
      await meta.close();
      s3?.close();
    },
  };
}
