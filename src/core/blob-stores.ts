import type { Readable } from 'node:stream';
import { canRead, canTerminate, type BlobStore, type ByteRange } from '../storage/types.js';
import { FerryError } from './errors.js';
import { UPLOAD_STORE, type StoredBytes } from './file.js';

/** Held while a blob's bytes are copied or removed, so that a sweep never removes a copy being made. */
export function blobLockKey(storageKey: string): string {
  return `blob:${storageKey}`;
}

/**
 * The configured stores by name: the one uploads are written to (UPLOAD_STORE) and the tiers
 * completed blobs may move to. Anything that reads or removes stored bytes finds their store here.
 */
export class BlobStores {
  private readonly byName: ReadonlyMap<string, BlobStore>;

  constructor(upload: BlobStore, tiers: Readonly<Record<string, BlobStore>> = {}) {
    this.byName = new Map([[UPLOAD_STORE, upload], ...Object.entries(tiers)]);
  }

  get upload(): BlobStore {
    return this.get(UPLOAD_STORE);
  }

  get(name: string): BlobStore {
    const store = this.byName.get(name);
    // The records name a store the configuration no longer has: bytes are there, but unreachable.
    if (!store) throw new FerryError('service_unavailable', `blob store "${name}" is not configured`);
    return store;
  }

  /** A stream of the bytes, or of one inclusive range of them. */
  read(bytes: StoredBytes, range?: ByteRange): Readable & AsyncIterable<Buffer> {
    const store = this.get(bytes.store);
    if (!canRead(store)) throw new FerryError('invalid_request', 'this storage cannot read back what it stores');
    return store.read(bytes.storageKey, range) as Readable & AsyncIterable<Buffer>;
  }

  /** Removes the bytes; removing bytes that are not there is not an error. False when the store cannot remove. */
  async remove(bytes: StoredBytes): Promise<boolean> {
    const store = this.get(bytes.store);
    if (!canTerminate(store)) return false;
    await store.remove(bytes.storageKey);
    return true;
  }
}
