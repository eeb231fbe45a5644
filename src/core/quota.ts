import type { StorageUsage, UploadRecords } from '../meta/types.js';
import { FerryError } from './errors.js';
import type { Upload } from './upload.js';

export interface QuotaLimits {
  /**
   * Bytes one user may hold (library files and unfinished uploads, see StorageUsage), unless they
   * were given a quota of their own (AccountRecords.setQuota); null for no limit.
   */
  readonly quotaBytes: number | null;
  /** Uploads one user may have open or paused at once; null for no limit. */
  readonly maxOpenUploads: number | null;
}

/**
 * What an upload holds against its owner's quota: its declared size from the moment it is
 * created, so that bytes arriving later never find the space taken; while its length is deferred,
 * the bytes it has received.
 */
export function reservationOf(upload: Pick<Upload, 'size' | 'offset'>): number {
  return upload.size ?? upload.offset;
}

/**
 * Per-user limits on storage and on unfinished uploads. Space is reserved when an upload is
 * created or declares its length, through the metadata store's insertIf/updateIf, so concurrent
 * requests on any node never reserve the same free bytes twice. Bytes of an upload whose length is
 * still unknown are limited to the room left when each request starts: two such requests of one
 * user running at once may together pass the quota by at most what the second was allowed.
 */
export class Quota {
  constructor(private readonly records: UploadRecords, private readonly limits: QuotaLimits) {}

  /**
   * Records a new upload if its owner has room for it; throws quota_exceeded or too_many_uploads
   * otherwise. Always through insertIf, as any user may have a quota of their own.
   */
  async insert(upload: Upload): Promise<void> {
    const needed = reservationOf(upload);
    const { inserted, usage } = await this.records.insertIf(upload, (before) => this.refusal(before, needed, 1) === null);
    if (!inserted) throw this.refusal(usage, needed, 1) ?? new Error('insertIf refused an upload its check allowed');
  }

  /** Sets a deferred upload's length if its owner has room for the rest of it; returns the updated upload. */
  async declareSize(upload: Upload, size: number): Promise<Upload> {
    const needed = size - reservationOf(upload);
    const result = await this.records.updateIf(upload.ownerId, upload.id, { size }, (before) => this.refusal(before, needed, 0) === null);
    if (result.upload) return result.upload;
    throw this.refusal(result.usage, needed, 0) ?? new FerryError('upload_not_found', 'upload vanished while declaring its length');
  }

  /**
   * How many more bytes the owner may store right now (Infinity without a quota), and the error
   * for bytes that arrive past that.
   */
  async room(ownerId: string): Promise<{ bytes: number; filledUp: () => FerryError }> {
    const usage = await this.records.usage(ownerId);
    const quotaBytes = this.quotaOf(usage);
    return {
      bytes: quotaBytes === null ? Number.POSITIVE_INFINITY : Math.max(0, quotaBytes - usage.bytes),
      filledUp: () => new FerryError('quota_exceeded', `the storage quota of ${quotaBytes} bytes is used up: delete files to make room`, {
        details: { quotaBytes },
      }),
    };
  }

  private quotaOf(usage: StorageUsage): number | null {
    return usage.quotaBytes ?? this.limits.quotaBytes;
  }

  private refusal(usage: StorageUsage, bytes: number, uploads: number): FerryError | null {
    const { maxOpenUploads } = this.limits;
    const quotaBytes = this.quotaOf(usage);
    if (maxOpenUploads !== null && usage.openUploads + uploads > maxOpenUploads) {
      return new FerryError('too_many_uploads', `at most ${maxOpenUploads} unfinished uploads at once: complete or cancel one first`, {
        details: { maxOpenUploads, openUploads: usage.openUploads },
      });
    }
    if (quotaBytes !== null && bytes > 0 && usage.bytes + bytes > quotaBytes) {
      return new FerryError('quota_exceeded', `the upload needs ${bytes} bytes, but ${usage.bytes} of the ${quotaBytes}-byte storage quota are used`, {
        details: { quotaBytes, usedBytes: usage.bytes, neededBytes: bytes },
      });
    }
    return null;
  }
}
