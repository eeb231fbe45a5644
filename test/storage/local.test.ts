import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBlobStore } from '../../src/storage/local.js';
import { runBlobStoreConformance } from './conformance.js';

const roots = new WeakMap<object, string>();

for (const directIo of [true, false]) {
  runBlobStoreConformance(`local disk (${directIo ? 'direct writes where the filesystem takes them' : 'page cache only'})`, {
    create: async () => {
      const root = await mkdtemp(join(tmpdir(), 'ferry-blobs-'));
      const store = new LocalBlobStore(root, { directIo });
      roots.set(store, root);
      return store;
    },
    dispose: async (store) => { await rm(roots.get(store)!, { recursive: true, force: true }); },
  });
}
