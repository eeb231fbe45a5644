import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { FerryError } from '../../core/errors.js';
import type { BlobWriter, ChunkPlacement, StoredChunk } from '../types.js';
import type { S3Api } from './api.js';
import { MAX_PART } from './plan.js';

/**
 * The native chunk API on S3: chunk `index` is part `index + 1` of the blob's multipart upload, so
 * chunks go up in any order and in parallel, each as one UploadPart, and completing the upload is
 * one CompleteMultipartUpload (no byte is copied). Nothing here is sequential: this path does not
 * use the part producer, the staged tail or the stale-part bookkeeping, which exist for appends.
 */
export function partNumberOf(chunk: Pick<ChunkPlacement, 'index'>): number {
  return chunk.index + 1;
}

export function checkChunk(chunk: ChunkPlacement): void {
  if (chunk.length > MAX_PART) throw new FerryError('invalid_request', `a chunk on S3 holds at most ${MAX_PART} bytes`);
}

/**
 * Streams one chunk into its part as the bytes arrive: memory stays at one small buffer whatever
 * the chunk's size. S3 needs the part's length up front, and the chunk's is known, so the request
 * starts at once and the body follows. A chunk that does not reach its length is aborted: S3
 * keeps nothing of a part whose body fell short.
 */
export class ChunkPartWriter implements BlobWriter {
  private readonly body = new PassThrough({ highWaterMark: 1024 * 1024 });
  private readonly abort = new AbortController();
  private readonly sent: Promise<string>;
  private failure: unknown = null;
  private written = 0;
  private ended = false;

  constructor(api: S3Api, key: string, uploadId: string, private readonly chunk: ChunkPlacement) {
    this.sent = api.uploadPartStream(key, uploadId, partNumberOf(chunk), this.body, chunk.length, this.abort.signal);
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

  /** Durable only once the whole chunk is written: then the part is sent and acknowledged. */
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
