import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { UploadService } from './core/uploads.js';
import { buildApp } from './http/app.js';
import { startExpirySweep } from './jobs/expiry.js';
import { MemoryLocker } from './locks/memory.js';
import { SqliteMetaStore } from './meta/sqlite.js';
import { LocalBlobStore } from './storage/local.js';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly uploads: UploadService;
  /** Base URL the server listens on, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  close(): Promise<void>;
}

/** Wires the embedded defaults (SQLite, local disk, in-process locks and jobs) and listens. */
export async function startServer(config: Config): Promise<RunningServer> {
  const meta = new SqliteMetaStore(join(config.dataDir, 'ferry.db'));
  const uploads = new UploadService({
    store: new LocalBlobStore(join(config.dataDir, 'blobs')),
    meta,
    locker: new MemoryLocker(),
    limits: {
      maxSize: config.maxUploadSize,
      expiryMs: config.uploadExpirySeconds * 1000,
      lockTimeoutMs: config.lockTimeoutMs,
      checkpointBytes: config.checkpointBytes,
    },
  });
  await uploads.ready();
  const app = buildApp(config, uploads);
  const stopSweep = startExpirySweep(uploads, config.expirySweepSeconds * 1000, app.log);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    app,
    uploads,
    url: `http://${host}:${port}`,
    close: async () => {
      stopSweep();
      uploads.stopAppends();
      await app.close();
      await meta.close();
    },
  };
}
