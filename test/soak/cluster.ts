/**
 * The soak's Ferry: api nodes and a worker (separate processes, test/helpers/cluster.ts) whose
 * PostgreSQL, Redis and RabbitMQ connections all go through relays the chaos cuts, on local disk
 * (one data dir shared by every node) or on a fresh Ceph RGW bucket (reached through a relay too).
 * A sink takes the fuploadServer callbacks.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import pg from 'pg';
import { AMQP_URL } from '../jobs/amqp-helpers.js';
import { Cluster, DATABASE_URL, REDIS_URL } from '../helpers/cluster.js';
import { makeTempDir, removeDir } from '../helpers/e2e.js';
import type { ProcessServer } from '../helpers/process-server.js';
import { Relay } from '../helpers/relay.js';
import { FUPLOAD_TOKEN } from './fupload.js';
import type { Storage } from './protocol.js';

export type Service = 'postgres' | 'redis' | 'rabbitmq' | 's3';

export interface SoakClusterOptions {
  readonly storage: Storage;
  readonly apiNodes: number;
  /** FERRY_UPLOAD_EXPIRY_SECONDS: how long an upload may sit idle. */
  readonly expirySeconds: number;
  /** FERRY_EXPIRY_SWEEP_SECONDS: how often the worker sweeps. */
  readonly sweepSeconds: number;
}

export class SoakCluster {
  readonly api: ProcessServer[] = [];
  worker!: ProcessServer;
  /** Callbacks the fupload business server received, by task id. */
  readonly callbacks = new Map<number, string>();

  private constructor(
    readonly options: SoakClusterOptions,
    readonly cluster: Cluster,
    readonly relays: Readonly<Partial<Record<Service, Relay>>>,
    /** The data dir every node shares (used by local storage only). */
    readonly dataDir: string,
    /** The soak's own connection to the cluster's schema, not through the relay. */
    readonly db: pg.Pool,
    private readonly sink: Server,
  ) {}

  static async start(options: SoakClusterOptions): Promise<SoakCluster> {
    const cluster = await Cluster.create();
    const relays: Partial<Record<Service, Relay>> = {
      postgres: await Relay.forUrl(DATABASE_URL, 5432),
      redis: await Relay.forUrl(REDIS_URL, 6379),
      rabbitmq: await Relay.forUrl(AMQP_URL, 5672),
      ...(options.storage === 's3' ? { s3: await Relay.forUrl(cluster.s3.settings.endpoint!, 80) } : {}),
    };
    const dataDir = await makeTempDir('ferry-soak-data-');
    const sink = createServer();
    sink.listen(0, '127.0.0.1');
    await once(sink, 'listening');
    const soak = new SoakCluster(options, cluster, relays, dataDir, new pg.Pool({ connectionString: cluster.databaseUrl, max: 4 }), sink);
    sink.on('request', (request, response) => soak.takeCallback(request, response));
    try {
      // The first node migrates the schema; the others start together after it.
      soak.api.push(await cluster.start('api', soak.env()));
      const rest = await Promise.all([
        ...Array.from({ length: options.apiNodes - 1 }, () => cluster.start('api', soak.env())),
        cluster.start('worker', soak.env()),
      ]);
      soak.worker = rest.pop()!;
      soak.api.push(...rest);
      return soak;
    } catch (err) {
      await soak.dispose();
      throw err;
    }
  }

  /** Every node's settings on top of the cluster's: services through the relays, short expiry. */
  private env(): Record<string, string> {
    const { storage, expirySeconds, sweepSeconds } = this.options;
    const sinkPort = (this.sink.address() as { port: number }).port;
    const { postgres, redis, rabbitmq, s3 } = this.relays;
    return {
      FERRY_DATABASE_URL: postgres!.urlFor(this.cluster.databaseUrl),
      FERRY_REDIS_URL: redis!.urlFor(REDIS_URL),
      FERRY_AMQP_URL: rabbitmq!.urlFor(AMQP_URL),
      FERRY_UPLOAD_EXPIRY_SECONDS: String(expirySeconds),
      FERRY_EXPIRY_SWEEP_SECONDS: String(sweepSeconds),
      // Longer than a dead node's lock lives (FERRY_LOCK_TTL_MS, 6 s): a request waits it out.
      FERRY_LOCK_TIMEOUT_MS: '10000',
      // Only errors: a node keeps the last 64 KiB of its output, and warnings about the services the
      // chaos cuts would push out the errors a violation report needs.
      FERRY_LOG_LEVEL: 'error',
      FERRY_CHECKPOINT_BYTES: String(1024 * 1024),
      // One user sends everything, from one address: far above what the soak sends, so a 429 is a finding.
      FERRY_RATE_LIMIT_PER_USER: '1000000',
      FERRY_RATE_LIMIT_PER_ADDRESS: '1000000',
      FERRY_FUPLOAD_CLIENTS: JSON.stringify({ [FUPLOAD_TOKEN]: `http://127.0.0.1:${sinkPort}/notify` }),
      ...(storage === 'local' ? { FERRY_STORAGE: 'local', FERRY_DATA_DIR: this.dataDir } : {}),
      ...(s3 ? { FERRY_S3_ENDPOINT: s3.urlFor(this.cluster.s3.settings.endpoint!).replace(/\/$/, '') } : {}),
    };
  }

  get nodes(): ProcessServer[] {
    return [...this.api, this.worker];
  }

  private takeCallback(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { taskId: number; retCode: string };
        this.callbacks.set(body.taskId, body.retCode);
      } catch {
        // Not a callback: answered all the same, the audit only counts the ones it understood.
      }
      response.writeHead(200).end('ok');
    });
  }

  /** Each node's logged errors (each distinct message once, with its count and first stack lines) and crash output. */
  errorLogs(): string {
    return this.nodes.map((node) => {
      const seen = new Map<string, number>();
      for (const line of node.output().split('\n')) {
        if (line.trim() === '' || /NodeVersionSupportWarning|versions published|node >=22|security updates|a\.co\/|trace-warnings|To continue/.test(line)) continue;
        const key = line.startsWith('{') ? logSummary(line) : line.slice(0, 400);
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      const lines = [...seen].slice(-30).map(([line, count]) => (count > 1 ? `${count}x ${line}` : line));
      return `--- ${node === this.worker ? 'worker' : `api ${this.api.indexOf(node)}`} (port ${node.port}) ---\n${lines.join('\n')}`;
    }).join('\n');
  }

  async dispose(): Promise<void> {
    for (const relay of Object.values(this.relays)) await relay!.restore();
    await this.cluster.dispose().catch((err: unknown) => console.error('soak: cluster cleanup:', err));
    for (const relay of Object.values(this.relays)) await relay!.close();
    await this.db.end();
    this.sink.close();
    await removeDir(this.dataDir);
  }
}

/** A pino line as its message, error message and the top of its stack. */
function logSummary(line: string): string {
  try {
    const entry = JSON.parse(line) as { msg?: string; err?: { message?: string; stack?: string } };
    const stack = entry.err?.stack?.split('\n').slice(1, 4).map((frame) => frame.trim()).join(' < ') ?? '';
    return `${entry.msg ?? ''}: ${entry.err?.message ?? ''} ${stack}`.slice(0, 600);
  } catch {
    return line.slice(0, 400);
  }
}
