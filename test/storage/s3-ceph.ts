import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, type S3Client,
} from '@aws-sdk/client-s3';
import type { Config } from '../../src/config.js';
import { AwsS3Api, s3Client, type S3Settings } from '../../src/storage/s3/aws.js';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', '..', '..', 'scripts', 'ceph-rgw.sh');

export interface CephS3 {
  readonly settings: S3Settings;
  readonly client: S3Client;
  readonly api: AwsS3Api;
  /** Server config overrides for this bucket. */
  config(): Partial<Config>;
  /** Multipart uploads in progress and objects under a key prefix. */
  leftovers(prefix?: string): Promise<{ uploads: string[]; objects: string[] }>;
  /** Empties and deletes the bucket, and closes the client. */
  dispose(): Promise<void>;
}

/**
 * A fresh bucket on the real Ceph RGW. The RGW is brought up with scripts/ceph-rgw.sh (installing
 * Ceph if needed, so this runs in CI like any other test); FERRY_TEST_S3_ENDPOINT, _ACCESS_KEY and
 * _SECRET_KEY point the tests at another S3 instead.
 */
export async function cephS3(): Promise<CephS3> {
  const env = await s3Env();
  const bucket = `ferry-test-${randomBytes(6).toString('hex')}`;
  const settings: S3Settings = {
    endpoint: env.S3_ENDPOINT!,
    bucket,
    accessKey: env.S3_ACCESS_KEY!,
    secretKey: env.S3_SECRET_KEY!,
    region: env.S3_REGION ?? 'us-east-1',
    forcePathStyle: (env.S3_FORCE_PATH_STYLE ?? 'true') === 'true',
  };
  const client = s3Client(settings);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const leftovers = async (prefix = '') => {
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return {
      uploads: (uploads.Uploads ?? []).map((upload) => `${upload.Key} ${upload.UploadId}`),
      objects: (objects.Contents ?? []).map((object) => object.Key!),
    };
  };
  return {
    settings,
    client,
    api: new AwsS3Api(client, bucket),
    leftovers,
    config: () => ({
      storage: 's3', s3Endpoint: settings.endpoint, s3Bucket: bucket, s3AccessKey: settings.accessKey,
      s3SecretKey: settings.secretKey, s3Region: settings.region, s3ForcePathStyle: settings.forcePathStyle,
    }),
    dispose: async () => {
      for (;;) {
        const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        if (!uploads.Uploads?.length && !objects.Contents?.length) break;
        for (const upload of uploads.Uploads ?? []) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
        }
        for (const object of objects.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

let started: Promise<Record<string, string>> | null = null;

async function s3Env(): Promise<Record<string, string | undefined>> {
  const { FERRY_TEST_S3_ENDPOINT, FERRY_TEST_S3_ACCESS_KEY, FERRY_TEST_S3_SECRET_KEY } = process.env;
  if (FERRY_TEST_S3_ENDPOINT) {
    return { S3_ENDPOINT: FERRY_TEST_S3_ENDPOINT, S3_ACCESS_KEY: FERRY_TEST_S3_ACCESS_KEY, S3_SECRET_KEY: FERRY_TEST_S3_SECRET_KEY };
  }
  started ??= run('bash', [SCRIPT, 'up'], { timeout: 10 * 60_000 }).then(({ stdout }) => {
    const env: Record<string, string> = {};
    for (const line of stdout.split('\n')) {
      const match = /^(S3_[A-Z_]+)=(.*)$/.exec(line);
      if (match) env[match[1]!] = match[2]!;
    }
    return env;
  });
  return started;
}
