import { createHash } from 'node:crypto';
import type { Locker } from '../locks/types.js';
import type { MetaStore } from '../meta/types.js';
import { canDeferLength, canFinish, canTerminate } from '../storage/types.js';
import { blobLockKey, type BlobStores } from './blob-stores.js';
import { UPLOAD_STORE, type Blob, type StoredBytes } from './file.js';

/** Where completed blobs go, and when. */
export interface TieringPolicy {
  /** The store they move to (a name in BlobStores). */
  readonly to: string;
  /** How long a blob stays in the upload store first. */
  readonly afterMs: number;
}

/** One blob to move: the job's payload. */
export interface BlobTransfer {
  readonly sha256: string;
  readonly storageKey: string;
  readonly from: string;
  readonly to: string;
}

/** The transfer a job carries; throws for anything else (a job from another version, or garbage). */
export function blobTransferOf(payload: unknown): BlobTransfer {
  const fields = payload as Partial<Record<keyof BlobTransfer, unknown>> | null;
  const valid = typeof fields === 'object' && fields !== null
    && typeof fields.sha256 === 'string' && /^[0-9a-f]{64}$/.test(fields.sha256)
    && typeof fields.storageKey === 'string' && typeof fields.from === 'string' && typeof fields.to === 'string';
  if (!valid) throw new Error(`not a blob transfer: ${JSON.stringify(payload)}`);
  return { sha256: fields.sha256 as string, storageKey: fields.storageKey as string, from: fields.from as string, to: fields.to as string };
}

export interface BlobTieringDeps {
  readonly meta: MetaStore;
  readonly stores: BlobStores;
  readonly locker: Locker;
  readonly policy: TieringPolicy;
  readonly now?: () => Date;
  /** How long a moved blob's old copy stays, for downloads that were reading it. */
  readonly sourceGraceMs?: number;
}

/**
 * A planned copy that has not been committed in this time is taken for dead: the sweep removes
 * whatever it wrote (once no transfer holds the blob's lock) and the next pass plans it again.
 */
const COPY_LEASE_MS = 10 * 60_000;
const SOURCE_GRACE_MS = 15 * 60_000;

/**
 * Moves completed blobs from the store uploads land in to another (local disk to Ceph or OSS, say)
 * in the background. A transfer is safe to run any number of times, on any node, in any order with
 * deletions and sweeps: it copies under the blob's lock, reads the copy back and checks its
 * SHA-256 before the blob points at it, and the old copy is only queued for removal by the same
 * transaction that repoints the blob. Until then every download reads the old copy.
 */
export class BlobTiering {
  private readonly now: () => Date;
  private readonly sourceGraceMs: number;

  constructor(private readonly deps: BlobTieringDeps) {
    this.now = deps.now ?? (() => new Date());
    this.sourceGraceMs = deps.sourceGraceMs ?? SOURCE_GRACE_MS;
  }

  /** Plans the transfer of each blob whose time in the upload store is up, for the job queue. */
  async planDue(batch = 100): Promise<BlobTransfer[]> {
    const { meta, policy } = this.deps;
    const now = this.now().getTime();
    const due = await meta.library.listBlobsToMove(UPLOAD_STORE, policy.to, new Date(now - policy.afterMs), batch);
    const transfers: BlobTransfer[] = [];
    for (const blob of due) {
      // Planned, a blob is not listed again until its copy is committed or found dead.
      await meta.library.planBlobCopy({ store: policy.to, storageKey: blob.storageKey }, new Date(now + COPY_LEASE_MS));
      transfers.push({ sha256: blob.sha256, storageKey: blob.storageKey, from: blob.store, to: policy.to });
    }
    return transfers;
  }

  /** Copies the blob, checks the copy and points the blob at it. True when this call moved it. */
  async transfer(transfer: BlobTransfer): Promise<boolean> {
    const { meta, stores, locker } = this.deps;
    const target: StoredBytes = { store: transfer.to, storageKey: transfer.storageKey };
    // Another transfer of this blob, or the sweep, is at it: that one finishes the job, or its
    // planned copy comes due and the blob is planned again.
    const lock = await locker.tryAcquire(blobLockKey(transfer.storageKey));
    if (!lock) return false;
    try {
      const blob = await meta.library.getBlob(transfer.sha256);
      if (!blob || blob.storageKey !== transfer.storageKey || blob.store !== transfer.from) {
        const landed = blob?.storageKey === transfer.storageKey && blob.store === transfer.to;
        // Deleted, or replaced by new content: anything an earlier attempt copied is dead now.
        if (!landed) await meta.library.planBlobCopy(target, this.now());
        return false;
      }
      await meta.library.planBlobCopy(target, new Date(this.now().getTime() + COPY_LEASE_MS));
      await copyVerified(stores, blob, transfer.to);
      const moved = await meta.library.moveBlob({ ...transfer, sourceDueAt: new Date(this.now().getTime() + this.sourceGraceMs) });
      // Deleted while it was copied: the copy is dead.
      if (!moved) await meta.library.planBlobCopy(target, this.now());
      return moved;
    } catch (err) {
      // The sweep removes the partial copy (once this lock is let go); the job is retried.
      await meta.library.planBlobCopy(target, this.now()).catch(() => undefined);
      throw err;
    } finally {
      await lock.release();
    }
  }
}

/**
 * Writes the blob's bytes into store `to` under the same key, then reads them back: the copy counts
 * only if its length and SHA-256 are the blob's. The source is checked on the way too, so a copy
 * never launders bytes that were damaged where they lay.
 */
async function copyVerified(stores: BlobStores, blob: Blob, to: string): Promise<void> {
  const target = stores.get(to);
  const key = blob.storageKey;
  // A copy an earlier attempt left half-written.
  if (canTerminate(target)) await target.remove(key);
  await target.create(key);
  if (canDeferLength(target)) await target.declareLength(key, blob.size);
  const writer = await target.openWriter(key, 0);
  let source: Digest;
  try {
    source = await digestOf(stores.read(blob), (chunk) => writer.write([chunk]));
    await writer.sync();
  } finally {
    await writer.close();
  }
  checkDigest(blob, source, `in store "${blob.store}" does not hold its content`);
  if (canFinish(target)) await target.finish(key);
  checkDigest(blob, await digestOf(stores.read({ store: to, storageKey: key })), `reads back differently from store "${to}"`);
}

interface Digest {
  readonly sha256: string;
  readonly length: number;
}

async function digestOf(bytes: AsyncIterable<Buffer>, each?: (chunk: Buffer) => Promise<void>): Promise<Digest> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of bytes) {
    hash.update(chunk);
    length += chunk.length;
    if (each) await each(chunk);
  }
  return { sha256: hash.digest('hex'), length };
}

function checkDigest(blob: Blob, digest: Digest, problem: string): void {
  if (digest.length !== blob.size || digest.sha256 !== blob.sha256) {
    throw new Error(`blob ${blob.sha256} ${problem} (${digest.length} bytes, SHA-256 ${digest.sha256}): not moved`);
  }
}
