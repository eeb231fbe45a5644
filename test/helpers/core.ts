import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BlobStores } from '../../src/core/blob-stores.js';
import { LibraryService } from '../../src/core/library.js';
import { UploadService, type UploadLimits } from '../../src/core/uploads.js';
import { MemoryLocker } from '../../src/locks/memory.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/index.js';
import { LocalBlobStore } from '../../src/storage/local.js';

export interface CoreFixture {
  readonly dir: string;
  readonly store: LocalBlobStore;
  readonly meta: SqliteMetaStore;
  /** A service over the same data, as after a restart of the process. */
  service(limits?: Partial<UploadLimits>): UploadService;
  dispose(): Promise<void>;
}

export const TEST_LIMITS: UploadLimits = { maxSize: null, expiryMs: 60_000, lockTimeoutMs: 2_000, checkpointBytes: 1 << 30, quotaBytes: null, maxOpenUploads: null };

/** The real embedded parts (local disk, SQLite, in-process locks) over a temp dir. */
export async function coreFixture(): Promise<CoreFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-core-'));
  const store = new LocalBlobStore(join(dir, 'blobs'));
  const meta = new SqliteMetaStore(join(dir, 'ferry.db'));
  return {
    dir,
    store,
    meta,
    service: (limits = {}) => new UploadService({
      store, meta, library: new LibraryService({ stores: new BlobStores(store), meta }), locker: new MemoryLocker(), limits: { ...TEST_LIMITS, ...limits },
    }),
    dispose: async () => {
      await meta.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function randomData(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** A body that delivers the given pieces in order, then ends. */
export function pieces(...chunks: Buffer[]): Readable {
  return Readable.from(chunks, { objectMode: false });
}

/** A body that fails after delivering the given pieces, like a connection reset mid-request. */
export function failingBody(...chunks: Buffer[]): Readable {
  async function* deliverThenFail(): AsyncGenerator<Buffer> {
    for (const chunk of chunks) yield chunk;
    throw new Error('connection reset');
  }
  return Readable.from(deliverThenFail(), { objectMode: false });
}

/** A body that delivers its pieces, then stalls until destroyed, like a client whose network died. */
export function stallingBody(...chunks: Buffer[]): Readable {
  const body = new Readable({ read() {} });
  for (const chunk of chunks) body.push(chunk);
  return body;
}
