import type { Config } from '../../config.js';
import { AwsS3Api, s3Client, type S3Settings } from './aws.js';
import { S3BlobStore } from './store.js';

export { S3BlobStore } from './store.js';
export type { S3Api } from './api.js';

export type S3Config = Pick<Config, 's3Endpoint' | 's3Bucket' | 's3AccessKey' | 's3SecretKey' | 's3Region' | 's3ForcePathStyle'>;

/** The S3 blob store for a validated config, and a way to close its connections. */
export function openS3BlobStore(config: S3Config, options: { prefix?: string } = {}): { store: S3BlobStore; close(): void } {
  const settings: S3Settings = {
    endpoint: config.s3Endpoint,
    bucket: config.s3Bucket ?? '',
    accessKey: config.s3AccessKey ?? '',
    secretKey: config.s3SecretKey ?? '',
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
  };
  const client = s3Client(settings);
  return { store: new S3BlobStore(new AwsS3Api(client, settings.bucket), options), close: () => client.destroy() };
}
