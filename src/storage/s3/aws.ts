import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command,
  ListPartsCommand, PutObjectCommand, S3Client, UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { FerryError } from '../../core/errors.js';
import type { ObjectInfo, PartInfo, S3Api } from './api.js';

export interface S3Settings {
  readonly endpoint: string | null;
  readonly bucket: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
}

/** A client for the settings. Checksums only when an operation requires them: see AwsS3Api. */
export function s3Client(settings: S3Settings): S3Client {
  return new S3Client({
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    credentials: { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey },
    // By default the SDK adds aws-chunked trailing checksums to every body, which Ceph RGW (16) and
    // other S3-compatible stores refuse; S3 itself needs them only where an operation requires one.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A gateway that is down should fail a request in seconds, not hang it.
    requestHandler: { connectionTimeout: 5_000 },
  });
}

/** S3Api over @aws-sdk/client-s3 for one bucket. */
export class AwsS3Api implements S3Api {
  constructor(private readonly client: S3Client, private readonly bucket: string) {}

  async createMultipart(key: string): Promise<string> {
    const out = await this.call(() => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key })));
    if (!out.UploadId) throw new Error('CreateMultipartUpload answered without an UploadId');
    return out.UploadId;
  }

  async uploadPart(key: string, uploadId: string, number: number, body: Buffer): Promise<string> {
    const out = await this.call(() => this.client.send(new UploadPartCommand({
      Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: body, ContentLength: body.length,
    })));
    return out.ETag ?? '';
  }

  async uploadPartStream(key: string, uploadId: string, number: number, body: Readable, length: number, signal: AbortSignal): Promise<string> {
    const out = await this.call(() => this.client.send(new UploadPartCommand({
      Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: body, ContentLength: length,
    }), { abortSignal: signal }));
    return out.ETag ?? '';
  }

  async presignUploadPart(key: string, uploadId: string, number: number, length: number, ttlSeconds: number): Promise<{ url: string; headers: Record<string, string> }> {
    const command = new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: number, ContentLength: length });
    // Content-Length stays a signed header (not a query parameter), so S3 refuses a body of any other size.
    const url = await getSignedUrl(this.client, command, { expiresIn: ttlSeconds, signableHeaders: new Set(['content-length']) });
    return { url, headers: { 'content-length': String(length) } };
  }

  async copyPart(key: string, uploadId: string, number: number, source: string, start: number, end: number): Promise<string> {
    const out = await this.call(() => this.client.send(new UploadPartCopyCommand({
      Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: number,
      CopySource: `${this.bucket}/${encodeURIComponent(source)}`, CopySourceRange: `bytes=${start}-${end}`,
    })));
    return out.CopyPartResult?.ETag ?? '';
  }

  async listParts(key: string, uploadId: string): Promise<PartInfo[] | null> {
    const parts: PartInfo[] = [];
    let marker: string | undefined;
    try {
      do {
        const out = await this.call(() => this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker })));
        for (const part of out.Parts ?? []) parts.push({ number: part.PartNumber ?? 0, etag: part.ETag ?? '', size: part.Size ?? 0 });
        marker = out.IsTruncated ? out.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    return parts.sort((a, b) => a.number - b.number);
  }

  async completeMultipart(key: string, uploadId: string, parts: readonly { number: number; etag: string }[]): Promise<void> {
    await this.call(() => this.client.send(new CompleteMultipartUploadCommand({
      Bucket: this.bucket, Key: key, UploadId: uploadId,
      MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.number, ETag: part.etag })) },
    })));
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.call(() => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))).catch(ignoreMissing);
  }

  async listMultipartUploads(key: string): Promise<string[]> {
    const ids: string[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const out = await this.call(() => this.client.send(new ListMultipartUploadsCommand({
        Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: idMarker,
      })));
      for (const upload of out.Uploads ?? []) if (upload.Key === key && upload.UploadId) ids.push(upload.UploadId);
      keyMarker = out.IsTruncated ? out.NextKeyMarker : undefined;
      idMarker = out.IsTruncated ? out.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return ids;
  }

  async putObject(key: string, body: Buffer): Promise<void> {
    await this.call(() => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length })));
  }

  async putObjectStream(key: string, body: Readable, length: number, signal: AbortSignal): Promise<void> {
    await this.call(() => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: length }), { abortSignal: signal }));
  }

  async getObject(key: string, range?: { start: number; end: number }): Promise<Readable | null> {
    try {
      const out = await this.call(() => this.client.send(new GetObjectCommand({
        Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined,
      })));
      return out.Body as Readable;
    } catch (err) {
      if (isMissing(err)) return null;
      if (statusOf(err) === 416) throw new FerryError('range_not_satisfiable', `the range is outside ${key}`, { cause: err });
      throw err;
    }
  }

  async headObject(key: string): Promise<number | null> {
    try {
      const out = await this.call(() => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return out.ContentLength ?? 0;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async deleteObject(key: string): Promise<void> {
    await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))).catch(ignoreMissing);
  }

  async listObjects(prefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const out = await this.call(() => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })));
      for (const object of out.Contents ?? []) if (object.Key) objects.push({ key: object.Key, size: object.Size ?? 0 });
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async ping(): Promise<void> {
    try {
      await this.call(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
    } catch (err) {
      if (isMissing(err)) throw new FerryError('service_unavailable', `S3 bucket ${this.bucket} does not exist`, { cause: err });
      throw err;
    }
  }

  /** Sends a command; an unreachable or overloaded service becomes a typed 503, keeping the cause. */
  private async call<Out>(send: () => Promise<Out>): Promise<Out> {
    try {
      return await send();
    } catch (err) {
      throw unavailable(err) ? new FerryError('service_unavailable', 'object storage is unavailable', { cause: err }) : err;
    }
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const BUSY_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'SlowDown', 'ServiceUnavailable', 'InternalError', 'ThrottlingException']);

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function unavailable(err: unknown): boolean {
  const { code, name } = (err ?? {}) as { code?: string; name?: string };
  const status = statusOf(err);
  return (code !== undefined && NETWORK_CODES.has(code)) || (name !== undefined && BUSY_NAMES.has(name)) || (status !== undefined && status >= 500);
}

function isMissing(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'NoSuchKey' || name === 'NoSuchUpload' || name === 'NotFound' || name === 'NoSuchBucket' || statusOf(err) === 404;
}

function ignoreMissing(err: unknown): void {
  if (!isMissing(err)) throw err;
}
