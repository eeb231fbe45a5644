/**
 * The client SDK for browsers: the core FerryClient with the whole-file SHA-256 in a Web Worker
 * and upload state in IndexedDB, so a reloaded page continues its uploads. Sources are Files or
 * Blobs (`fileSource`, `blobSource`), read a slice at a time.
 */
import { FerryClient as CoreClient, type FerryClientOptions } from './client.js';
import { browserCrypto } from './browser/crypto.js';
import { IndexedDbStateStore } from './browser/idb-state.js';

export * from './index.js';
export { browserCrypto } from './browser/crypto.js';
export { fileSource, unfinishedUpload, type UnfinishedUpload } from './browser/file-source.js';
export { IndexedDbStateStore } from './browser/idb-state.js';

export class FerryClient extends CoreClient {
  constructor(options: FerryClientOptions) {
    super({ crypto: browserCrypto(), state: new IndexedDbStateStore(), ...options });
  }
}
