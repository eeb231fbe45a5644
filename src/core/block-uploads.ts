import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { MetaStore } from '../meta/types.js';
import type { BlobStore } from '../storage/types.js';
import { FerryError } from './errors.js';
import type { LibraryService } from './library.js';
import type { Principal } from './principal.js';
import type { Metadata, Upload } from './upload.js';
import type { UploadService } from './uploads.js';
import { writeRange } from './write-range.js';

export interface ByteSpan {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface BlockRequest extends ByteSpan {
  readonly body: Readable;
  /** MD5 the client declared for the block, if any; verified before the block counts. */
  readonly md5: Buffer | null;
}

export type BlockOutcome =
  | { readonly kind: 'stored'; readonly upload: Upload; readonly missing: readonly ByteSpan[] }
  | { readonly kind: 'completed'; readonly upload: Upload }
  /** Every byte arrived but the whole file's MD5 is not the declared one: the upload is discarded. */
  | { readonly kind: 'md5_mismatch'; readonly upload: Upload };

/**
 * Uploads whose clients choose their own blocks (fuploadServer's startByte/endByte): any
 * non-overlapping byte ranges, each verified by its MD5 and written in place. Blocks of one upload
 * are stored one at a time, so that an overlap is refused before a byte of it is written. Once the
 * last gap closes, the file is read once for its SHA-256 and MD5 (these clients send no
 * per-position order to hash along) and the declared MD5 decides its fate.
 */
export class BlockUploads {
  private readonly now: () => Date;

  constructor(private readonly deps: {
    readonly uploads: UploadService; readonly library: LibraryService; readonly meta: MetaStore; readonly store: BlobStore; readonly now?: () => Date;
  }) {
    this.now = deps.now ?? (() => new Date());
  }

  create(owner: Principal, request: { size: number; metadata: Metadata; expectedMd5: string }): Promise<Upload> {
    return this.deps.uploads.create(owner, { size: request.size, metadata: { ...request.metadata, md5: request.expectedMd5.toLowerCase() } });
  }

  /** The byte spans still to send, in order. */
  async missing(upload: Upload): Promise<ByteSpan[]> {
    if (upload.state === 'completed') return [];
    return gaps(await this.deps.meta.uploads.listRanges(upload.id), upload.size ?? 0);
  }

  async putBlock(owner: Principal, id: string, block: BlockRequest): Promise<BlockOutcome> {
    const upload = await this.deps.uploads.get(owner, id);
    const size = upload.size ?? 0;
    if (!(Number.isSafeInteger(block.start) && Number.isSafeInteger(block.end) && block.start >= 0 && block.end > block.start && block.end <= size)) {
      throw new FerryError('chunk_out_of_range', `a block must lie within the file's ${size} bytes`);
    }
    if (upload.state === 'completed') return { kind: 'completed', upload };
    if (upload.state === 'paused') throw new FerryError('upload_paused', 'the upload is paused; resume it first');
    const lock = await this.deps.uploads.lockFor(id, 'blocks');
    try {
      const stored = await this.deps.meta.uploads.listRanges(id);
      if (stored.some((range) => range.start < block.end && range.end > block.start)) {
        throw new FerryError('chunk_out_of_range', 'the block overlaps bytes already stored');
      }
      await this.deps.uploads.streamUnder(lock, (letGo) => writeRange(this.deps.store, id, {
        start: block.start,
        length: block.end - block.start,
        body: block.body,
        digests: block.md5 ? [{ algorithm: 'md5', digest: block.md5 }] : [],
        letGo,
        label: `block ${block.start}-${block.end - 1}`,
      }));
      if (!(await this.deps.meta.uploads.addRange(id, block.start, block.end))) {
        throw new Error(`block ${block.start}-${block.end} of ${id} overlapped although the upload's blocks are serialised`);
      }
      // An upload receiving blocks is not idle: its expiry starts again, as with every other protocol's bytes.
      const refreshed = (await this.deps.meta.uploads.update(id, { expiresAt: new Date(this.now().getTime() + this.deps.uploads.limits.expiryMs) })) ?? upload;
      const missing = await this.missing(refreshed);
      if (missing.length > 0) return { kind: 'stored', upload: refreshed, missing };
      return await this.finish(upload);
    } finally {
      await lock.release();
    }
  }

  async setState(owner: Principal, id: string, state: 'open' | 'paused'): Promise<Upload> {
    const upload = await this.deps.uploads.get(owner, id);
    if (upload.state === 'completed' || upload.state === state) return upload;
    return (await this.deps.meta.uploads.update(id, { state })) ?? upload;
  }

  private async finish(upload: Upload): Promise<BlockOutcome> {
    const size = upload.size ?? 0;
    const sha256 = createHash('sha256');
    const md5 = createHash('md5');
    if (size > 0) {
      for await (const chunk of this.deps.uploads.readStored(upload.id, { start: 0, end: size - 1 })) {
        sha256.update(chunk);
        md5.update(chunk);
      }
    }
    if (md5.digest('hex') !== upload.metadata.md5) {
      await this.deps.uploads.discard(upload);
      this.deps.uploads.events.emit('discarded', upload, 'md5_mismatch');
      return { kind: 'md5_mismatch', upload };
    }
    const completed = await this.deps.library.completeUpload({ ...upload, offset: size }, sha256.digest('hex'));
    this.deps.uploads.events.emit('completed', completed);
    return { kind: 'completed', upload: completed };
  }
}

function gaps(stored: readonly ByteSpan[], size: number): ByteSpan[] {
  const missing: ByteSpan[] = [];
  let at = 0;
  for (const range of stored) {
    if (range.start > at) missing.push({ start: at, end: range.start });
    at = Math.max(at, range.end);
  }
  if (at < size) missing.push({ start: at, end: size });
  return missing;
}
