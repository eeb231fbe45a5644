/**
 * Seeded randomness for the soak run: every choice (protocol, size, when to cut, whom to kill) comes
 * from a generator derived from the run's seed, so a seed replays the same decisions. Timing still
 * differs between runs (the machine decides when a request ends), so a replay is close, not exact.
 */
import { createCipheriv, createHash } from 'node:crypto';

/** xoshiro128** over 32-bit state: small, fast and good enough for test decisions. */
export class Random {
  private readonly s: Uint32Array;

  constructor(seed: string) {
    const words = createHash('sha256').update(seed).digest();
    this.s = new Uint32Array([words.readUInt32LE(0), words.readUInt32LE(4), words.readUInt32LE(8), words.readUInt32LE(12)]);
  }

  /** A generator of its own for `label`, independent of how much this one was used. */
  static derive(seed: string, label: string): Random {
    return new Random(`${seed}/${label}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result / 2 ** 32;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Log-uniform integer in [min, max]: as many small sizes as large ones, per order of magnitude. */
  logInt(min: number, max: number): number {
    return Math.min(max, Math.floor(Math.exp(Math.log(min) + this.next() * (Math.log(max) - Math.log(min)))));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[Math.floor(this.next() * items.length)]!;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** `size` bytes determined by `seed` and `label` (AES-CTR keystream: fast enough for tens of MiB). */
export function contentBytes(seed: string, label: string, size: number): Buffer {
  const key = createHash('sha256').update(`${seed}/content/${label}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}
