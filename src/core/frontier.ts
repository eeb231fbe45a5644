import type { Hash } from 'node:crypto';
import { newSha256 } from './integrity.js';

/** Where a frontier reads the chunks it has not seen yet. */
export interface ChunkSource {
  readonly count: number;
  isStored(index: number): Promise<boolean>;
  read(index: number): AsyncIterable<Buffer>;
}

/** A chunk's bytes fed to the running hash while they stream in. */
export interface LiveFeed {
  readonly hash: Hash;
  /** The chunk is stored and verified: the frontier moves past it. */
  commit(): void;
  /** The chunk did not make it: the hash goes back to where it was. */
  abandon(): void;
}

class Frontier {
  hash = newSha256();
  /** Chunks 0..next-1 are in the hash. */
  next = 0;
  /** Someone is feeding the hash (a live chunk or a catch-up read). */
  busy = false;
  private waiters: (() => void)[] = [];

  async acquire(): Promise<void> {
    while (this.busy) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.busy = true;
  }

  release(): void {
    this.busy = false;
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/**
 * The SHA-256 of a chunked upload, computed while its chunks arrive in any order, so that
 * completing it never re-reads the file. SHA-256 can only take bytes in order, so each upload has
 * a frontier: the chunks before it are in the hash. The chunk at the frontier is hashed live as it
 * streams in; a chunk that lands beyond it is hashed as soon as the gap before it closes, read back
 * right after it was written, while its pages are still in memory. Clients send chunks roughly in
 * order, so the frontier trails the newest chunk by about the number of connections.
 *
 * Frontiers live in this process. After a restart, or when chunks of one upload reach several
 * nodes, the frontier starts from chunk 0 again and reads the stored prefix once.
 */
export class HashFrontiers {
  private readonly frontiers = new Map<string, Frontier>();

  constructor(private readonly capacity: number) {}

  /** The live hash for chunk `index` if it is the next chunk and nobody is feeding the hash. */
  claim(id: string, index: number): LiveFeed | null {
    const frontier = this.frontier(id);
    if (frontier.busy || frontier.next !== index) return null;
    frontier.busy = true;
    const before = frontier.hash.copy();
    return {
      hash: frontier.hash,
      commit: () => {
        frontier.next = index + 1;
        frontier.release();
      },
      abandon: () => {
        frontier.hash = before;
        frontier.release();
      },
    };
  }

  /** Hashes every stored chunk after the frontier up to the first gap. Returns the new frontier. */
  async advance(id: string, source: ChunkSource): Promise<number> {
    const frontier = this.frontier(id);
    await frontier.acquire();
    try {
      while (frontier.next < source.count && (await source.isStored(frontier.next))) {
        for await (const chunk of source.read(frontier.next)) frontier.hash.update(chunk);
        frontier.next += 1;
      }
      return frontier.next;
    } catch (err) {
      // A read that broke off leaves part of a chunk in the hash: start over next time.
      this.frontiers.delete(id);
      throw err;
    } finally {
      frontier.release();
    }
  }

  /** The whole upload's digest once every chunk is in the hash; null while some are missing. */
  async digest(id: string, source: ChunkSource): Promise<string | null> {
    if ((await this.advance(id, source)) < source.count) return null;
    const digest = this.frontier(id).hash.copy().digest('hex');
    return digest;
  }

  forget(id: string): void {
    this.frontiers.delete(id);
  }

  private frontier(id: string): Frontier {
    let frontier = this.frontiers.get(id);
    if (frontier) {
      this.frontiers.delete(id);
      this.frontiers.set(id, frontier);
      return frontier;
    }
    frontier = new Frontier();
    this.frontiers.set(id, frontier);
    for (const [key, candidate] of this.frontiers) {
      if (this.frontiers.size <= this.capacity) break;
      // An evicted upload is re-hashed from storage when it next needs its digest.
      if (!candidate.busy) this.frontiers.delete(key);
    }
    return frontier;
  }
}
