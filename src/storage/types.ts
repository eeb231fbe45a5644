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
  close(): Promise<void>;
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
