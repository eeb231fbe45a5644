/**
 * A Ferry cluster of separate processes on the shared services: api and worker nodes on one fresh
 * PostgreSQL schema, one Redis, one RabbitMQ queue prefix and one fresh Ceph RGW bucket. Everything
 * it makes (processes, schema, queues, bucket, data dirs) is removed by dispose().
 */
import { randomBytes } from 'node:crypto';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { FERRY_JOBS } from '../../src/jobs/ferry-jobs.js';
import { cephS3, type CephS3 } from '../storage/s3-ceph.js';
import { AMQP_URL, deleteQueues, uniquePrefix } from '../jobs/amqp-helpers.js';
import { makeTempDir, removeDir } from './e2e.js';
import { ProcessServer } from './process-server.js';

export const DATABASE_URL = process.env.FERRY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.FERRY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type Role = 'api' | 'worker' | 'all';

export interface MultipartUpload {
  readonly key: string;
  readonly uploadId: string;
}

export class Cluster {
  readonly nodes: ProcessServer[] = [];
  private readonly dirs: string[] = [];

  private constructor(
    readonly schema: string,
    readonly amqpPrefix: string,
    readonly s3: CephS3,
    private readonly admin: pg.Pool,
  ) {}

  /** A fresh schema, queue prefix and bucket; no node yet. */
  static async create(): Promise<Cluster> {
    const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
    const schema = `ferry_cluster_${randomBytes(8).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      return new Cluster(schema, uniquePrefix(), await cephS3(), admin);
    } catch (err) {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
      throw err;
    }
  }

  /** The database URL whose search_path is this cluster's schema. */
  get databaseUrl(): string {
    const url = new URL(DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${this.schema}`);
    return url.toString();
  }

  /** Every node's FERRY_* settings for the shared services (FERRY_ROLE is what `serve --role` sets). */
  env(role: Role, extra: Record<string, string> = {}): Record<string, string> {
    const { settings } = this.s3;
    return {
      FERRY_ROLE: role,
      FERRY_AUTH: 'none',
      FERRY_DATABASE_URL: this.databaseUrl,
      FERRY_REDIS_URL: REDIS_URL,
      FERRY_AMQP_URL: AMQP_URL,
      FERRY_AMQP_PREFIX: this.amqpPrefix,
      FERRY_STORAGE: 's3',
      FERRY_S3_ENDPOINT: settings.endpoint!,
      FERRY_S3_BUCKET: settings.bucket,
      FERRY_S3_ACCESS_KEY: settings.accessKey,
      FERRY_S3_SECRET_KEY: settings.secretKey,
      FERRY_S3_REGION: settings.region,
      FERRY_S3_FORCE_PATH_STYLE: String(settings.forcePathStyle),
      ...extra,
    };
  }

  /** Spawns one node (its own data dir, unused with these services but required) and waits for /healthz. */
  async start(role: Role, extra: Record<string, string> = {}): Promise<ProcessServer> {
    const dir = await makeTempDir(`ferry-cluster-${role}-`);
    this.dirs.push(dir);
    const node = await ProcessServer.start({ dataDir: dir, env: this.env(role, extra), startTimeoutMs: 30_000 });
    this.nodes.push(node);
    return node;
  }

  /** Multipart uploads in progress in the bucket, under `prefix`, every page of them. */
  async multipartUploads(prefix = ''): Promise<MultipartUpload[]> {
    const found: MultipartUpload[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const page = await this.s3.client.send(new ListMultipartUploadsCommand({
        Bucket: this.s3.settings.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker,
      }));
      for (const upload of page.Uploads ?? []) found.push({ key: upload.Key!, uploadId: upload.UploadId! });
      if (!page.IsTruncated) return found;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
  }

  /** Output of every node, for failure messages. */
  logs(): string {
    return this.nodes.map((node, index) => `--- node ${index} (${node.url}) ---\n${node.output().slice(-4_000)}`).join('\n');
  }

  async dispose(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (err) {
        errors.push(err);
      }
    };
    await Promise.all(this.nodes.map((node) => attempt(() => node.stop())));
    await attempt(() => deleteQueues(this.amqpPrefix, Object.values(FERRY_JOBS)));
    await attempt(() => this.s3.dispose());
    await attempt(() => this.admin.query(`DROP SCHEMA ${this.schema} CASCADE`));
    await attempt(() => this.admin.end());
    await Promise.all(this.dirs.map((dir) => attempt(() => removeDir(dir))));
    if (errors.length > 0) throw new AggregateError(errors, 'cluster cleanup failed');
  }
}
