// Generates the random source file once per run and records the SHA-256 of
// the whole file, of each slice used by the concurrent case and of each chunk
// of the native case (so that its client need not hash while it is timed).
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
  /** The native case's chunks: their size and each one's SHA-256 in base64 (as Content-Digest wants it). */
  chunks: { size: number; sha256Base64: string[] };
}

const BLOCK = 1 * MiB;

/** Feeds the bytes of `block` (at file offset `pos`) to the hashes of the equal ranges it overlaps. */
function feed(hashes: Hash[], rangeLen: number, block: Buffer, pos: number): void {
  const end = Math.min(pos + block.length, hashes.length * rangeLen);
  for (let at = pos; at < end; ) {
    const idx = Math.floor(at / rangeLen);
    const upto = Math.min(end, (idx + 1) * rangeLen);
    hashes[idx].update(block.subarray(at - pos, upto - pos));
    at = upto;
  }
}

export async function createSource(path: string, size: number, sliceCount: number, sliceLen: number, chunkSize: number): Promise<SourceFile> {
  const whole = createHash('sha256');
  const parts: Hash[] = Array.from({ length: sliceCount }, () => createHash('sha256'));
  const chunks: Hash[] = Array.from({ length: Math.ceil(size / chunkSize) }, () => createHash('sha256'));
  const buf = Buffer.allocUnsafe(BLOCK);
  const fh = await fs.open(path, 'w');
  try {
    for (let pos = 0; pos < size; ) {
      const n = Math.min(BLOCK, size - pos);
      const block = buf.subarray(0, n);
      randomFillSync(block);
      whole.update(block);
      feed(parts, sliceLen, block, pos);
      feed(chunks, chunkSize, block, pos);
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
    chunks: { size: chunkSize, sha256Base64: chunks.map((h) => h.digest('base64')) },
  };
}
