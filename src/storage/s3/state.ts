import { FerryError } from '../../core/errors.js';
import type { PartInfo, S3Api } from './api.js';
import { segmentStart, type KeyLayout } from './plan.js';

/**
 * What S3 alone cannot tell about an unfinished blob, kept as a small JSON object beside it. It
 * changes only off the byte path: at creation, when the length is declared, when parts stop
 * counting (a truncation into them, or parts a crash left after a gap), when such a part is
 * written again, and when a frozen blob is reopened.
 */
export interface Manifest {
  /** The multipart upload that holds the parts; null while the blob is frozen (see S3BlobStore.read). */
  readonly uploadId: string | null;
  readonly size: number | null;
  /**
   * Parts that no longer count, by number, with the ETag they had. S3 cannot delete a part, and
   * Ceph RGW completes only the first N stored part numbers, so a dropped number is written again
   * rather than skipped; a listed part with a different ETag is that new part.
   */
  readonly stale: Readonly<Record<string, string>>;
}

export interface Part {
  readonly number: number;
  readonly etag: string;
  readonly start: number;
  readonly end: number;
}

/** A staged tail object: bytes [start, end) of the blob. */
export interface Segment {
  readonly key: string;
  readonly start: number;
  readonly end: number;
}

/** Bytes [start, end) of the blob, read from a segment object from `skip` bytes into it. */
export interface Piece extends Segment {
  readonly skip: number;
}

/** A blob as S3 holds it right now. Its bytes: `prefix`, then `parts`, then the `chain` of segments. */
export interface BlobState {
  /** null once the blob is one complete object with nothing staged. */
  readonly manifest: Manifest | null;
  /**
   * No multipart upload holds its parts: its front is its own object. Frozen, or completed by a
   * freeze or finish that died before updating or clearing the manifest, which then still names
   * the old multipart upload.
   */
  readonly frozen: boolean;
  /** Bytes readable from the blob's own object: all of a complete blob, the front of a frozen one. */
  readonly prefix: number;
  /** The parts that count, in order, right after `prefix`. */
  readonly parts: readonly Part[];
  /** Listed parts that do not count and are not yet recorded as stale (they follow a gap). */
  readonly unrecorded: Readonly<Record<string, string>>;
  /** Every listed part from the first one that does not count. */
  readonly beyond: readonly PartInfo[];
  /** The number the next part gets: the first one that does not count. */
  readonly nextPart: number;
  /** Where the durable parts end and staging begins. */
  readonly partsEnd: number;
  readonly chain: readonly Piece[];
  /** Every staged segment, in the chain or not. */
  readonly segments: readonly Segment[];
  /** Bytes durably held. */
  readonly length: number;
}

export async function readManifest(api: S3Api, keys: KeyLayout): Promise<Manifest | null> {
  const body = await api.getObject(keys.manifest);
  if (!body) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Manifest;
}

export function writeManifest(api: S3Api, keys: KeyLayout, manifest: Manifest): Promise<void> {
  return api.putObject(keys.manifest, Buffer.from(JSON.stringify(manifest)));
}

/**
 * Reads what S3 holds for a blob: ListParts for the parts (so any node can pick up where another
 * stopped), the staged segments, and the manifest. Parts count from number 1 on, up to the first
 * number that is missing or stale: a part after such a gap was in flight when a writer died, and
 * its bytes have no place.
 */
export async function reconcile(api: S3Api, keys: KeyLayout, id: string): Promise<BlobState> {
  const manifest = await readManifest(api, keys);
  const segments = await listSegments(api, keys);
  if (!manifest) {
    const size = await api.headObject(keys.blob);
    if (size === null) throw new FerryError('upload_not_found', `blob ${id} not found`);
    return { manifest, frozen: true, prefix: size, parts: [], unrecorded: {}, beyond: [], nextPart: 1, partsEnd: size, chain: [], segments, length: size };
  }
  let prefix = 0;
  const listed = manifest.uploadId === null ? null : await api.listParts(keys.blob, manifest.uploadId);
  if (listed === null) {
    // No multipart upload: the blob is frozen (or complete, with staging not yet cleaned up), and
    // its object holds the front of its bytes.
    const size = await api.headObject(keys.blob);
    if (size === null) throw new FerryError('upload_gone', `the stored parts of blob ${id} are gone`);
    prefix = size;
  }
  const parts: Part[] = [];
  const beyond: PartInfo[] = [];
  const unrecorded: Record<string, string> = {};
  let position = prefix;
  for (const part of listed ?? []) {
    const counts = beyond.length === 0 && part.number === parts.length + 1 && manifest.stale[part.number] !== part.etag;
    if (counts) {
      parts.push({ number: part.number, etag: part.etag, start: position, end: position + part.size });
      position += part.size;
    } else {
      beyond.push(part);
      if (manifest.stale[part.number] !== part.etag) unrecorded[part.number] = part.etag;
    }
  }
  const chain = chainFrom(position, segments);
  const end = chain.at(-1)?.end ?? position;
  return { manifest, frozen: listed === null, prefix, parts, unrecorded, beyond, nextPart: parts.length + 1, partsEnd: position, chain, segments, length: end };
}

async function listSegments(api: S3Api, keys: KeyLayout): Promise<Segment[]> {
  const segments: Segment[] = [];
  for (const object of await api.listObjects(keys.tails)) {
    const start = segmentStart(keys, object.key);
    if (start !== null && object.size > 0) segments.push({ key: object.key, start, end: start + object.size });
  }
  return segments;
}

/** Segments that hold bytes [from, …) without a hole, each from where the one before ends. */
export function chainFrom(from: number, segments: readonly Segment[]): Piece[] {
  const chain: Piece[] = [];
  let position = from;
  for (;;) {
    let best: Segment | null = null;
    for (const segment of segments) {
      if (segment.start <= position && segment.end > position && (best === null || segment.end > best.end)) best = segment;
    }
    if (!best) return chain;
    chain.push({ key: best.key, start: position, end: best.end, skip: position - best.start });
    position = best.end;
  }
}
