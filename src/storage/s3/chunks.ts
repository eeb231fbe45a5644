import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../../core/errors.js';
import type { BlobWriter, ChunkPlacement, StoredChunk } from '../types.js';
import type { ObjectInfo, S3Api } from './api.js';
import { MAX_PART, type KeyLayout, type PartSizer } from './plan.js';

/**
 * The native chunk API on S3. Chunks of at least S3's smallest part go straight into the blob's
 * multipart upload, chunk i as part i + 1: in any order and in parallel, each one UploadPart, and
 * completing the upload is one CompleteMultipartUpload (no byte is copied). Smaller chunks cannot
 * be parts, and flow.js and resumable.js send 1 MiB ones by default: an upload with a smaller
 * chunk size keeps each chunk as an object of its own, and finishing joins them into parts of the
 * usual size (joinChunks), reading each chunk back once. Nothing here is sequential: this path
 * does not use the part producer, the staged tail or the stale-part bookkeeping, which exist for
 * appends.
 */
export function partNumberOf(chunk: Pick<ChunkPlacement, 'index'>): number {
  return chunk.index + 1;
}

/** The upload's chunks are too small to be parts: each is kept as an object until finish. */
export function keptApart(chunk: Pick<ChunkPlacement, 'chunkSize'>, minPart: number): boolean {
  return chunk.chunkSize < minPart;
}

export function checkChunk(chunk: ChunkPlacement): void {
  if (chunk.length > MAX_PART) throw new FerryError('invalid_request', `a chunk on S3 holds at most ${MAX_PART} bytes`);
}

/** Sends exactly the bytes it is given as one S3 request body, aborting it when `signal` fires. */
export type ChunkSender = (body: Readable, signal: AbortSignal) => Promise<unknown>;

/**
 * Streams one chunk into S3 (a part, or an object of its own) as the bytes arrive: memory stays at
 * one small buffer whatever the chunk's size. S3 needs the length up front, and the chunk's is
 * known, so the request starts at once and the body follows. A chunk that does not reach its
 * length is aborted: S3 keeps nothing of a body that fell short.
 */
export class ChunkStreamWriter implements BlobWriter {
  private readonly body = new PassThrough({ highWaterMark: 1024 * 1024 });
  private readonly abort = new AbortController();
  private readonly sent: Promise<unknown>;
  private failure: unknown = null;
  private written = 0;
  private ended = false;

  constructor(private readonly chunk: ChunkPlacement, send: ChunkSender) {
    this.sent = send(this.body, this.abort.signal);
    this.sent.catch((err: unknown) => {
      this.failure = err;
      // A writer waiting for room in the buffer must not wait forever for a request that is gone.
      this.body.emit('drain');
    });
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      if (this.failure) throw this.failure;
      this.written += chunk.length;
      if (this.written > this.chunk.length) throw new Error(`chunk ${this.chunk.index} got more than its ${this.chunk.length} bytes`);
      if (!this.body.write(chunk)) await once(this.body, 'drain');
    }
    if (this.failure) throw this.failure;
  }

  /** Durable only once the whole chunk is written: then it is sent and acknowledged. */
  async sync(): Promise<void> {
    if (this.written < this.chunk.length) return;
    if (!this.ended) {
      this.ended = true;
      this.body.end();
    }
    await this.sent;
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.abort.abort();
      this.body.destroy();
    }
    await this.sent.catch(() => undefined);
  }
}

export interface JoinOptions {
  readonly partSize: PartSizer;
  readonly partsInFlight: number;
}

/**
 * Joins the chunks kept as objects into the multipart upload `uploadId`, in index order, as parts
 * of the usual sizes, and returns those parts for CompleteMultipartUpload; null when no chunk was
 * kept apart. Every part but the last reaches its planned size, so S3 takes it. Run again after a
 * crash, it writes the same parts again.
 */
export async function joinChunks(api: S3Api, keys: KeyLayout, uploadId: string, options: JoinOptions): Promise<{ number: number; etag: string }[] | null> {
  const chunks = await api.listObjects(keys.chunks);
  if (chunks.length === 0) return null;
  // Keys hold zero-padded indexes, so key order is index order: the n-th object must be chunk n.
  chunks.forEach((chunk, index) => {
    if (chunk.key !== keys.chunk(index)) throw new Error(`chunk ${index} of ${keys.blob} is missing; it cannot be completed`);
  });
  const groups = groupIntoParts(chunks, options.partSize);
  const parts: { number: number; etag: string }[] = [];
  let next = 0;
  const sendNext = async (): Promise<void> => {
    while (next < groups.length) {
      const number = ++next;
      parts.push({ number, etag: await sendJoined(api, keys.blob, uploadId, number, groups[number - 1]!) });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.partsInFlight, groups.length) }, sendNext));
  return parts.sort((a, b) => a.number - b.number);
}

/** Consecutive chunks, each run just reaching its part's planned size (the last run whatever is left). */
function groupIntoParts(chunks: readonly ObjectInfo[], partSize: PartSizer): ObjectInfo[][] {
  const total = chunks.reduce((sum, chunk) => sum + chunk.size, 0);
  const groups: ObjectInfo[][] = [];
  let group: ObjectInfo[] = [];
  let bytes = 0;
  let before = 0;
  for (const chunk of chunks) {
    group.push(chunk);
    bytes += chunk.size;
    if (bytes >= partSize(groups.length + 1, total, before)) {
      groups.push(group);
      before += bytes;
      group = [];
      bytes = 0;
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** Streams the chunk objects one after another into part `number`; returns its ETag. */
async function sendJoined(api: S3Api, key: string, uploadId: string, number: number, chunks: readonly ObjectInfo[]): Promise<string> {
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  const abort = new AbortController();
  const length = chunks.reduce((sum, chunk) => sum + chunk.size, 0);
  const sent = api.uploadPartStream(key, uploadId, number, body, length, abort.signal);
  let failure: unknown = null;
  // A part request that fails stops reading its body: the copy into it must not wait forever. The
  // body is destroyed without an error, which would be unhandled between two chunks' copies.
  sent.catch((err: unknown) => {
    failure = err;
    body.destroy();
  });
  try {
    for (const chunk of chunks) {
      const source = await api.getObject(chunk.key);
      if (!source) throw new Error(`chunk object ${chunk.key} is gone`);
      await pipeline(source, body, { end: false });
    }
    body.end();
  } catch (err) {
    abort.abort();
    body.destroy();
    await sent.catch(() => undefined);
    throw failure ?? err;
  }
  return sent;
}

/** What ListParts says about one part: its size and, when the ETag is a plain MD5, that MD5. */
export async function statPart(api: S3Api, key: string, uploadId: string, number: number): Promise<StoredChunk | null> {
  const parts = await api.listParts(key, uploadId);
  if (parts === null) throw new FerryError('upload_gone', 'the multipart upload of this upload is gone');
  const part = parts.find((candidate) => candidate.number === number);
  if (!part) return null;
  // Without SSE-KMS or SSE-C a part's ETag is the MD5 of its bytes, in quotes.
  const etag = part.etag.replace(/"/g, '').toLowerCase();
  return { size: part.size, md5: /^[0-9a-f]{32}$/.test(etag) ? etag : null };
}
