import type { Readable } from 'node:stream';
import type { Lock } from '../locks/types.js';
import type { DedupScope, MetaStore } from '../meta/types.js';
import { canFinish, canPresignChunks, canWriteAt, canWriteChunks, type BlobStore, type ChunkPlacement, type ChunkUploadUrl } from '../storage/types.js';
import { FerryError } from './errors.js';
import { HashFrontiers, type ChunkSource } from './frontier.js';
import { newSha256, type ChecksumExpectation } from './integrity.js';
import { extraDigests, type LibraryService } from './library.js';
import { cleanMediaType, parseFileName } from './names.js';
import type { Principal } from './principal.js';
import { expectedProof, newChallenge, parseChallenge, proofMatches, serializeChallenge, type ProofChallenge } from './proof.js';
import { checkResentRange, writeRange } from './write-range.js';
import type { Metadata, Upload } from './upload.js';
import type { UploadService } from './uploads.js';

/** Chunks map one to one onto the parts of an S3 multipart upload, which allows 10,000. */
export const MAX_CHUNKS = 10_000;
export const MAX_CHUNK_SIZE = 1024 ** 3;
const EMPTY_SHA256 = newSha256().digest('hex');
/** How long a presigned chunk URL stays good. */
const PRESIGN_TTL_SECONDS = 15 * 60;

export interface ChunkedCreateRequest {
  readonly name: string;
  readonly size: number;
  readonly type?: string | null;
  /** Hex SHA-256 of the whole file: enables instant upload and is checked at completion. */
  readonly sha256?: string | null;
  readonly chunkSize?: number | null;
  /**
   * `ceil` (the default): the last chunk is the shorter remainder. `floor`: flow.js's layout, where
   * the last chunk takes the remainder on top of a full chunk.
   */
  readonly layout?: 'ceil' | 'floor';
  /** Protocol fields to keep with the upload (filestore's declared SHA-1); the name and type win. */
  readonly metadata?: Metadata;
}

export interface CompleteOptions {
  /**
   * Hex SHA-1 the whole file must have, for clients that name files by it. Checked before the file
   * is added, at the cost of one read of the file; a mismatch fails the upload like a SHA-256 one.
   */
  readonly sha1?: string | null;
  /** The file's name, for protocols that learn it only at completion (replaces the upload's). */
  readonly name?: string | null;
}

/** An instant upload named by SHA-1 (filestore-server's fastupload). */
export interface Sha1InstantRequest {
  readonly name: string;
  readonly size: number;
  /** Lowercase hex SHA-1 of the content. */
  readonly sha1: string;
  /**
   * Also take content stored by others within the dedup scope on the hash alone. Unsafe, an
   * operator's opt-in: anyone who knows a hash then gets the file.
   */
  readonly trustSha1: boolean;
}

export interface ChunkRequest {
  readonly body: Readable;
  readonly contentLength: number | null;
  /** Digests of the chunk, when the protocol has them; every one must match before the chunk counts. */
  readonly digests: readonly ChecksumExpectation[];
  /** The number the protocol gives the first chunk, for errors to name chunks as the client does (flow.js: 1); 0 if absent. */
  readonly firstNumber?: number;
}

/** What a client that sent a chunk straight to storage says it sent. */
export interface DirectChunkClaim {
  /** Hex or base64 MD5 of the chunk: checked against what storage reports before the chunk counts. */
  readonly md5: string;
}

/** Where to send one chunk's bytes so they bypass Ferry. */
export interface ChunkUploadTarget extends ChunkUploadUrl {
  readonly index: number;
  /** Exactly this many bytes must be sent. */
  readonly size: number;
}

/** An upload of the native chunk API as its client sees it. */
export interface ChunkedStatus {
  readonly upload: Upload;
  readonly chunkCount: number;
  /** Indexes of the chunks still to send, ascending. */
  readonly missing: readonly number[];
  /** True when the upload completed from stored content without receiving its bytes. */
  readonly instant: boolean;
  /** Present when the server will complete the upload on proof that the client holds the file. */
  readonly challenge: ProofChallenge | null;
}

export interface ChunkedUploadsDeps {
  readonly uploads: UploadService;
  readonly library: LibraryService;
  readonly store: BlobStore;
  readonly meta: MetaStore;
  readonly dedupScope: 'global' | 'tenant' | 'user';
  readonly defaultChunkSize: number;
  readonly now?: () => Date;
}

/**
 * The native chunk API: an upload is cut into numbered chunks that arrive in any order, in
 * parallel, each verified by its own digest and written in place at its offset.
 */
export class ChunkedUploads {
  private readonly frontiers = new HashFrontiers(10_000);
  private readonly now: () => Date;

  constructor(private readonly deps: ChunkedUploadsDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Creates an upload. With a declared SHA-256 it may complete at once: from the user's own file
   * with that content, or, for content stored by others, after a proof of possession. A
   * challenge is issued for any content the user does not own, stored or not, so that its answer
   * never tells whether someone else has the file.
   */
  async create(owner: Principal, request: ChunkedCreateRequest): Promise<ChunkedStatus> {
    const { uploads, library } = this.deps;
    const name = parseFileName(request.name);
    const { chunkSize, chunkCount } = this.chunking(request);
    const sha256 = request.sha256?.toLowerCase() ?? null;
    if (request.size === 0 && sha256 !== null && sha256 !== EMPTY_SHA256) {
      throw new FerryError('sha256_mismatch', 'an empty file has a different SHA-256');
    }
    const upload = await uploads.create(owner, {
      size: request.size,
      metadata: { ...request.metadata, filename: name, filetype: cleanMediaType(request.type) },
      chunkSize,
      chunkCount,
      expectedSha256: sha256,
    });
    if (sha256 === null || upload.state === 'completed') return this.describe(upload);
    const owned = await library.findOwnedContent(owner, sha256);
    if (owned && owned.size === request.size) {
      const completed = await library.completeFromStored(upload, sha256, request.size);
      if (completed) {
        uploads.events.emit('completed', completed);
        return this.describe(completed, { instant: true });
      }
    }
    if (this.deps.dedupScope === 'user') return this.describe(upload);
    const challenge = newChallenge(request.size, this.now());
    await this.deps.meta.library.putChallenge({ uploadId: upload.id, challenge: serializeChallenge(challenge), expiresAt: challenge.expiresAt });
    return this.describe(upload, { challenge });
  }

  /**
   * Instant upload for clients that name content by SHA-1 and cannot answer a challenge: a new file
   * from the owner's own content with this SHA-1 and size or, only when `trustSha1`, from content
   * the dedup scope reaches. Null when there is none (or it was deleted meanwhile): the client
   * uploads the bytes. The completed upload carries the new file's id.
   */
  async completeFromSha1(owner: Principal, request: Sha1InstantRequest): Promise<Upload | null> {
    const { uploads, library } = this.deps;
    const name = parseFileName(request.name);
    const owned = await library.findOwnedBySha1(owner, request.sha1);
    let source = owned && owned.size === request.size ? { sha256: owned.sha256, type: owned.type } : null;
    if (!source && request.trustSha1) {
      const blob = await library.findReachableBlobBySha1(request.sha1, this.scopeOf(owner));
      if (blob && blob.size === request.size) source = { sha256: blob.sha256, type: cleanMediaType(null) };
    }
    if (!source) return null;
    const upload = await uploads.create(owner, {
      size: request.size,
      metadata: { filename: name, filetype: source.type },
      expectedSha256: source.sha256,
    });
    // An empty file completes as it is created.
    if (upload.state === 'completed') return upload;
    const completed = await library.completeFromStored(upload, source.sha256, request.size);
    if (!completed) {
      // Nobody else knows this upload's id yet, so no lock is needed to end it.
      await uploads.discard(upload);
      return null;
    }
    uploads.events.emit('completed', completed);
    return completed;
  }

  async status(owner: Principal, id: string): Promise<ChunkedStatus> {
    return this.describe(await this.load(owner, id));
  }

  /**
   * Stores one chunk. It counts only once its length and digests check out and it is durable; a
   * chunk that is already stored is not written again (its bytes may already be in the hash).
   */
  async putChunk(owner: Principal, id: string, index: number, request: ChunkRequest): Promise<ChunkedStatus> {
    const upload = await this.load(owner, id);
    const firstNumber = request.firstNumber ?? 0;
    const { start, length } = checkedChunk(upload, index, firstNumber);
    const label = `chunk ${index + firstNumber}`;
    if (request.contentLength !== null && request.contentLength !== length) {
      throw new FerryError('chunk_length_mismatch', `${label} has ${length} bytes, not ${request.contentLength}`);
    }
    if (upload.state === 'paused') throw new FerryError('upload_paused', 'the upload is paused; resume it first');
    const answerResent = async () => {
      await checkResentRange({ length, body: request.body, digests: request.digests, label });
      return this.describe(upload);
    };
    if (upload.state === 'completed' || (await this.deps.meta.uploads.hasChunk(id, index))) return answerResent();
    if (!canWriteAt(this.deps.store) && !canWriteChunks(this.deps.store)) throw new FerryError('invalid_request', 'this storage cannot take chunks out of order');

    const lock = await this.deps.uploads.lockFor(id, `chunk:${index}`);
    try {
      if (await this.deps.meta.uploads.hasChunk(id, index)) return await answerResent();
      await this.deps.uploads.streamUnder(lock, (letGo) => this.receive(upload, { index, start, length, label }, request, letGo));
    } finally {
      await lock.release();
    }
    const refreshed = (await this.deps.meta.uploads.update(id, { expiresAt: new Date(this.now().getTime() + this.deps.uploads.limits.expiryMs) })) ?? upload;
    this.deps.uploads.events.emit('received', refreshed, length);
    // Catch-up hashing happens after the answer; completion waits for whatever is left of it.
    if (!this.piecewise) this.frontiers.advance(id, this.source(refreshed)).catch(() => undefined);
    return this.describe(refreshed);
  }

  /**
   * A URL the client PUTs chunk `index` to, straight into storage (an S3 presigned UploadPart),
   * for stores that offer it; the chunk counts only once confirmChunk() has checked it.
   */
  async presignChunk(owner: Principal, id: string, index: number): Promise<ChunkUploadTarget> {
    const { store } = this.deps;
    if (!canPresignChunks(store)) throw new FerryError('invalid_request', 'this storage does not take chunks directly: PUT them to Ferry');
    const upload = await this.load(owner, id);
    const chunk = checkedChunk(upload, index);
    if (upload.state === 'paused') throw new FerryError('upload_paused', 'the upload is paused; resume it first');
    if (upload.state === 'completed') throw new FerryError('invalid_request', 'the upload is already complete');
    if (await this.deps.meta.uploads.hasChunk(id, index)) throw new FerryError('invalid_request', `chunk ${index} is already stored`);
    const url = await store.presignChunk(id, chunk, PRESIGN_TTL_SECONDS);
    return { ...url, index, size: chunk.length };
  }

  /**
   * Records a chunk the client sent straight to storage, after checking what storage holds: its
   * exact length and its MD5 (S3 reports a part's MD5 as its ETag). A chunk that does not match
   * is not recorded; the client sends it again to the same place, which replaces it.
   */
  async confirmChunk(owner: Principal, id: string, index: number, claim: DirectChunkClaim): Promise<ChunkedStatus> {
    const { store } = this.deps;
    if (!canPresignChunks(store)) throw new FerryError('invalid_request', 'this storage does not take chunks directly: PUT them to Ferry');
    const md5 = md5Hex(claim.md5);
    const upload = await this.load(owner, id);
    const { length } = checkedChunk(upload, index);
    if (upload.state === 'paused') throw new FerryError('upload_paused', 'the upload is paused; resume it first');
    if (upload.state === 'completed') return this.describe(upload);
    const lock = await this.deps.uploads.lockFor(id, `chunk:${index}`);
    try {
      if (!(await this.deps.meta.uploads.hasChunk(id, index))) {
        const stored = await store.statChunk(id, index);
        if (!stored) throw new FerryError('upload_incomplete', `chunk ${index} has not reached storage`);
        if (stored.size !== length) throw new FerryError('chunk_length_mismatch', `chunk ${index} must have ${length} bytes; storage holds ${stored.size}`);
        if (stored.md5 === null) throw new FerryError('invalid_request', 'this storage cannot report the MD5 of a chunk (server-side encryption), so it cannot be checked');
        if (stored.md5 !== md5) throw new FerryError('digest_mismatch', `chunk ${index} as stored does not match its MD5`);
        await this.deps.meta.uploads.addChunk(id, index);
      }
    } finally {
      await lock.release();
    }
    const refreshed = (await this.deps.meta.uploads.update(id, { expiresAt: new Date(this.now().getTime() + this.deps.uploads.limits.expiryMs) })) ?? upload;
    this.deps.uploads.events.emit('received', refreshed, length);
    return this.describe(refreshed);
  }

  /**
   * True when the store keeps chunks as separate pieces (S3 parts) that cannot be read before
   * completion. Then the whole file's SHA-256 is computed at completion by reading the completed
   * object once, rather than by the live hash frontier. That was chosen over hashing the chunks
   * that happen to arrive at the frontier live and reading only the rest because: (1) a chunk
   * beyond the frontier cannot be read back until the multipart upload is complete, and with
   * parallel clients the frontier stalls within a few chunks anyway; (2) chunks sent straight to
   * storage never pass through Ferry, and a presigned URL can still replace a part after it was
   * checked, so only a hash of the completed object is certain to describe the stored bytes; (3)
   * it works the same whichever node received which chunk. The cost is one read of the file from
   * the object store, inside the data centre, and no copy.
   */
  private get piecewise(): boolean {
    return !canWriteAt(this.deps.store) && canWriteChunks(this.deps.store);
  }

  /**
   * Completes the upload once every chunk is stored. The whole file's SHA-256 comes from the hash
   * frontier, so normally nothing is read here; a declared SHA-256 that differs fails the upload,
   * because no single chunk can be blamed and re-sent. A SHA-1 to check (`options.sha1`) costs one
   * read of the file, whose SHA-1 and MD5 are then recorded with its blob.
   */
  async complete(owner: Principal, id: string, options: CompleteOptions = {}): Promise<ChunkedStatus> {
    const lock = await this.lockOwned(owner, id);
    try {
      const upload = await this.load(owner, id);
      if (upload.state === 'completed') return this.describe(upload);
      const source = this.source(upload);
      const stored = await this.deps.meta.uploads.listChunks(id);
      if (stored.length < source.count) {
        throw new FerryError('upload_incomplete', `${source.count - stored.length} chunks are still missing`, { details: { missing: missingOf(stored, source.count) } });
      }
      const size = plan(upload).size;
      // The bytes are final: a store that keeps chunks as pieces (S3 parts) joins them now, in place.
      if (canFinish(this.deps.store)) await this.deps.store.finish(id);
      const sha256 = this.piecewise ? await this.hashStored(upload, size) : await this.frontiers.digest(id, source);
      if (sha256 === null) throw new Error(`upload ${id} has every chunk recorded but the hash frontier stopped short`);
      if (upload.expectedSha256 !== null && upload.expectedSha256 !== sha256) {
        this.frontiers.forget(id);
        await this.deps.uploads.discard(upload);
        throw new FerryError('sha256_mismatch', `the file's SHA-256 is ${sha256}, not the declared ${upload.expectedSha256}; upload it again`);
      }
      const name = options.name ? parseFileName(options.name) : null;
      const expectedSha1 = options.sha1?.toLowerCase() ?? null;
      const digests = expectedSha1 === null ? null : await extraDigests(this.deps.uploads.readStored(id, { start: 0, end: size - 1 }));
      if (digests && digests.sha1 !== expectedSha1) {
        this.frontiers.forget(id);
        await this.deps.uploads.discard(upload);
        throw new FerryError('sha1_mismatch', `the file's SHA-1 is ${digests.sha1}, not the declared ${expectedSha1}; upload it again`);
      }
      const metadata = name === null ? upload.metadata : { ...upload.metadata, filename: name };
      const completed = await this.deps.library.completeUpload({ ...upload, metadata, offset: size }, sha256);
      if (digests) await this.deps.library.ensureDigests(sha256, digests);
      this.frontiers.forget(id);
      this.deps.uploads.events.emit('completed', completed);
      return this.describe(completed);
    } finally {
      await lock.release();
    }
  }

  /**
   * Checks the answer to the upload's challenge. A right answer completes the upload from the
   * stored content; anything else (a wrong answer, content that is not stored or not reachable)
   * gets the same reply: the upload stays open and the client sends the chunks.
   */
  async prove(owner: Principal, id: string, answer: string): Promise<ChunkedStatus> {
    const lock = await this.lockOwned(owner, id);
    try {
      const upload = await this.load(owner, id);
      if (upload.state === 'completed') return this.describe(upload);
      const record = await this.deps.meta.library.takeChallenge(id);
      if (!record) throw new FerryError('invalid_request', 'this upload has no open challenge');
      const challenge = parseChallenge(record.challenge);
      const sha256 = upload.expectedSha256!;
      const blob = await this.deps.library.findReachableBlob(sha256, this.scopeOf(owner));
      if (blob && blob.size === upload.size && challenge.expiresAt > this.now()) {
        const expected = await expectedProof(challenge, (range) => this.deps.library.readBlob(blob, range)).catch(() => null);
        if (expected !== null && proofMatches(expected, answer)) {
          const completed = await this.deps.library.completeFromStored(upload, sha256, blob.size);
          if (completed) {
            this.deps.uploads.events.emit('completed', completed);
            return this.describe(completed, { instant: true });
          }
        }
      }
      return this.describe(upload);
    } finally {
      await lock.release();
    }
  }

  /** Pausing makes the server refuse chunks until the upload is resumed. */
  async setPaused(owner: Principal, id: string, paused: boolean): Promise<ChunkedStatus> {
    const lock = await this.lockOwned(owner, id);
    try {
      const upload = await this.load(owner, id);
      if (upload.state === 'completed') throw new FerryError('invalid_request', 'the upload is already complete');
      const state = paused ? 'paused' : 'open';
      const changed = upload.state === state ? upload : await this.deps.meta.uploads.update(id, { state });
      return this.describe(changed ?? upload);
    } finally {
      await lock.release();
    }
  }

  async cancel(owner: Principal, id: string): Promise<void> {
    const upload = await this.load(owner, id);
    if (upload.state === 'completed') throw new FerryError('invalid_request', 'the upload is complete: delete its file instead');
    await this.deps.uploads.terminate(owner, id);
    this.frontiers.forget(id);
  }

  /**
   * The SHA-256 of a completed piecewise blob, read once; the blob must have exactly `size` bytes
   * (a part replaced through a presigned URL after it was checked could change that).
   */
  private async hashStored(upload: Upload, size: number): Promise<string> {
    const hash = newSha256();
    let bytes = 0;
    if (size > 0) {
      for await (const chunk of this.deps.uploads.readStored(upload.id, { start: 0, end: size - 1 })) {
        hash.update(chunk);
        bytes += chunk.length;
      }
    }
    const stored = await this.deps.store.length(upload.id);
    if (bytes !== size || stored !== size) {
      await this.deps.uploads.discard(upload);
      throw new FerryError('chunk_length_mismatch', `the stored file has ${stored} bytes, not ${size}: a chunk was replaced after it was checked; upload it again`);
    }
    return hash.digest('hex');
  }

  private async receive(upload: Upload, chunk: { index: number; start: number; length: number; label: string }, request: ChunkRequest, letGo: AbortSignal): Promise<void> {
    const { index, start, length, label } = chunk;
    const live = this.piecewise ? null : this.frontiers.claim(upload.id, index);
    try {
      await writeRange(this.deps.store, upload.id, {
        start, length, body: request.body, digests: request.digests, alsoHash: live?.hash, letGo,
        label, chunk: { index, chunkSize: plan(upload).chunkSize },
      });
    } catch (err) {
      live?.abandon();
      throw err;
    }
    live?.commit();
    try {
      await this.deps.meta.uploads.addChunk(upload.id, index);
    } catch (err) {
      // The hash already holds this chunk's bytes; without the record it must be rebuilt.
      this.frontiers.forget(upload.id);
      throw err;
    }
  }

  /** Asking for a lock makes its holder let go, which only the owner may cause: ownership comes first. */
  private async lockOwned(owner: Principal, id: string): Promise<Lock> {
    await this.load(owner, id);
    return this.deps.uploads.lockFor(id);
  }

  private async load(owner: Principal, id: string): Promise<Upload> {
    const upload = await this.deps.uploads.get(owner, id);
    if (upload.chunkSize === null) throw new FerryError('upload_not_found', 'no such upload');
    return upload;
  }

  private async describe(upload: Upload, extra: { instant?: boolean; challenge?: ProofChallenge } = {}): Promise<ChunkedStatus> {
    const { count } = plan(upload);
    const missing = upload.state === 'completed' ? [] : missingOf(await this.deps.meta.uploads.listChunks(upload.id), count);
    return { upload, chunkCount: count, missing, instant: extra.instant ?? false, challenge: extra.challenge ?? null };
  }

  private source(upload: Upload): ChunkSource {
    return {
      count: plan(upload).count,
      isStored: (index) => this.deps.meta.uploads.hasChunk(upload.id, index),
      read: (index) => {
        const { start, end } = chunkRange(upload, index);
        return end > start ? this.deps.uploads.readStored(upload.id, { start, end: end - 1 }) : emptyChunk();
      },
    };
  }

  private chunking(request: ChunkedCreateRequest): { chunkSize: number; chunkCount: number } {
    const { size } = request;
    if (!Number.isSafeInteger(size) || size < 0) throw new FerryError('invalid_request', 'size must be a whole number of bytes');
    const smallest = Math.ceil(size / MAX_CHUNKS);
    let chunkSize = request.chunkSize ?? null;
    if (chunkSize === null) {
      const mib = 1024 * 1024;
      chunkSize = Math.max(this.deps.defaultChunkSize, Math.ceil(smallest / mib) * mib);
    } else if (!Number.isSafeInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
      throw new FerryError('invalid_request', `chunkSize must be from 1 to ${MAX_CHUNK_SIZE} bytes`);
    }
    const chunkCount = chunkCountFor(size, chunkSize, request.layout);
    // A store that keeps chunks as pieces joins small ones only at the end (S3: parts under 5 MiB),
    // so the size Ferry picks is one it takes as they come.
    const { store } = this.deps;
    const least = canWriteChunks(store) && !canWriteAt(store) ? store.minChunkSize : 0;
    if (chunkCount > 1 && chunkSize < least && (request.chunkSize === null || request.chunkSize === undefined)) {
      return this.chunking({ ...request, chunkSize: least });
    }
    if (chunkCount > MAX_CHUNKS) throw new FerryError('invalid_request', `at most ${MAX_CHUNKS} chunks: chunkSize must be at least ${smallest}`);
    return { chunkSize, chunkCount };
  }

  private scopeOf(owner: Principal): DedupScope {
    const { dedupScope } = this.deps;
    return dedupScope === 'tenant' ? { kind: 'tenant', tenant: owner.tenant } : { kind: dedupScope };
  }
}

/** Chunk `index` of the upload, which must exist; errors number chunks from `firstNumber`. */
function checkedChunk(upload: Upload, index: number, firstNumber = 0): ChunkPlacement {
  const { count, chunkSize } = plan(upload);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new FerryError('chunk_out_of_range', `the chunk number must be from ${firstNumber} to ${count - 1 + firstNumber}`);
  }
  const { start, end } = chunkRange(upload, index);
  return { index, start, length: end - start, chunkSize };
}

/** A client's MD5, hex or base64, as lowercase hex. */
function md5Hex(claimed: string): string {
  if (/^[0-9a-fA-F]{32}$/.test(claimed)) return claimed.toLowerCase();
  if (/^[A-Za-z0-9+/]{22}(==)?$/.test(claimed)) return Buffer.from(claimed, 'base64').toString('hex');
  throw new FerryError('invalid_digest', 'md5 must be 32 hex digits or base64');
}

function plan(upload: Upload): { chunkSize: number; count: number; size: number } {
  const chunkSize = upload.chunkSize!;
  const size = upload.size ?? 0;
  return { chunkSize, count: upload.chunkCount ?? Math.ceil(size / chunkSize), size };
}

export function chunkCountFor(size: number, chunkSize: number, layout: ChunkedCreateRequest['layout'] = 'ceil'): number {
  return layout === 'floor' ? Math.max(1, Math.floor(size / chunkSize)) : Math.ceil(size / chunkSize);
}

/** Where chunk `index` lies: [start, end). The last chunk runs to the end of the file. */
export function chunkRange(upload: Upload, index: number): { start: number; end: number } {
  const { chunkSize, count, size } = plan(upload);
  const start = index * chunkSize;
  return { start, end: index === count - 1 ? size : start + chunkSize };
}

async function* emptyChunk(): AsyncIterable<Buffer> {
  // flow.js sends an empty file as one chunk of no bytes: nothing to read or hash.
}

function missingOf(stored: readonly number[], count: number): number[] {
  const have = new Set(stored);
  const missing: number[] = [];
  for (let index = 0; index < count; index += 1) if (!have.has(index)) missing.push(index);
  return missing;
}
