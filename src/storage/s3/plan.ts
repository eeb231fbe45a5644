import { FerryError } from '../../core/errors.js';

/** S3's multipart limits: every part but the last at least 5 MiB, at most 5 GiB, 10,000 parts. */
export const MIN_PART = 5 * 1024 * 1024;
export const MAX_PART = 5 * 1024 ** 3;
export const MAX_PARTS = 10_000;

const MIB = 1024 * 1024;
/** The first part's size, and every part's when the file is small enough (8 MiB × 10,000 = 78 GiB). */
const BASE_PART = 8 * MIB;
/**
 * Without a declared size, each part is this much larger than the one before. Linear growth
 * reaches 5.3 TiB at part 10,000 with parts of at most 1.1 GiB, about twice the 525 MiB a declared
 * 5 TiB file gets: doubling tiers would need 4 GiB parts, and memory per upload follows part size.
 */
const GROWTH = 112 * 1024;

/**
 * How many bytes part `number` holds. With a declared size, what is left is spread over the parts
 * left (never below 8 MiB), which keeps parts small for ordinary files and still fits 5 TiB;
 * without one, the growing schedule.
 */
export function partSizeFor(number: number, declaredSize: number | null, bytesBefore: number): number {
  if (number > MAX_PARTS) throw new FerryError('too_large', `an S3 multipart upload holds at most ${MAX_PARTS} parts`);
  let size: number;
  if (declaredSize !== null) {
    const perPart = Math.ceil(Math.max(0, declaredSize - bytesBefore) / (MAX_PARTS - number + 1));
    size = Math.max(BASE_PART, Math.ceil(perPart / MIB) * MIB);
  } else {
    size = BASE_PART + (number - 1) * GROWTH;
  }
  return Math.min(size, MAX_PART);
}

export type PartSizer = typeof partSizeFor;

/**
 * Where a blob's objects live. The blob is `blobs/<id>` (the multipart upload's key, and once
 * complete the object itself); its bookkeeping lives under `staging/<id>/` until it completes.
 */
export interface KeyLayout {
  readonly blob: string;
  /** Prefix of everything staged for the blob: the manifest, tail segments and chunks kept apart. */
  readonly staging: string;
  readonly manifest: string;
  /** Prefix of the staged tail segments; a segment's key ends with its 16-digit start offset. */
  readonly tails: string;
  segment(start: number): string;
  /** Prefix of the chunks kept as objects until finish (see chunks.ts); a key ends with the 8-digit index. */
  readonly chunks: string;
  chunk(index: number): string;
}

export function keysOf(prefix: string, id: string): KeyLayout {
  const staging = `${prefix}staging/${id}/`;
  const tails = `${staging}tail-`;
  const chunks = `${staging}chunk-`;
  return {
    blob: `${prefix}blobs/${id}`,
    staging,
    manifest: `${staging}manifest.json`,
    tails,
    segment: (start) => `${tails}${String(start).padStart(16, '0')}`,
    chunks,
    chunk: (index) => `${chunks}${String(index).padStart(8, '0')}`,
  };
}

/** The start offset a segment key names, or null for a key that is not one. */
export function segmentStart(layout: KeyLayout, key: string): number | null {
  if (!key.startsWith(layout.tails)) return null;
  const digits = key.slice(layout.tails.length);
  return /^\d{16}$/.test(digits) ? Number(digits) : null;
}
