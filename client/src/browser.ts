/**
 * The client SDK for browsers: the core FerryClient with the whole-file SHA-256 in a Web Worker
 * and upload state in IndexedDB, so a reloaded page continues its uploads. Sources are Files or
 * Blobs (`fileSource`, `blobSource`), read a slice at a time.
 */
import { FerryClient as CoreClient, type FerryClientOptions } from './client.js';
import { browserCrypto } from './browser/crypto.js';
import { unfinishedUpload, type UnfinishedUpload } from './browser/file-source.js';
import { IndexedDbStateStore } from './browser/idb-state.js';
import type { UploadStatus } from './types.js';

export * from './index.js';
export { browserCrypto } from './browser/crypto.js';
export { fileSource, unfinishedUpload, type UnfinishedUpload } from './browser/file-source.js';
export { IndexedDbStateStore } from './browser/idb-state.js';

const UPLOADS = '/api/v1/uploads';

export class FerryClient extends CoreClient {
  private readonly saved: IndexedDbStateStore;

  constructor(options: FerryClientOptions & { state?: IndexedDbStateStore }) {
    const state = options.state ?? new IndexedDbStateStore();
    super({ crypto: browserCrypto(), ...options, state });
    this.saved = state;
  }

  /**
   * The uploads `user` (their id) left unfinished on this server from this browser, with the bytes
   * the server holds; those the server no longer has (expired, cancelled elsewhere) are forgotten.
   */
  async unfinishedUploads(user: string): Promise<(UnfinishedUpload & { receivedBytes: number })[]> {
    const found: (UnfinishedUpload & { receivedBytes: number })[] = [];
    for (const { key, value } of await this.saved.entries()) {
      const upload = unfinishedUpload(key, value, user, this.baseUrl);
      if (!upload) continue;
      const response = upload.uploadId
        ? await this.transport.request(`${UPLOADS}/${encodeURIComponent(upload.uploadId)}`, { accept: [404, 410] })
        : undefined;
      if (response && !response.ok) {
        await this.saved.delete(key);
        continue;
      }
      const status = (await response?.json()) as UploadStatus | undefined;
      const receivedBytes = status ? Math.min(status.size, status.receivedChunks * status.chunkSize) : 0;
      found.push({ ...upload, receivedBytes });
    }
    return found;
  }

  /** Gives up an unfinished upload: the server frees its space and this browser forgets it. */
  async forgetUpload(upload: UnfinishedUpload): Promise<void> {
    if (upload.uploadId) {
      await this.transport.request(`${UPLOADS}/${encodeURIComponent(upload.uploadId)}`, { method: 'DELETE', accept: [404, 410] });
    }
    await this.saved.delete(upload.key);
  }
}
