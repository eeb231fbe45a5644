import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBlobStore } from '../../src/storage/local.js';
import { runBlobStoreConformance } from './conformance.js';

const roots = new WeakMap<object, string>();

runBlobStoreConformance('local disk', {
  create: async () => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-blobs-'));
    const store = new LocalBlobStore(root);
    roots.set(store, root);
    return store;
  },
  dispose: async (store) => { await rm(roots.get(store)!, { recursive: true, force: true }); },
});
