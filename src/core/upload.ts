import { randomBytes } from 'node:crypto';

/** `paused` uploads refuse bytes until resumed; otherwise they behave, and expire, like open ones. */
export type UploadState = 'open' | 'paused' | 'completed' | 'terminated' | 'expired';

/** How an upload takes part in tus concatenation. */
export type ConcatRole =
  | { kind: 'partial' }
  | {
    kind: 'final';
    parts: readonly string[];
    /** The parts as the creating request named them: tus echoes them in Upload-Concat as received. */
    named?: readonly string[];
  };

export type Metadata = Readonly<Record<string, string | null>>;

export interface Upload {
  readonly id: string;
  readonly ownerId: string;
  /** Declared length in bytes; null while deferred. */
  readonly size: number | null;
  /** Bytes durably stored, contiguous from the start. */
  readonly offset: number;
  readonly metadata: Metadata;
  readonly state: UploadState;
  readonly concat: ConcatRole | null;
  readonly createdAt: Date;
  /** When an unfinished upload may be swept; null for completed ones. */
  readonly expiresAt: Date | null;
  readonly completedAt: Date | null;
  /** Hex SHA-256 of the completed content: the content address. */
  readonly sha256: string | null;
  /** Set for chunked uploads (native API, flow.js), whose chunks arrive in any order. */
  readonly chunkSize: number | null;
  /**
   * Chunk i starts at i × chunkSize; every chunk but the last is chunkSize long, and the last runs
   * to the end. Usually ceil(size / chunkSize) chunks; flow.js makes floor(size / chunkSize), so
   * its last chunk is up to twice as long.
   */
  readonly chunkCount: number | null;
  /** The SHA-256 the client declared up front; completion must match it. */
  readonly expectedSha256: string | null;
  /** The library file a completed upload became. */
  readonly fileId: string | null;
}

/** 128 random bits, hex: unguessable, and safe in a URL and a file name. */
export function newUploadId(): string {
  return randomBytes(16).toString('hex');
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;

export function isUploadId(value: string): boolean {
  return UPLOAD_ID.test(value);
}

export function isEnded(upload: Upload): boolean {
  return upload.state === 'terminated' || upload.state === 'expired';
}
