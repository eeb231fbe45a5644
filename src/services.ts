import { join } from 'node:path';
import type { Config } from './config.js';
import { AccountService } from './core/accounts.js';
import { BlobStores } from './core/blob-stores.js';
import { BlockUploads } from './core/block-uploads.js';
import { ChunkedUploads } from './core/chunked.js';
import { UploadEventBus } from './core/events.js';
import { LibraryService } from './core/library.js';
import { NamedUploads } from './core/named-uploads.js';
import { BlobTiering } from './core/tiering.js';
import { UploadService } from './core/uploads.js';
import { HttpPreCreateHook } from './hooks/http-pre-create.js';
import type { ReadinessCheck, Services } from './http/app.js';
import { BusinessServers } from './http/fupload/clients.js';
import { FuploadTasks } from './http/fupload/tasks.js';
import { requestLimiters } from './limits/request-limiters.js';
import { MemoryLocker } from './locks/memory.js';
import { openMetaStore } from './meta/open.js';
import type { MetaStore } from './meta/types.js';
import { LocalBlobStore } from './storage/local.js';
import type { BlobStore } from './storage/types.js';

export interface Wired extends Services {
  readonly meta: MetaStore;
  readonly store: BlobStore;
  readonly events: UploadEventBus;
  /** What /readyz asks about, by name: the metadata store, blob storage (and the tier store) and the locker. */
  readonly readiness: Readonly<Record<string, ReadinessCheck>>;
  /** Moves completed blobs to the tier store; null when none is configured. */
  readonly tiering: BlobTiering | null;
  /** Closes the connections to the services, once nothing uses them any more. */
  close(): Promise<void>;
}

/**
 * Builds Ferry's parts from the config: the embedded defaults (SQLite, local disk, in-process
 * locks), or the shared services several nodes use together (PostgreSQL, S3, Redis).
 */
export async function wireServices(config: Config): Promise<Wired> {
  // With PostgreSQL, every node shares the records: uploads, accounts and the library.
  const meta: MetaStore = await openMetaStore(config);
  // With S3, every node reads and writes the same blobs.
  // Drivers are loaded only when used: each costs start-up time, and a resident heap that every
  // garbage collection then walks while uploads stream in (measured on a 512 MiB upload).
  const s3 = config.storage === 's3' || config.tierStorage === 's3' ? (await import('./storage/s3/index.js')).openS3BlobStore(config) : null;
  const local = () => new LocalBlobStore(join(config.dataDir, 'blobs'), { directIo: config.localDirectIo });
  const store = config.storage === 's3' ? s3!.store : local();
  // Completed blobs may move on to the other store (tiering.ts); reads find them in either.
  const tier = config.tierStorage === null ? null : { name: config.tierStorage, store: config.tierStorage === 's3' ? s3!.store : local() };
  const stores = new BlobStores(store, tier ? { [tier.name]: tier.store } : {});
  // With Redis, locks span every node on it, so a client may resume on any of them.
  const redisLocker = config.redisUrl ? new (await import('./locks/redis.js')).RedisLocker(config.redisUrl, { ttlMs: config.lockTtlMs }) : null;
  const locker = redisLocker ?? new MemoryLocker();
  const events = new UploadEventBus();
  const library = new LibraryService({ stores, meta, events, locker });
  const accounts = new AccountService({ meta });
  const uploads = new UploadService({
    store,
    meta,
    library,
    locker,
    events,
    preCreate: config.preCreateHookUrl ? new HttpPreCreateHook(config.preCreateHookUrl, config.webhookSecret!) : undefined,
    limits: {
      maxSize: config.maxUploadSize,
      expiryMs: config.uploadExpirySeconds * 1000,
      lockTimeoutMs: config.lockTimeoutMs,
      checkpointBytes: config.checkpointBytes,
      quotaBytes: config.quotaBytes,
      maxOpenUploads: config.maxOpenUploads,
    },
  });
  const chunked = new ChunkedUploads({ uploads, library, store, meta, dedupScope: config.dedupScope, defaultChunkSize: config.defaultChunkSize });
  const blocks = new BlockUploads({ uploads, library, meta, store });
  const servers = new BusinessServers(config.fuploadClients);
  const limiters = await requestLimiters(config);
  return {
    meta,
    store,
    events,
    readiness: {
      meta: () => meta.ping(),
      storage: () => store.ping(),
      locks: () => locker.ping(),
      ...(tier && { tier: () => tier.store.ping() }),
    },
    tiering: tier && new BlobTiering({ meta, stores, locker, policy: { to: tier.name, afterMs: config.tierAfterSeconds * 1000 } }),
    uploads,
    chunked,
    library,
    accounts,
    limiters,
    named: { flow: new NamedUploads('flow', { chunked, uploads, meta }) },
    fupload: { servers, blocks, tasks: new FuploadTasks({ servers, accounts, uploads, blocks, meta }) },
    close: async () => {
      await redisLocker?.close();
      await limiters.close();
      await meta.close();
      s3?.close();
    },
  };
}
