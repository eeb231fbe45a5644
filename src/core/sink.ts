import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lockLost } from '../locks/types.js';
import type { BlobWriter } from '../storage/types.js';
import { FerryError } from './errors.js';

/**
 * How far written bytes may run ahead of the disk before a background flush starts. A flush takes
 * time in proportion to what was written since the last one, direct writes too (a disk with a
 * write-back cache, such as a VM's: fdatasync after 8 MiB written directly 11-14 ms, after 512 KiB
 * 0.5-1.4 ms). For a request's first 16 MiB flushes come often, so a chunk-sized request has little
 * left to flush when it ends (8 MiB tus PATCHes through the page cache, 2 rounds each: 1 MiB steps
 * 250 MB/s, 4 MiB steps 220, 512 KiB steps no faster and more CPU; written directly, 6 rounds: 226
 * MB/s median against 206 without flushing ahead); a long request then flushes in larger steps,
 * since every fdatasync of a growing file also commits its size to the journal (measured on a
 * 1 GiB request: 4 MiB steps cost about 20 % more server CPU than 16 MiB ones, and 32 MiB steps
 * came out lowest of 16, 32 and 64).
 */
const FLUSH_AHEAD_EARLY = 1024 * 1024;
const FLUSH_AHEAD_LATER = 32 * 1024 * 1024;
const EARLY_UNTIL = 16 * 1024 * 1024;

export interface UploadSinkOptions {
  readonly writer: BlobWriter;
  /** The upload's offset where this request's bytes begin. */
  readonly start: number;
  /** No byte may land at or past this offset. */
  readonly limit: number;
  /** The upload's running SHA-256, and the request's own checksum if it has one. */
  readonly digests: readonly { update(chunk: Buffer): unknown }[];
  /** Make progress durable every this many bytes; null to sync only at the end. */
  readonly checkpointEvery: number | null;
  /** Called, one at a time and in order, with each offset a checkpoint made durable. */
  readonly onCheckpoint: (durableOffset: number) => Promise<void>;
}

/**
 * Where a request body flows: checks the length, feeds the digests, and hands the bytes to storage
 * in order. A Writable, so the body is piped in with backpressure like any Node stream, and chunks
 * that queue up while the disk is busy reach storage in one batch. Digests only ever see bytes that
 * go to storage: whatever is still queued when the body breaks off is neither hashed nor stored.
 */
export class UploadSink extends Writable {
  /** Bytes handed to storage and acknowledged by it. */
  stored = 0;
  overflow = false;
  storageError: unknown = null;
  private writing: Promise<void> = Promise.resolve();
  private checkpoint: Promise<void> | null = null;
  /** The checkpoint in flight commits an offset, rather than only flushing ahead. */
  private checkpointCommits = false;
  private checkpointError: unknown = null;
  private syncedAt = 0;
  private committedAt = 0;

  constructor(private readonly options: UploadSinkOptions) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.store([chunk], callback);
  }

  override _writev(entries: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.store(entries.map((entry) => entry.chunk), callback);
  }

  /**
   * Lands every byte taken, makes them durable and closes the writer. An offset commit in flight
   * finishes first, since the caller's own commit must follow it; a mere flush ahead overlaps with
   * the sync, which covers its bytes too.
   */
  async finish(): Promise<void> {
    const { writer } = this.options;
    try {
      await this.writing;
      if (this.checkpointCommits) await this.checkpoint;
      await Promise.all([writer.sync(), this.checkpoint]);
    } finally {
      await writer.close();
    }
    if (this.checkpointError) throw this.checkpointError;
  }

  /** Closes the writer without making anything more durable (the lock was lost). */
  async abandon(): Promise<void> {
    await this.writing;
    await this.checkpoint;
    await this.options.writer.close();
  }

  private store(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    const { writer, start, limit, digests } = this.options;
    if (start + this.stored + bytes > limit) {
      this.overflow = true;
      callback(new FerryError('body_exceeds_length', 'the request body goes past the upload length'));
      return;
    }
    for (const chunk of chunks) for (const digest of digests) digest.update(chunk);
    this.writing = writer.write(chunks).then(
      () => {
        this.stored += bytes;
        this.maybeCheckpoint();
        callback();
      },
      (err: unknown) => {
        this.storageError = err;
        // Bytes the writer took earlier may not have landed either.
        const landed = writer.landedAfterFailure?.();
        if (landed !== undefined) this.stored = Math.min(this.stored, landed);
        callback(err as Error);
      },
    );
  }

  /**
   * Flushes written bytes to disk while the body is still streaming in, so the flush that must
   * precede the response has little left to do; every `checkpointEvery` bytes a flush also
   * commits the offset.
   */
  private maybeCheckpoint(): void {
    const { checkpointEvery, writer, start, onCheckpoint } = this.options;
    const flushAhead = writer.flushAhead === undefined ? Infinity : this.stored < EARLY_UNTIL ? FLUSH_AHEAD_EARLY : FLUSH_AHEAD_LATER;
    const flushEvery = Math.min(flushAhead, checkpointEvery ?? flushAhead);
    if (this.checkpoint !== null || this.stored - this.syncedAt < flushEvery) return;
    const mark = this.stored;
    const commits = checkpointEvery !== null && mark - this.committedAt >= checkpointEvery;
    this.checkpointCommits = commits;
    this.checkpoint = (commits || !writer.flushAhead ? writer.sync() : writer.flushAhead())
      // After a failed write, bytes counted in `mark` may not have landed (landedAfterFailure).
      .then(() => (commits && this.storageError === null ? onCheckpoint(start + mark) : undefined))
      .then(() => {
        this.syncedAt = mark;
        if (commits) this.committedAt = mark;
      })
      .catch((err: unknown) => { this.checkpointError ??= err; })
      .finally(() => { this.checkpoint = null; });
  }
}

/** Every byte of the body has come in (an IncomingMessage knows before its reader has taken them). */
function arrived(body: Readable): boolean {
  return (body as Readable & { complete?: boolean }).complete === true || body.readableEnded;
}

/**
 * Streams a request body into the sink until the body ends, breaks off or is cut off by `letGo`
 * (a stalled client may never send another byte: cutting its body off is what ends the wait), then
 * makes everything written durable and closes the writer, unless the lock was lost (then nothing
 * more is made durable). True when the body did not end cleanly (client gone, cut off, or past the
 * limit); the caller decides what that means.
 */
export async function receiveBody(body: Readable, sink: UploadSink, letGo: AbortSignal): Promise<boolean> {
  // A stalled client's connection goes with its body; a client that lost its lock hears why (pipeline
  // then ends the body but leaves the connection to answer on).
  const cutOff = () => {
    if (lockLost(letGo)) sink.destroy(letGo.reason as Error);
    // A body that has all arrived is stored in a moment, and the lock let go right after: cutting it
    // would close the connection, and with it this request's answer and those of requests
    // pipelined behind it (which may be the very request asking).
    else if (!arrived(body)) body.destroy(new FerryError('client_aborted', 'another request took over this upload'));
  };
  letGo.addEventListener('abort', cutOff, { once: true });
  try {
    if (letGo.aborted) cutOff();
    await pipeline(body, sink);
    return false;
  } catch {
    return true;
  } finally {
    letGo.removeEventListener('abort', cutOff);
    if (lockLost(letGo)) await sink.abandon();
    else await sink.finish();
  }
}
