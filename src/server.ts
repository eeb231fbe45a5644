import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { AccountService } from './core/accounts.js';
import type { ChunkedUploads } from './core/chunked.js';
import type { LibraryService } from './core/library.js';
import { Webhooks } from './core/webhooks.js';
import type { UploadService } from './core/uploads.js';
import { buildApp } from './http/app.js';
import { Deliverer } from './jobs/deliveries.js';
import { startMaintenance } from './jobs/maintenance.js';
import type { MetaStore } from './meta/types.js';
import { wireServices } from './services.js';

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

/** Wires the configured services, starts the background jobs and listens. */
export async function startServer(config: Config): Promise<RunningServer> {
  const wired = await wireServices(config);
  const { meta, events, uploads, library, accounts } = wired;
  await uploads.ready();
  const { server, log } = buildApp(config, wired);
  const maintenance = startMaintenance([
    { name: 'expired uploads', run: () => uploads.sweepExpired() },
    { name: 'unreferenced bytes', run: () => library.sweepUnreferenced() },
    { name: 'digests', run: () => library.fillDigests() },
    { name: 'expired tokens', run: () => accounts.sweepExpired() },
  ], config.expirySweepSeconds * 1000, log);
  uploads.events.on('completed', () => maintenance.kick('digests'));
  // Callbacks are signed with their business server's token, webhooks with the webhook secret.
  const deliverer = new Deliverer(meta.outbox, { secretFor: (url) => wired.fupload.servers.secretFor(url) ?? config.webhookSecret ?? '' });
  // Failed deliveries come due on their own schedule: this loop looks often, and cheaply.
  const deliveries = startMaintenance([{ name: 'deliveries', run: () => deliverer.run() }], DELIVERY_POLL_MS, log);
  if (config.webhookUrls.length > 0) {
    new Webhooks(meta.outbox, { urls: config.webhookUrls, progressIntervalMs: config.webhookProgressSeconds * 1000 })
      .attach(events, library, () => deliveries.kick('deliveries'));
  }
  wired.fupload.tasks.attach(events, library, meta.outbox, () => deliveries.kick('deliveries'));
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
    chunked: wired.chunked,
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
      await wired.close();
    },
  };
}
