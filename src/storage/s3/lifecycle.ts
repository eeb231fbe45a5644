import { FerryError } from '../../core/errors.js';
import type { S3Api } from './api.js';
import type { KeyLayout } from './plan.js';
import { chainFrom, reconcile, writeManifest, type BlobState, type Piece } from './state.js';

/** A frozen blob's object is copied back into parts in pieces this big at most (S3 allows 5 GiB). */
const COPY_PIECE = 4 * 1024 ** 3;

/** The bytes of pieces of objects, in order. Bounded by one part: only a blob's tail is ever staged. */
export async function readPieces(api: S3Api, pieces: readonly Piece[]): Promise<Buffer[]> {
  const buffers: Buffer[] = [];
  for (const piece of pieces) {
    if (piece.end <= piece.start) continue;
    const body = await api.getObject(piece.key, { start: piece.skip, end: piece.skip + piece.end - piece.start - 1 });
    if (!body) throw new FerryError('upload_gone', `stored bytes ${piece.start}-${piece.end - 1} are gone`);
    for await (const chunk of body as AsyncIterable<Buffer>) buffers.push(chunk);
  }
  return buffers;
}

/**
 * Shortens a blob to `length`. Staged bytes past it are deleted or trimmed. When parts reach past
 * it, the part holding `length` and every later one become stale (S3 cannot shorten a part), and
 * the front of that part must then still be staged: it is whenever `length` was a synced offset at
 * or after the one the last writer opened at, which is what the core ever truncates to (a
 * refused request's bytes). Anything else fails loudly rather than lose bytes.
 */
export async function cutTo(api: S3Api, keys: KeyLayout, id: string, state: BlobState, length: number): Promise<BlobState> {
  const manifest = state.manifest!;
  if (length < state.partsEnd) {
    const part = state.parts.find((candidate) => candidate.start <= length && length < candidate.end);
    if (!part) throw new Error(`blob ${id} cannot be truncated to ${length}: its first ${state.prefix} bytes are one object`);
    const front = chainFrom(part.start, state.segments);
    if ((front.at(-1)?.end ?? part.start) < length) {
      throw new Error(`blob ${id} cannot be truncated to ${length}: bytes ${part.start}-${length - 1} are only in part ${part.number}`);
    }
    const stale: Record<string, string> = { ...manifest.stale };
    for (const dropped of [...state.parts.filter((candidate) => candidate.number >= part.number), ...state.beyond]) stale[dropped.number] = dropped.etag;
    await writeManifest(api, keys, { ...manifest, stale });
  }
  for (const segment of state.segments) {
    if (segment.start >= length) {
      await api.deleteObject(segment.key);
    } else if (segment.end > length) {
      const kept = await readPieces(api, [{ key: segment.key, start: segment.start, end: length, skip: 0 }]);
      await api.putObject(segment.key, Buffer.concat(kept));
    }
  }
  return reconcile(api, keys, id);
}

/**
 * Makes an unfinished blob's parts readable by completing its multipart upload as the blob's
 * object. (A crash right after the completion leaves the old upload id in the manifest; reconcile
 * reads a missing upload with an existing object the same way.)
 */
export async function freeze(api: S3Api, keys: KeyLayout, id: string, state: BlobState): Promise<BlobState> {
  const manifest = state.manifest!;
  await api.completeMultipart(keys.blob, manifest.uploadId!, state.parts.map(({ number, etag }) => ({ number, etag })));
  await writeManifest(api, keys, { uploadId: null, size: manifest.size, stale: {} });
  return reconcile(api, keys, id);
}

/**
 * Reopens a frozen blob for writing, keeping its first `keep` bytes (at most all of its object):
 * a new multipart upload whose first parts are server-side copies of them. A part cannot be
 * shortened later, so bytes past `keep` (written, never committed) are not copied at all; fewer
 * than `firstPart` (the size of a blob's first part, at least S3's smallest) are staged as a
 * segment instead. Uploads a crash left on the key are aborted first.
 */
export async function thaw(api: S3Api, keys: KeyLayout, id: string, state: BlobState, firstPart: number, keep = state.prefix): Promise<BlobState> {
  const manifest = state.manifest!;
  const copied = Math.min(keep, state.prefix);
  for (const stray of await api.listMultipartUploads(keys.blob)) await api.abortMultipart(keys.blob, stray);
  const uploadId = await api.createMultipart(keys.blob);
  if (copied > 0 && copied < firstPart) {
    await api.putObject(keys.segment(0), Buffer.concat(await readPieces(api, [{ key: keys.blob, start: 0, end: copied, skip: 0 }])));
  }
  const count = copied < firstPart ? 0 : Math.ceil(copied / COPY_PIECE);
  const piece = Math.ceil(copied / Math.max(1, count));
  const copies: Promise<string>[] = [];
  for (let index = 0; index < count; index += 1) {
    const start = index * piece;
    copies.push(api.copyPart(keys.blob, uploadId, index + 1, keys.blob, start, Math.min(copied, start + piece) - 1));
  }
  await Promise.all(copies);
  await writeManifest(api, keys, { uploadId, size: manifest.size, stale: {} });
  // The parts now hold their own copy; the object would only be overwritten at completion anyway.
  await api.deleteObject(keys.blob);
  return reconcile(api, keys, id);
}
