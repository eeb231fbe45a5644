import type { Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { lockLost } from '../locks/types.js';
import type { MetaStore } from '../meta/types.js';
import { canDeferLength, canRead, type BlobStore } from '../storage/types.js';
import { FerryError, isFerryError } from './errors.js';
import type { UploadEventBus } from './events.js';
import { receiveBody, UploadSink } from './sink.js';
import { checksumVerifier, newSha256, type ChecksumExpectation, type ContentHashes } from './integrity.js';
import type { Quota } from './quota.js';
import type { Upload } from './upload.js';
import type { UploadLimits } from './uploads.js';

export interface AppendRequest {
  /** Where the client believes the upload stands. */
  readonly offset: number;
  readonly body: Readable;
  /** The body's declared length, when the request has one. */
  readonly contentLength?: number | null;
  /** The total length, when this request declares it (deferred length, IETF Upload-Length). */
  readonly declaredSize?: number | null;
  /** The client says this body ends the upload (IETF Upload-Complete: ?1). */
  readonly completes?: boolean;
  readonly checksum?: ChecksumExpectation | null;
  /** Told each time a checkpoint makes more of this request's bytes durable. */
  readonly onProgress?: (durableOffset: number) => void;
}

export interface AppendContext {
  readonly store: BlobStore;
  readonly meta: MetaStore;
  readonly hashes: ContentHashes;
  readonly limits: UploadLimits;
  readonly quota: Quota;
  readonly events: UploadEventBus;
  readonly now: () => Date;
  readonly finish: (upload: Upload, sha256: string) => Promise<Upload>;
}

/**
 * Appends one request body to an upload the caller holds the lock for. The offset only ever moves to
 * bytes that are durable, verified and within the declared length.
 */
export async function appendToUpload(ctx: AppendContext, upload: Upload, request: AppendRequest, letGo: AbortSignal): Promise<Upload> {
  if (upload.concat?.kind === 'final') throw new FerryError('final_upload_patch', 'a final upload cannot be appended to');
  if (request.offset !== upload.offset) {
    throw new FerryError('offset_mismatch', `the upload is at offset ${upload.offset}, not ${request.offset}`, {
      details: { expectedOffset: upload.offset, providedOffset: request.offset },
    });
  }
  const size = settleSize(ctx.limits, upload, request);
  const lengthLimit = size ?? ctx.limits.maxSize ?? Number.MAX_SAFE_INTEGER;
  if (request.contentLength != null && upload.offset + request.contentLength > lengthLimit) {
    throw new FerryError('body_exceeds_length', 'the request body would go past the upload length', { details: { size } });
  }
  if (upload.state === 'completed') return upload;
  if (size !== upload.size && size !== null) {
    upload = await ctx.quota.declareSize(upload, size);
    if (canDeferLength(ctx.store)) await ctx.store.declareLength(upload.id, size);
  }
  // A declared length was reserved against the quota; bytes of unknown length get the room left now.
  const room = size === null ? await ctx.quota.room(upload.ownerId) : null;
  const quotaLimit = upload.offset + (room?.bytes ?? Number.POSITIVE_INFINITY);
  if (request.contentLength != null && upload.offset + request.contentLength > quotaLimit) throw room!.filledUp();
  const limit = Math.min(lengthLimit, quotaLimit);

  const hash = await contentHash(ctx, upload);
  const verifier = request.checksum ? checksumVerifier(request.checksum) : null;
  // A checksummed chunk counts only once verified, so its hash state must be restorable.
  const hashBefore = verifier ? hash.copy() : null;

  let committed = upload.offset;
  const writer = await ctx.store.openWriter(upload.id, upload.offset).catch((err: unknown) => {
    if (isFerryError(err, 'blob_complete')) return null;
    throw err;
  });
  if (!writer) return completeFromStorage(ctx, upload, size);
  const sink = new UploadSink({
    writer,
    start: upload.offset,
    limit,
    digests: verifier ? [hash, verifier] : [hash],
    checkpointEvery: verifier ? null : ctx.limits.checkpointBytes,
    onCheckpoint: async (durable) => {
      // A checkpoint never reaches the end: only the request's own completion may complete the upload.
      if ((size !== null && durable >= size) || lockLost(letGo)) return;
      await ctx.meta.uploads.recordProgress(upload.id, { offset: durable });
      committed = durable;
      request.onProgress?.(durable);
    },
  });
  const aborted = await receiveBody(request.body, sink, letGo);
  if (lockLost(letGo)) throw letGo.reason;
  const reached = upload.offset + sink.stored;
  const filledUp = isFerryError(sink.storageError, 'storage_full') ? sink.storageError : sink.overflow && quotaLimit < lengthLimit ? room!.filledUp() : null;
  if (filledUp) {
    // What arrived before the disk or the quota filled up is durable (receiveBody synced it): the
    // client resumes from there once there is room. A checksummed request counts only as a whole.
    const refused = sink.storageError !== null;
    await keepDurable(ctx, upload, verifier ? committed : reached, { hash: refused || verifier ? null : hash, freeBeyond: refused || verifier !== null });
    throw filledUp;
  }
  if (sink.storageError) throw sink.storageError;
  const discard = sink.overflow || (verifier !== null && aborted);
  if (discard || verifier) {
    try {
      if (sink.overflow) throw new FerryError('body_exceeds_length', 'the request body goes past the upload length');
      if (discard) throw new FerryError('client_aborted', 'the request ended before its checksum could be verified');
      verifier?.verify();
    } catch (err) {
      await ctx.store.truncate(upload.id, committed);
      if (hashBefore && committed === upload.offset) ctx.hashes.put(upload.id, { hash: hashBefore, covered: committed });
      throw err;
    }
  }

  const completes = request.completes === true && !aborted;
  if (completes && size !== null && reached !== size) {
    throw new FerryError('inconsistent_length', `the upload was declared as ${size} bytes but ended at ${reached}`);
  }
  const finalSize = completes ? reached : size;
  const progressed: Upload = { ...upload, size: finalSize, offset: reached };
  if (sink.stored > 0) ctx.events.emit('received', progressed, sink.stored);
  if (finalSize !== null && reached === finalSize) {
    return ctx.finish(progressed, hash.digest('hex'));
  }
  ctx.hashes.put(upload.id, { hash, covered: reached });
  const expiresAt = new Date(ctx.now().getTime() + ctx.limits.expiryMs);
  // The size, if this request declared it, was recorded (durably) by quota.declareSize above.
  return (await ctx.meta.uploads.recordProgress(upload.id, { offset: reached, expiresAt })) ?? progressed;
}

/**
 * Keeps the first `kept` bytes of an upload whose request ran out of room. `freeBeyond` frees
 * what the blob holds past them (a write the disk refused may have landed in part); `hash`, when
 * it covers exactly the kept bytes, spares the next request re-reading them.
 */
async function keepDurable(ctx: AppendContext, upload: Upload, kept: number, after: { hash: Hash | null; freeBeyond: boolean }): Promise<void> {
  if (after.freeBeyond) await ctx.store.truncate(upload.id, kept);
  if (after.hash) ctx.hashes.put(upload.id, { hash: after.hash, covered: kept });
  if (kept === upload.offset) return;
  const progressed = await ctx.meta.uploads.recordProgress(upload.id, { offset: kept, expiresAt: new Date(ctx.now().getTime() + ctx.limits.expiryMs) });
  ctx.events.emit('received', progressed ?? { ...upload, offset: kept }, kept - upload.offset);
}

/**
 * Storage holds the blob as complete while the record is open: the request that completed it died
 * between the two (S3 completes a multipart upload before Ferry records it). The bytes are final,
 * so the completion is recorded from them, read once; the request's own bytes are not needed.
 */
async function completeFromStorage(ctx: AppendContext, upload: Upload, size: number | null): Promise<Upload> {
  const gone = () => new FerryError('upload_gone', 'the stored bytes of this upload cannot be resumed; start a new upload');
  if (size === null || !canRead(ctx.store)) throw gone();
  const hash = newSha256();
  let length = 0;
  for await (const chunk of ctx.store.read(upload.id) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    length += chunk.length;
  }
  if (length !== size) throw gone();
  return ctx.finish({ ...upload, size, offset: size }, hash.digest('hex'));
}

/** The upload's length after this request, checked against what was declared before and the limits. */
function settleSize(limits: UploadLimits, upload: Upload, request: AppendRequest): number | null {
  let size = upload.size;
  const declared = request.declaredSize ?? null;
  if (declared !== null) {
    if (size !== null && size !== declared) {
      throw new FerryError('inconsistent_length', `the upload length is ${size}, not ${declared}`);
    }
    if (declared < upload.offset) throw new FerryError('inconsistent_length', 'the upload length is below the bytes already received');
    size = declared;
  }
  if (request.completes && request.contentLength != null) {
    const implied = upload.offset + request.contentLength;
    if (size !== null && size !== implied) {
      throw new FerryError('inconsistent_length', `the request completes the upload at ${implied} bytes, but its length is ${size}`);
    }
    size = implied;
  }
  if (size !== null && limits.maxSize !== null && size > limits.maxSize) {
    throw new FerryError('too_large', `the upload is larger than the ${limits.maxSize}-byte maximum`, { details: { maxSize: limits.maxSize } });
  }
  return size;
}

/** The running hash of the upload's stored prefix, rebuilt from storage when this process has none. */
async function contentHash(ctx: AppendContext, upload: Upload): Promise<Hash> {
  const session = ctx.hashes.take(upload.id, upload.offset);
  if (session) return session.hash;
  const hash = newSha256();
  if (upload.offset === 0) return hash;
  if (!canRead(ctx.store)) throw new FerryError('invalid_request', 'this storage cannot resume hashing');
  let covered = 0;
  for await (const chunk of ctx.store.read(upload.id, { start: 0, end: upload.offset - 1 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    covered += chunk.length;
  }
  if (covered !== upload.offset) {
    await ctx.meta.uploads.update(upload.id, { state: 'terminated', expiresAt: null });
    ctx.events.emit('failed', upload.id, 'stored bytes were lost');
    throw new FerryError('upload_gone', 'the stored bytes of this upload were lost; start a new upload');
  }
  return hash;
}
