import { open, rm, constants, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteQueue } from './byte-queue.js';
import { writevFully } from './file-io.js';
import type { BlobWriter } from './types.js';

/**
 * Direct I/O (O_DIRECT) takes a file's bytes from the process's memory to the disk without the page
 * cache. Ferry must flush every byte it acknowledges, and flushing the page cache costs the
 * process as much CPU again as writing to it did (measured: 1 GiB written and flushed, 1.57 s of
 * kernel time; written directly, 0.19 s), so writing directly is cheaper for the same guarantee.
 * The kernel takes direct writes only in whole blocks, at block-aligned positions, from memory
 * aligned to the disk's sectors.
 */
const BLOCK = 4096;

/**
 * Bytes gathered before one direct write. Each write costs about the same whatever its size (a
 * thread-pool hand-off, a system call, a wait for the disk), so larger is cheaper, until
 * gathering takes longer than V8 lets young objects live (see DIRECT_WRITERS_MAX). Ferry alone,
 * 1 GiB in 8 MiB PATCHes, CPU s/GiB: 256 KiB 2.75-2.98, 512 KiB 2.28-2.70, 1 MiB 4.39-4.61.
 */
const BATCH = 512 * 1024;

/**
 * A writer writes directly only while at most this many writers are open in the store. Gathered
 * chunks must die young: V8 collects the young generation every few milliseconds here (1 MiB
 * semi-spaces), and a chunk held longer is promoted, after which only a full mark-compact frees
 * its memory. One upload fills a batch in about a millisecond; 64 concurrent ones each take tens
 * of milliseconds, and then direct writes cost more than they save (64 × 16 MiB, measured:
 * through the page cache 3.8-4.1 CPU s, peak RSS 101-103 MiB, 8 mark-compacts; directly
 * 4.5-5.0 CPU s, 129-135 MiB, 40-45 mark-compacts).
 */
export const DIRECT_WRITERS_MAX = 4;

/** Direct writes one writer has in flight: the disk takes two queued writes faster than one at a time. */
const DEPTH = 2;
/** Enough that no direct writer ever waits for a buffer. */
const BUFFERS = DIRECT_WRITERS_MAX * DEPTH;

/**
 * The page-aligned buffers direct writes are copied into, shared by every writer; each is held
 * only while one write is in flight. WebAssembly memory is mapped in whole pages, so slices of it
 * are page-aligned, unlike Buffers, which the heap aligns to 16 bytes only (the kernel refuses
 * those, or at 512-byte alignment splits each write so the disk takes a third of the bytes per
 * second). Pages are only resident once written to.
 */
class AlignedBuffers {
  private readonly free: Buffer[] = [];
  private readonly waiting: ((buffer: Buffer) => void)[] = [];

  constructor(size: number, count: number) {
    const memory = new WebAssembly.Memory({ initial: Math.ceil((size * count) / 65536) });
    for (let index = 0; index < count; index++) this.free.push(Buffer.from(memory.buffer, index * size, size));
  }

  acquire(): Promise<Buffer> {
    const buffer = this.free.pop();
    return buffer ? Promise.resolve(buffer) : new Promise((resolve) => this.waiting.push(resolve));
  }

  release(buffer: Buffer): void {
    const next = this.waiting.shift();
    if (next) next(buffer);
    else this.free.push(buffer);
  }
}

let sharedBuffers: AlignedBuffers | null = null;
const buffers = (): AlignedBuffers => (sharedBuffers ??= new AlignedBuffers(BATCH, BUFFERS));

/**
 * Whether files under `dir` take direct writes: not every filesystem does (tmpfs before Linux 6.6,
 * some network and FUSE filesystems), and some accept the flag and refuse the writes.
 */
export async function directWritesWork(dir: string): Promise<boolean> {
  if (constants.O_DIRECT === undefined) return false;
  const probe = join(dir, `.direct-io-probe-${process.pid}`);
  const buffer = await buffers().acquire();
  try {
    const handle = await open(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT);
    try {
      await handle.write(buffer, 0, BLOCK, 0);
      return true;
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  } finally {
    buffers().release(buffer);
    await rm(probe, { force: true });
  }
}

export function openDirect(path: string): Promise<FileHandle> {
  return open(path, constants.O_WRONLY | constants.O_DIRECT);
}

/**
 * Appends from `offset` through two handles on one file: whole blocks go directly to the disk,
 * gathered in batches, up to DEPTH batches in flight while the next gathers; bytes in a block
 * this writer shares with others (before its first block boundary, after its last) go through
 * the page cache, which merges them with the block's other bytes, so a writer never overwrites
 * what is not its own (the stored prefix, or a neighbouring chunk written at the same time). write() returns while
 * bytes are still gathered or in flight; sync() lands them all and flushes. Once a write fails,
 * every write() after it fails, sync() flushes what landed before it, and landedAfterFailure()
 * says how much that is.
 */
export class DirectWriter implements BlobWriter {
  private readonly gathered = new ByteQueue();
  /** File position of the first gathered byte. */
  private position: number;
  /** Direct writes not yet landed, oldest first. */
  private inFlight: Promise<void>[] = [];
  private failure: unknown = null;
  /** Where the first write that failed began: no byte from there on counts as landed. */
  private failedAt = Infinity;
  /** A write() has rejected with the failure, so its caller knows bytes it gave may not have landed. */
  private failureReported = false;
  /** Calls run one after another: a checkpoint's sync() may come while a write() still runs. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly direct: FileHandle,
    private readonly cached: FileHandle,
    private readonly offset: number,
    private readonly mapError: (err: unknown) => never,
    private readonly onClose: () => void,
  ) {
    this.position = offset;
  }

  landedAfterFailure(): number {
    return Math.min(this.failedAt, this.position) - this.offset;
  }

  write(chunks: readonly Buffer[]): Promise<void> {
    return this.inTurn(() => this.gather(chunks).catch(async (err: unknown) => {
      // Writes still in flight may fail too, below where this one did: landedAfterFailure() must be final.
      await this.allLanded();
      this.failureReported = true;
      throw err;
    }));
  }

  sync(): Promise<void> {
    return this.inTurn(() => this.land());
  }

  /** Flushes the direct writes that have landed; bytes still gathered or in flight wait for sync(). */
  flushAhead(): Promise<void> {
    return this.cached.datasync().catch(this.mapError);
  }

  /** Bytes not synced are not kept. */
  close(): Promise<void> {
    return this.inTurn(async () => {
      this.gathered.clear();
      await this.allLanded();
      this.onClose();
      await Promise.all([this.direct.close(), this.cached.close()]);
    });
  }

  private inTurn(call: () => Promise<void>): Promise<void> {
    const result = this.turn.then(call);
    this.turn = result.catch(() => undefined);
    return result;
  }

  private async gather(chunks: readonly Buffer[]): Promise<void> {
    await this.failIfFailed();
    for (const chunk of chunks) this.gathered.push(chunk);
    const toBoundary = (BLOCK - (this.position % BLOCK)) % BLOCK;
    if (toBoundary > 0 && this.gathered.bytes >= toBoundary) await this.writeCached(toBoundary);
    while (this.position % BLOCK === 0 && this.gathered.bytes >= BATCH) await this.writeDirect(BATCH);
  }

  /**
   * Makes what landed durable. After a failure that is only what landed before it, and sync()
   * resolves only once a write() has reported the failure (its caller then asks
   * landedAfterFailure()); a failure nobody has heard of yet rejects it.
   */
  private async land(): Promise<void> {
    if (this.failure === null && this.position % BLOCK === 0 && this.gathered.bytes >= BLOCK) {
      await this.writeDirect(this.gathered.bytes - (this.gathered.bytes % BLOCK));
    }
    await this.allLanded();
    if (this.failure === null && this.gathered.bytes > 0) await this.writeCached(this.gathered.bytes).catch(() => undefined);
    await this.cached.datasync().catch(this.mapError);
    if (this.failure !== null && !this.failureReported) this.mapError(this.failure);
  }

  private async allLanded(): Promise<void> {
    await Promise.all(this.inFlight);
    this.inFlight = [];
  }

  /** Starts a direct write of the next `bytes` gathered bytes, with at most DEPTH in flight. */
  private async writeDirect(bytes: number): Promise<void> {
    if (this.inFlight.length >= DEPTH) await this.inFlight.shift();
    await this.failIfFailed();
    const buffer = await buffers().acquire();
    let filled = 0;
    for (const chunk of this.gathered.take(bytes)) filled += chunk.copy(buffer, filled);
    const at = this.position;
    this.position += bytes;
    this.inFlight.push(writevFully(this.direct.fd, [buffer.subarray(0, bytes)], at, this.cached.fd)
      .then(() => undefined, (err: unknown) => this.fail(err, at))
      .finally(() => buffers().release(buffer)));
  }

  private async writeCached(bytes: number): Promise<void> {
    const at = this.position;
    const chunks = this.gathered.take(bytes);
    this.position += bytes;
    await writevFully(this.cached.fd, chunks, at).catch((err: unknown) => {
      this.fail(err, at);
      return this.mapError(err);
    });
  }

  private fail(err: unknown, at: number): void {
    this.failure ??= err;
    this.failedAt = Math.min(this.failedAt, at);
  }

  /** Throws the first failure once every write in flight has landed or failed too. */
  private async failIfFailed(): Promise<void> {
    if (this.failure === null) return;
    await this.allLanded();
    this.mapError(this.failure);
  }
}
