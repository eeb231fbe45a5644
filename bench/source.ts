// Generates the random source file once per run and records the SHA-256 of
// the whole file and of each slice used by the concurrent case.
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { MiB } from './config.js';

export interface Slice {
  start: number;
  length: number;
  sha256: string;
}

export interface SourceFile {
  path: string;
  size: number;
  sha256: string;
  /** Consecutive, non-overlapping slices for the concurrent case. */
  slices: Slice[];
}

const BLOCK = 1 * MiB;

export async function createSource(path: string, size: number, sliceCount: number, sliceLen: number): Promise<SourceFile> {
  const whole = createHash('sha256');
  const parts: Hash[] = Array.from({ length: sliceCount }, () => createHash('sha256'));
  const sliceEnd = sliceCount * sliceLen;
  const buf = Buffer.allocUnsafe(BLOCK);
  const fh = await fs.open(path, 'w');
  try {
    for (let pos = 0; pos < size; ) {
      const n = Math.min(BLOCK, size - pos);
      const block = buf.subarray(0, n);
      randomFillSync(block);
      whole.update(block);
      // Feed the block to the slice hashes it overlaps.
      for (let at = pos; at < Math.min(pos + n, sliceEnd); ) {
        const idx = Math.floor(at / sliceLen);
        const upto = Math.min(pos + n, (idx + 1) * sliceLen);
        parts[idx].update(block.subarray(at - pos, upto - pos));
        at = upto;
      }
      await fh.write(block, 0, n, pos);
      pos += n;
    }
    // Flush to disk now so that writeback of the source does not run during the first case.
    await fh.sync();
  } finally {
    await fh.close();
  }
  return {
    path,
    size,
    sha256: whole.digest('hex'),
    slices: parts.map((h, i) => ({ start: i * sliceLen, length: sliceLen, sha256: h.digest('hex') })),
  };
}
