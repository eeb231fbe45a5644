import type { Readable } from 'node:stream';

/** One uploaded part of a multipart upload, as ListParts reports it. */
export interface PartInfo {
  readonly number: number;
  readonly etag: string;
  readonly size: number;
}

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
}

/**
 * The few S3 operations the driver uses, on one bucket, in the driver's own terms. The store and
 * the part producer see only this, so a fake can stand in for S3 in unit tests (tusd does the same
 * with its S3API). "Not there" is an answer (null), not an error; an unreachable service throws
 * FerryError('service_unavailable').
 */
export interface S3Api {
  createMultipart(key: string): Promise<string>;
  /** Returns the part's ETag. */
  uploadPart(key: string, uploadId: string, number: number, body: Buffer): Promise<string>;
  /**
   * Streams exactly `length` bytes into a part; returns its ETag. Aborting `signal` abandons the
   * request, and S3 keeps nothing of it.
   */
  uploadPartStream(key: string, uploadId: string, number: number, body: Readable, length: number, signal: AbortSignal): Promise<string>;
  /** A URL that, for `ttlSeconds`, takes a PUT of exactly `length` bytes as the part. */
  presignUploadPart(key: string, uploadId: string, number: number, length: number, ttlSeconds: number): Promise<{ url: string; headers: Record<string, string> }>;
  /** Server-side copy of bytes [start, end] (inclusive) of `source` into a part; returns its ETag. */
  copyPart(key: string, uploadId: string, number: number, source: string, start: number, end: number): Promise<string>;
  /** Every uploaded part in number order; null when the multipart upload no longer exists. */
  listParts(key: string, uploadId: string): Promise<PartInfo[] | null>;
  completeMultipart(key: string, uploadId: string, parts: readonly { number: number; etag: string }[]): Promise<void>;
  /** Harmless when the upload is already gone. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** Upload ids of the multipart uploads in progress on exactly `key`. */
  listMultipartUploads(key: string): Promise<string[]>;
  putObject(key: string, body: Buffer): Promise<void>;
  /** Streams exactly `length` bytes into an object; aborting `signal` abandons it and S3 keeps nothing. */
  putObjectStream(key: string, body: Readable, length: number, signal: AbortSignal): Promise<void>;
  /** The object's bytes, or an inclusive range of them; null when it does not exist. */
  getObject(key: string, range?: { start: number; end: number }): Promise<Readable | null>;
  /** The object's size; null when it does not exist. */
  headObject(key: string): Promise<number | null>;
  /** Harmless when the object is already gone. */
  deleteObject(key: string): Promise<void>;
  /** Objects whose keys start with `prefix`, in key order. */
  listObjects(prefix: string): Promise<ObjectInfo[]>;
  /** Throws when the bucket cannot be used. */
  ping(): Promise<void>;
}
