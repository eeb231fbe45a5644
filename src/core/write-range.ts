import type { Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { lockLost } from '../locks/types.js';
import { canWriteAt, canWriteChunks, type BlobStore, type BlobWriter, type ChunkPlacement } from '../storage/types.js';
import { FerryError, isFerryError } from './errors.js';
import { checksumVerifier, type ChecksumExpectation } from './integrity.js';
import { receiveBody, UploadSink } from './sink.js';

/** How long a request may go without a byte before a retry of the same range takes over. */
const STALL_MS = 1000;

export interface RangeWrite {
  readonly start: number;
  readonly length: number;
  readonly body: Readable;
  /** Digests the client declared for these bytes; all must match. */
  readonly digests: readonly ChecksumExpectation[];
  /** A running hash to feed the bytes to as they pass (the whole file's, at its frontier). */
  readonly alsoHash?: Hash;
  /** Fires when another request wants this range; honoured only once this one has stalled. */
  readonly letGo: AbortSignal;
  /** Names the range in errors, e.g. "chunk 3". */
  readonly label: string;
  /**
   * The chunk these bytes are, for stores that keep chunks as pieces (ChunkWrites, S3 parts)
   * rather than writing them in place; such a store gets the whole chunk or keeps nothing.
   */
  readonly chunk?: Pick<ChunkPlacement, 'index' | 'chunkSize'>;
}

function openFor(store: BlobStore, id: string, range: RangeWrite): Promise<BlobWriter> {
  if (canWriteAt(store)) return store.openWriterAt(id, range.start);
  if (range.chunk !== undefined && canWriteChunks(store)) {
    return store.openChunkWriter(id, { ...range.chunk, start: range.start, length: range.length });
  }
  throw new FerryError('invalid_request', 'this storage cannot take ranges out of order');
}

/**
 * Writes one range of an upload in place and makes it durable. Resolves only when exactly
 * `length` bytes arrived, matched every digest and are on disk; otherwise throws, and the caller
 * records nothing (the bytes stay unclaimed until a retry overwrites them).
 */
export async function writeRange(store: BlobStore, id: string, range: RangeWrite): Promise<void> {
  const { start, length, label } = range;
  const verifiers = range.digests.map(checksumVerifier);
  const writer = await openFor(store, id, range);
  const sink = new UploadSink({
    writer,
    start,
    limit: start + length,
    digests: range.alsoHash ? [...verifiers, range.alsoHash] : verifiers,
    checkpointEvery: null,
    onCheckpoint: async () => undefined,
  });
  const whenStalled = onlyWhenStalled(range.letGo, () => sink.stored);
  const broken = await receiveBody(range.body, sink, whenStalled.signal).finally(whenStalled.dispose);
  if (lockLost(range.letGo)) throw range.letGo.reason;
  if (sink.storageError) throw sink.storageError;
  if (sink.overflow) throw new FerryError('chunk_length_mismatch', `${label} is longer than ${length} bytes`);
  if (broken) throw new FerryError('client_aborted', `${label} ended after ${sink.stored} of ${length} bytes`);
  // A body that ended cleanly but short (a multipart part has no length of its own) is the client's
  // mistake, not a break.
  if (sink.stored !== length) throw new FerryError('chunk_length_mismatch', `${label} has ${sink.stored} bytes, not ${length}`);
  verifyDigests(verifiers, label);
}

/**
 * Reads the body of a range that is already stored, checked as writeRange checks one (length and
 * digests) but kept nowhere: the stored copy stays as it is, and a client re-sending a chunk still
 * hears when this copy of it was damaged on the way.
 */
export async function checkResentRange(range: Pick<RangeWrite, 'length' | 'body' | 'digests' | 'label'>): Promise<void> {
  const { length, label } = range;
  const verifiers = range.digests.map(checksumVerifier);
  let received = 0;
  try {
    for await (const chunk of range.body as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > length) break;
      for (const verifier of verifiers) verifier.update(chunk);
    }
  } catch {
    throw new FerryError('client_aborted', `${label} ended after ${received} of ${length} bytes`);
  }
  if (received > length) throw new FerryError('chunk_length_mismatch', `${label} is longer than ${length} bytes`);
  if (received !== length) throw new FerryError('chunk_length_mismatch', `${label} has ${received} bytes, not ${length}`);
  verifyDigests(verifiers, label);
}

function verifyDigests(verifiers: readonly { verify(): void }[], label: string): void {
  try {
    for (const verifier of verifiers) verifier.verify();
  } catch (err) {
    if (isFerryError(err, 'checksum_mismatch')) throw new FerryError('digest_mismatch', `${label} does not match its digest`);
    throw err;
  }
}

/**
 * A second request for a range that is still streaming is usually a client retrying after its
 * first connection died without the server noticing: that one is cut off so the retry can go on.
 * A duplicate sent while the first copy is still flowing just waits for it instead. A lost lock
 * cuts the request off at once.
 */
function onlyWhenStalled(letGo: AbortSignal, progress: () => number): { signal: AbortSignal; dispose: () => void } {
  const stalled = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const watch = () => {
    if (lockLost(letGo)) {
      stalled.abort(letGo.reason);
      return;
    }
    let seen = progress();
    timer = setInterval(() => {
      const now = progress();
      if (now === seen) stalled.abort();
      seen = now;
    }, STALL_MS);
  };
  if (letGo.aborted) watch();
  else letGo.addEventListener('abort', watch, { once: true });
  return {
    signal: stalled.signal,
    dispose: () => {
      clearInterval(timer);
      letGo.removeEventListener('abort', watch);
    },
  };
}
