import type { Upload } from '../core/upload.js';

/** The fields of an upload that change after creation. */
export type UploadChanges = Partial<Pick<Upload, 'size' | 'offset' | 'state' | 'expiresAt' | 'completedAt' | 'sha256'>>;

/**
 * Where upload records live. Every implementation must pass test/meta/conformance.ts.
 */
export interface MetaStore {
  insertUpload(upload: Upload): Promise<void>;
  getUpload(id: string): Promise<Upload | null>;
  /** Applies the changes and returns the updated record; null when the id is unknown. */
  updateUpload(id: string, changes: UploadChanges): Promise<Upload | null>;
  /** Open uploads whose expiry is at or before `now`, oldest first. */
  listExpired(now: Date, limit: number): Promise<Upload[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
