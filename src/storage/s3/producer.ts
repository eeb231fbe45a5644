import { ByteQueue } from '../byte-queue.js';
import type { BlobWriter } from '../types.js';
import type { S3Api } from './api.js';
import type { PartSizer } from './plan.js';

export interface PartProducerOptions {
  readonly api: S3Api;
  /** The multipart upload's key and id. */
  readonly key: string;
  readonly uploadId: string;
  /** The key of the staged segment that starts at an offset. */
  readonly segmentKey: (start: number) => string;
  /** The blob's declared length, when known: the part that reaches it goes out at once, however small. */
  readonly size: number | null;
  /** Where the next part starts: the end of the parts already uploaded. */
  readonly partsEnd: number;
  readonly nextPart: number;
  /** Bytes from `partsEnd` on that are already staged (durable), to go into the next part. */
  readonly staged: readonly Buffer[];
  /** At most this many parts upload at once; a write waits for a slot. */
  readonly partsInFlight: number;
  readonly partSize: PartSizer;
  /** Part numbers recorded as stale; writing one again must be recorded before a sync returns. */
  readonly stale: ReadonlySet<number>;
  readonly clearStale: (numbers: readonly number[]) => Promise<void>;
}

/**
 * Turns a stream of writes into the parts of an S3 multipart upload: bytes collect in memory until
 * they make a whole part, which uploads while the next one fills. Memory stays near
 * (partsInFlight + 1) × part size whatever the blob's size. S3 cannot hold a part below 5 MiB except
 * the last, so sync() makes the bytes that do not yet fill a part durable by staging them as a small
 * object of their own ("segment"); those bytes still go into their part once it fills, and the
 * segments stay until the store next opens or completes the blob, so that a truncation back to any
 * synced offset can rebuild the front of a part it drops.
 */
export class PartProducer implements BlobWriter {
  /** Blob offset of the first buffered byte: everything before it is in a part (or on its way). */
  private partStart: number;
  private readonly buffered = new ByteQueue();
  /** Bytes below this offset are durable once the parts in flight land. */
  private durableEnd: number;
  private nextPart: number;
  private readonly inFlight = new Set<Promise<void>>();
  /** Stale part numbers written again since the last sync. */
  private readonly rewritten = new Set<number>();
  private failure: unknown = null;

  constructor(private readonly options: PartProducerOptions) {
    this.partStart = options.partsEnd;
    this.nextPart = options.nextPart;
    for (const chunk of options.staged) this.buffered.push(chunk);
    this.durableEnd = this.partStart + this.buffered.bytes;
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    this.throwIfFailed();
    for (const chunk of chunks) this.buffered.push(chunk);
    await this.cutParts();
  }

  async sync(): Promise<void> {
    await this.cutParts();
    await this.drain();
    this.throwIfFailed();
    if (this.rewritten.size > 0) {
      await this.options.clearStale([...this.rewritten]);
      this.rewritten.clear();
    }
    const end = this.partStart + this.buffered.bytes;
    const from = Math.max(this.durableEnd, this.partStart);
    if (end <= from) return;
    await this.options.api.putObject(this.options.segmentKey(from), this.bufferedFrom(from - this.partStart));
    this.durableEnd = end;
  }

  /** Waits for the parts in flight; bytes not synced are simply not kept. */
  async close(): Promise<void> {
    await this.drain();
    this.buffered.clear();
  }

  /** Sends every whole part the buffer holds, and the last part once the declared length is reached. */
  private async cutParts(): Promise<void> {
    const { size, partSize, partsInFlight } = this.options;
    for (;;) {
      if (this.buffered.bytes === 0) return;
      const target = partSize(this.nextPart, size, this.partStart);
      const reachesEnd = size !== null && this.partStart + this.buffered.bytes >= size;
      if (this.buffered.bytes < target && !reachesEnd) return;
      while (this.inFlight.size >= partsInFlight) await Promise.race(this.inFlight);
      this.throwIfFailed();
      const body = this.take(Math.min(target, this.buffered.bytes));
      this.upload(this.nextPart, body);
      this.nextPart += 1;
      this.partStart += body.length;
    }
  }

  private upload(number: number, body: Buffer): void {
    const { api, key, uploadId } = this.options;
    const sending: Promise<void> = api.uploadPart(key, uploadId, number, body).then(
      () => { if (this.options.stale.has(number)) this.rewritten.add(number); },
      (err: unknown) => { this.failure ??= err; },
    ).finally(() => { this.inFlight.delete(sending); });
    this.inFlight.add(sending);
  }

  /** The first `bytes` buffered bytes as one Buffer (a part's body must be retryable, so not a stream). */
  private take(bytes: number): Buffer {
    return Buffer.concat(this.buffered.take(bytes), bytes);
  }

  /** The buffered bytes from `skip` on, copied once (the part they belong to may still grow). */
  private bufferedFrom(skip: number): Buffer {
    return Buffer.concat(this.buffered.from(skip));
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}
