import { describe } from 'node:test';
import { accountConformance } from './conformance-accounts.js';
import { blobConformance } from './conformance-blobs.js';
import { concurrencyConformance } from './conformance-concurrency.js';
import { fileConformance } from './conformance-files.js';
import type { StoreFactory } from './conformance-fixtures.js';
import { libraryConformance } from './conformance-library.js';
import { outboxConformance } from './conformance-outbox.js';
import { tieringConformance } from './conformance-tiering.js';
import { uploadConformance } from './conformance-uploads.js';
import { usageConformance } from './conformance-usage.js';

export { sampleUpload, type StoreFactory } from './conformance-fixtures.js';

/**
 * What every MetaStore must do (src/meta/types.ts). Run it once per implementation; each test gets a
 * fresh store from `factory`, which must hold only what migrations create (such as the local user).
 */
export function runMetaStoreConformance(name: string, factory: StoreFactory): void {
  describe(`MetaStore conformance: ${name}`, () => {
    uploadConformance(factory);
    accountConformance(factory);
    fileConformance(factory);
    libraryConformance(factory);
    blobConformance(factory);
    concurrencyConformance(factory);
    outboxConformance(factory);
    tieringConformance(factory);
    usageConformance(factory);
  });
}
