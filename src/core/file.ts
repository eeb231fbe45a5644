/** A file in a user's library: a name over shared, content-addressed bytes. */
export interface StoredFile {
  readonly id: string;
  readonly ownerId: string;
  /** Folders are `/`-separated path prefixes of the name (see core/names.ts). */
  readonly name: string;
  readonly size: number;
  /** Media type, validated; application/octet-stream when unknown. */
  readonly type: string;
  readonly sha256: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** One distinct content, stored once whoever uploaded it. */
export interface Blob {
  readonly sha256: string;
  /** Where the bytes are in their store (the id of the upload that first stored them). */
  readonly storageKey: string;
  /** The store that holds the bytes: UPLOAD_STORE, or a tier they were moved to (see core/tiering.ts). */
  readonly store: string;
  readonly size: number;
  /** Files that name this content. The row and its bytes go when the count reaches zero. */
  readonly refs: number;
  /** Computed once per blob in the background; null until then. */
  readonly sha1: string | null;
  readonly md5: string | null;
  readonly createdAt: Date;
}

/** The store uploads are written to; every blob starts there. */
export const UPLOAD_STORE = 'upload';

/** Bytes in one of the configured stores. */
export interface StoredBytes {
  readonly store: string;
  readonly storageKey: string;
}
