import type { Readable } from 'node:stream';

/**
 * Appends to one blob, from the offset it was opened at. Writes land in the order given; the
 * caller waits for each before the next.
 */
export interface BlobWriter {
  /** Stores the chunks right after everything written before. */
  write(chunks: readonly Buffer[]): Promise<void>;
  /** Makes everything written so far durable (fsync or equivalent). */
  sync(): Promise<void>;
  /**
   * For writers whose write() returns before its bytes land (they gather them into larger writes):
   * once a write() has failed, how many of the bytes given to this writer landed, counted from
   * where it was opened; sync() then makes just those durable. Without it, a write() that failed
   * landed none of its chunks and every earlier one landed.
   */
  landedAfterFailure?(): number;
  close(): Promise<void>;
  /**
   * Starts making durable what has landed so far, while the request still streams in, so the
   * sync() before the response has less left to flush. Absent where flushing early buys nothing
   * and costs a lot (S3: a sync stages the unfinished part as an object of its own); such writers
   * see sync() only where durability is required: offset checkpoints and the end of a request.
   */
  flushAhead?(): Promise<void>;
}

/**
 * What every blob driver does. Offsets and limits are the caller's business; a driver stores bytes
 * at the position it is told and reports, durably, what it holds.
 */
export interface BlobStore {
  /** Prepare an empty blob for an upload. */
  create(id: string): Promise<void>;
  /** A writer that appends at `offset`, after discarding anything the blob held beyond it. */
  openWriter(id: string, offset: number): Promise<BlobWriter>;
  /** Bytes currently held, as durable storage sees them. */
  length(id: string): Promise<number>;
  /** Forget bytes beyond `length` (an unverified or rejected chunk). */
  truncate(id: string, length: number): Promise<void>;
  /** Can the store be used right now? Throws when it cannot. */
  ping(): Promise<void>;
}

export interface ByteRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

export interface RangedReads {
  /** A stream of the blob's bytes, or of one inclusive range of them. */
  read(id: string, range?: ByteRange): Readable;
}

/** Writes anywhere in a blob, for chunks that arrive out of order. */
export interface PositionalWrites {
  /** A writer that starts at `offset` and leaves every other byte of the blob as it is. */
  openWriterAt(id: string, offset: number): Promise<BlobWriter>;
}

/**
 * Where chunk `index` of a chunked upload lies in its blob: bytes [start, start + length). Every
 * chunk but the last has the upload's chunk size.
 */
export interface ChunkPlacement {
  readonly index: number;
  readonly start: number;
  readonly length: number;
  /** The upload's chunk size (all chunks but the last have it). */
  readonly chunkSize: number;
}

/**
 * Stores that keep a chunked upload's numbered chunks as separate pieces (S3 multipart: chunk i is
 * part i + 1) rather than writing them in place. Chunks may arrive in any order and in parallel; a
 * chunk written again replaces the earlier copy, so the caller must refuse chunks it has already
 * recorded. Written chunks cannot be read back before Completion.finish() joins them into the blob.
 */
export interface ChunkWrites extends Completion {
  /**
   * Chunks of an upload whose chunk size is below this are kept apart and joined when the upload
   * finishes, which reads them back once (S3: parts under 5 MiB are refused but the last). When the
   * client does not choose a chunk size, Ferry picks at least this.
   */
  readonly minChunkSize: number;
  /**
   * A writer for one whole chunk. Nothing is kept unless exactly `length` bytes were written when
   * sync() is called; before that sync() does nothing, and close() throws away a partial chunk.
   */
  openChunkWriter(id: string, chunk: ChunkPlacement): Promise<BlobWriter>;
}

/** A chunk as the store holds it, for checking a chunk the client sent straight to storage. */
export interface StoredChunk {
  readonly size: number;
  /** Lowercase hex MD5 of the chunk's bytes, or null when the store cannot tell (S3 with SSE-KMS or SSE-C). */
  readonly md5: string | null;
}

/** A URL the client sends one chunk's bytes to, bypassing Ferry. */
export interface ChunkUploadUrl {
  readonly method: 'PUT';
  readonly url: string;
  /** Headers the client must send as they are (they are part of the signature). */
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: Date;
}

/** Chunks sent by the client straight to storage (S3 presigned UploadPart URLs). */
export interface DirectChunkUploads extends ChunkWrites {
  /** A URL good for `ttlSeconds` that stores exactly `chunk.length` bytes as the chunk. */
  presignChunk(id: string, chunk: ChunkPlacement, ttlSeconds: number): Promise<ChunkUploadUrl>;
  /** What the store holds for the chunk right now; null when nothing arrived. */
  statChunk(id: string, index: number): Promise<StoredChunk | null>;
}

export interface Termination {
  remove(id: string): Promise<void>;
}

export interface Concatenation {
  /** Fill `target` with the given blobs one after another; `onData` sees every byte in order. */
  concat(target: string, parts: readonly string[], onData: (chunk: Buffer) => void): Promise<number>;
}

export interface DeferredLength {
  /** Told an upload's final length once it is known: at creation, or when a deferred length is declared. */
  declareLength(id: string, size: number): Promise<void>;
}

/**
 * Stores that assemble a blob from pieces (S3 multipart) are told when its bytes are final, before
 * the upload is recorded as complete; only then may it be read as a whole.
 */
export interface Completion {
  finish(id: string): Promise<void>;
}

export type FullBlobStore = BlobStore & RangedReads & PositionalWrites & Termination & Concatenation & DeferredLength;

export function canRead(store: BlobStore): store is BlobStore & RangedReads {
  return typeof (store as Partial<RangedReads>).read === 'function';
}

export function canTerminate(store: BlobStore): store is BlobStore & Termination {
  return typeof (store as Partial<Termination>).remove === 'function';
}

export function canConcat(store: BlobStore): store is BlobStore & Concatenation {
  return typeof (store as Partial<Concatenation>).concat === 'function';
}

export function canDeferLength(store: BlobStore): store is BlobStore & DeferredLength {
  return typeof (store as Partial<DeferredLength>).declareLength === 'function';
}

export function canWriteAt(store: BlobStore): store is BlobStore & PositionalWrites {
  return typeof (store as Partial<PositionalWrites>).openWriterAt === 'function';
}

export function canFinish(store: BlobStore): store is BlobStore & Completion {
  return typeof (store as Partial<Completion>).finish === 'function';
}

export function canWriteChunks(store: BlobStore): store is BlobStore & ChunkWrites {
  const candidate = store as Partial<ChunkWrites>;
  return typeof candidate.openChunkWriter === 'function' && typeof candidate.minChunkSize === 'number' && canFinish(store);
}

export function canPresignChunks(store: BlobStore): store is BlobStore & DirectChunkUploads {
  const candidate = store as Partial<DirectChunkUploads>;
  return canWriteChunks(store) && typeof candidate.presignChunk === 'function' && typeof candidate.statChunk === 'function';
}
