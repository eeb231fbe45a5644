import type { Readable } from 'node:stream';
import type { Lock, Locker } from '../locks/types.js';
import type { MetaStore } from '../meta/types.js';
import { canConcat, canDeferLength, canFinish, canRead, canTerminate, type BlobStore } from '../storage/types.js';
import { FerryError, isFerryError, type ErrorCode } from './errors.js';
import { UploadEventBus } from './events.js';
import { ContentHashes, newSha256 } from './integrity.js';
import type { LibraryService } from './library.js';
import type { PreCreateHook } from './pre-create.js';
import type { Principal } from './principal.js';
import type { StoredFile } from './file.js';
import { appendToUpload, type AppendContext, type AppendRequest } from './append.js';
import { Quota, type QuotaLimits } from './quota.js';
import { isEnded, isUploadId, newUploadId, type ConcatRole, type Metadata, type Upload } from './upload.js';

export interface UploadLimits extends QuotaLimits {
  /** Largest upload accepted, in bytes; null for no limit. */
  readonly maxSize: number | null;
  /** How long an unfinished upload lives after its last append. */
  readonly expiryMs: number;
  /** How long a request waits for another request on the same upload to let go. */
  readonly lockTimeoutMs: number;
  /** During one long request, make progress durable every this many bytes. */
  readonly checkpointBytes: number;
}

export interface CreateRequest {
  readonly size: number | null;
  readonly metadata: Metadata;
  readonly concat?: ConcatRole | null;
  /** Native chunk API: the upload's chunk size (chunks then arrive in any order). */
  readonly chunkSize?: number | null;
  readonly chunkCount?: number | null;
  readonly expectedSha256?: string | null;
}

export interface UploadServiceDeps {
  readonly store: BlobStore;
  readonly meta: MetaStore;
  readonly locker: Locker;
  readonly library: LibraryService;
  readonly limits: UploadLimits;
  readonly preCreate?: PreCreateHook;
  readonly events?: UploadEventBus;
  readonly now?: () => Date;
}

export interface Download {
  readonly upload: Upload;
  /** The library file the upload became; null for a tus partial upload, which stays an upload. */
  readonly file: StoredFile | null;
  readonly body: Readable;
}

/** The one owner of uploads: every protocol adapter goes through here. */
export class UploadService {
  readonly events: UploadEventBus;
  readonly limits: UploadLimits;
  private readonly store: BlobStore;
  private readonly meta: MetaStore;
  private readonly locker: Locker;
  private readonly library: LibraryService;
  private readonly preCreate: PreCreateHook | null;
  private readonly hashes = new ContentHashes(10_000);
  private readonly now: () => Date;
  private readonly appendContext: AppendContext;
  private readonly quota: Quota;
  /** One per append in progress: aborting it makes that request stop and keep what arrived. */
  private readonly streaming = new Set<AbortController>();
  private stopped = false;

  constructor(deps: UploadServiceDeps) {
    this.store = deps.store;
    this.meta = deps.meta;
    this.locker = deps.locker;
    this.library = deps.library;
    this.preCreate = deps.preCreate ?? null;
    this.limits = deps.limits;
    this.events = deps.events ?? new UploadEventBus();
    this.now = deps.now ?? (() => new Date());
    this.quota = new Quota(this.meta.uploads, this.limits);
    this.appendContext = {
      quota: this.quota,
      store: this.store,
      meta: this.meta,
      hashes: this.hashes,
      limits: this.limits,
      now: this.now,
      events: this.events,
      finish: (upload, sha256) => this.finish(upload, sha256),
    };
  }

  /**
   * For shutdown: requests still streaming stop reading, keep the bytes that arrived and commit
   * their offsets, so clients resume elsewhere without losing anything.
   */
  stopAppends(): void {
    this.stopped = true;
    for (const append of this.streaming) append.abort();
  }

  /** Requests streaming bytes into uploads in this process right now. */
  get streamingCount(): number { return this.streaming.size; }

  get supportsTermination(): boolean { return canTerminate(this.store); }
  get supportsConcatenation(): boolean { return canConcat(this.store) && canRead(this.store); }
  get supportsDeferredLength(): boolean { return canDeferLength(this.store); }

  async create(owner: Principal, request: CreateRequest): Promise<Upload> {
    const size = request.concat?.kind === 'final' ? await this.finalSize(owner, request.concat.parts) : request.size;
    if (size !== null) this.checkSize(size);
    else if (!this.supportsDeferredLength) throw new FerryError('invalid_request', 'this storage needs the upload length up front');
    await this.preCreate?.check({ owner, size, metadata: request.metadata });
    const now = this.now();
    const upload: Upload = {
      id: newUploadId(),
      ownerId: owner.userId,
      size,
      offset: 0,
      metadata: request.metadata,
      state: 'open',
      concat: request.concat ?? null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.limits.expiryMs),
      completedAt: null,
      sha256: null,
      chunkSize: request.chunkSize ?? null,
      chunkCount: request.chunkCount ?? null,
      expectedSha256: request.expectedSha256 ?? null,
      fileId: null,
    };
    // The record comes first: storage created for an upload with no record (a node killed in
    // between) would be bytes that nothing ever removes, while a record without storage expires.
    await this.quota.insert(upload);
    try {
      await this.store.create(upload.id);
      // A store that plans by length (S3 part sizes) hears it now; deferred lengths come with an append.
      if (size !== null && canDeferLength(this.store)) await this.store.declareLength(upload.id, size);
    } catch (err) {
      // Storage may have done part of it (S3 carries out a request whose answer was lost). If what
      // it holds cannot be removed now, the record expires at once and the sweep removes it later.
      const removed = !canTerminate(this.store) || (await this.store.remove(upload.id).then(() => true, () => false));
      await this.meta.uploads.update(upload.id, removed ? { state: 'terminated', expiresAt: null } : { expiresAt: now }).catch(() => undefined);
      throw err;
    }
    this.events.emit('created', upload);
    if (upload.concat?.kind === 'final') return this.concatenate(upload, upload.concat.parts);
    if (size === 0) return this.finish(upload, newSha256().digest('hex'));
    return upload;
  }

  /** The upload as a protocol may show it; unknown, foreign and ended uploads are errors. */
  async get(owner: Principal, id: string): Promise<Upload> {
    const upload = await this.load(owner, id);
    if (isEnded(upload)) throw new FerryError('upload_gone', `upload ${upload.state}`);
    return upload;
  }

  /**
   * The upload's current state for an offset query. A request still streaming into the upload is
   * asked to let go first, so the offset answered is one the next append will be accepted at.
   */
  async status(owner: Principal, id: string): Promise<Upload> {
    await this.get(owner, id);
    const lock = await this.lockFor(id);
    try {
      return await this.get(owner, id);
    } finally {
      await lock.release();
    }
  }

  async append(owner: Principal, id: string, request: AppendRequest): Promise<Upload> {
    await this.get(owner, id);
    const lock = await this.lockFor(id);
    try {
      const upload = await this.get(owner, id);
      if (upload.chunkSize !== null) throw new FerryError('invalid_request', 'this upload takes numbered chunks');
      return await this.streamUnder(lock, (letGo) => appendToUpload(this.appendContext, upload, request, letGo));
    } finally {
      await lock.release();
    }
  }

  /**
   * Runs a request that streams a body into storage under `lock`. The signal fires when the body
   * should be cut off: another request wants the lock, or the server is shutting down.
   */
  async streamUnder<T>(lock: Lock, work: (letGo: AbortSignal) => Promise<T>): Promise<T> {
    const letGo = new AbortController();
    // The reason goes with the signal: it says whether the lock was lost (lockLost).
    if (lock.releaseRequested.aborted) letGo.abort(lock.releaseRequested.reason);
    else if (this.stopped) letGo.abort();
    lock.releaseRequested.addEventListener('abort', () => letGo.abort(lock.releaseRequested.reason), { once: true });
    this.streaming.add(letGo);
    try {
      return await work(letGo.signal);
    } finally {
      this.streaming.delete(letGo);
    }
  }

  /**
   * Deletes an upload and its bytes; a request still streaming into it is asked to let go first.
   * A completed upload's bytes belong to its library file, so terminating it deletes that file
   * (other files with the same content keep it).
   */
  async terminate(owner: Principal, id: string): Promise<void> {
    if (!canTerminate(this.store)) throw new FerryError('invalid_request', 'this storage cannot delete uploads');
    await this.get(owner, id);
    const lock = await this.lockFor(id);
    try {
      const upload = await this.get(owner, id);
      if (upload.fileId !== null) await this.library.remove(owner, upload.fileId).catch(ignoreCode('file_not_found'));
      await this.discard(upload);
    } finally {
      await lock.release();
    }
  }

  /** Ends an unfinished upload and frees its bytes; the caller holds its lock. */
  async discard(upload: Upload): Promise<void> {
    if (upload.fileId === null && canTerminate(this.store)) await this.store.remove(upload.id);
    this.hashes.forget(upload.id);
    const ended = await this.meta.uploads.update(upload.id, { state: 'terminated', expiresAt: null });
    if (ended) this.events.emit('terminated', ended);
  }

  /** Bytes an unfinished upload holds, for re-hashing them. */
  readStored(id: string, range: { start: number; end: number }): AsyncIterable<Buffer> {
    if (!canRead(this.store)) throw new FerryError('invalid_request', 'this storage cannot read back uploads');
    return this.store.read(id, range) as AsyncIterable<Buffer>;
  }

  /** The file a completed upload became; deleting the file from the library ends the upload's URL too. */
  async completedFile(owner: Principal, id: string): Promise<{ upload: Upload; file: StoredFile | null }> {
    const upload = await this.get(owner, id);
    if (upload.state !== 'completed') throw new FerryError('not_completed', 'the upload is not complete yet');
    if (upload.fileId === null) return { upload, file: null };
    const file = await this.meta.library.getFile(owner.userId, upload.fileId);
    if (!file) throw new FerryError('upload_gone', 'the file of this upload was deleted');
    return { upload, file };
  }

  async openDownload(owner: Principal, id: string, range?: { start: number; end: number }): Promise<Download> {
    const { upload, file } = await this.completedFile(owner, id);
    if (file) return { upload, file, body: (await this.library.openFileContent(file, range)).body };
    if (!canRead(this.store)) throw new FerryError('invalid_request', 'this storage cannot serve downloads');
    return { upload, file, body: this.store.read(id, range) };
  }

  /** Removes unfinished uploads whose time is up. Returns how many were swept. */
  async sweepExpired(batch = 100): Promise<number> {
    const expired = await this.meta.uploads.listExpired(this.now(), batch);
    let swept = 0;
    for (const candidate of expired) {
      // Busy right now: someone is still using it, so it is not idle; and it must not be disturbed.
      const lock = await this.locker.tryAcquire(this.lockKey(candidate.id));
      if (!lock) continue;
      try {
        const upload = await this.meta.uploads.get(candidate.id);
        if (!upload || (upload.state !== 'open' && upload.state !== 'paused') || !upload.expiresAt || upload.expiresAt > this.now()) continue;
        if (canTerminate(this.store)) await this.store.remove(upload.id);
        this.hashes.forget(upload.id);
        const ended = await this.meta.uploads.update(upload.id, { state: 'expired', expiresAt: null });
        if (ended) this.events.emit('expired', ended);
        swept += 1;
      } finally {
        await lock.release();
      }
    }
    return swept;
  }

  async ready(): Promise<void> {
    await Promise.all([this.store.ping(), this.meta.ping()]);
  }

  private async load(owner: Principal, id: string): Promise<Upload> {
    const upload = isUploadId(id) ? await this.meta.uploads.get(id) : null;
    if (!upload || upload.ownerId !== owner.userId) throw new FerryError('upload_not_found', 'no such upload');
    return upload;
  }

  private lockKey(id: string): string {
    return `upload:${id}`;
  }

  /**
   * Exclusive access to an upload, or to one part of it (`chunk:3`: chunks of one upload are
   * written in parallel); unknown-looking ids fail before any lock is taken.
   */
  async lockFor(id: string, part?: string): Promise<Lock> {
    if (!isUploadId(id)) throw new FerryError('upload_not_found', 'no such upload');
    const key = part === undefined ? this.lockKey(id) : `${this.lockKey(id)}:${part}`;
    return this.locker.acquire(key, this.limits.lockTimeoutMs);
  }

  private checkSize(size: number): void {
    const { maxSize } = this.limits;
    if (maxSize !== null && size > maxSize) {
      throw new FerryError('too_large', `the upload is larger than the ${maxSize}-byte maximum`, { details: { maxSize } });
    }
  }

  private async finalSize(owner: Principal, parts: readonly string[]): Promise<number> {
    if (!this.supportsConcatenation) throw new FerryError('invalid_concat', 'this storage cannot concatenate uploads');
    if (parts.length === 0) throw new FerryError('invalid_concat', 'a final upload needs at least one partial upload');
    let total = 0;
    for (const partId of parts) {
      const part = await this.load(owner, partId).catch(() => null);
      if (!part || isEnded(part) || part.concat?.kind !== 'partial') {
        throw new FerryError('invalid_concat', `${partId} is not a partial upload`);
      }
      if (part.state !== 'completed' || part.size === null) {
        throw new FerryError('invalid_concat', `partial upload ${partId} is not complete`);
      }
      total += part.size;
    }
    return total;
  }

  private async concatenate(upload: Upload, parts: readonly string[]): Promise<Upload> {
    if (!canConcat(this.store)) throw new FerryError('invalid_concat', 'this storage cannot concatenate uploads');
    const hash = newSha256();
    const length = await this.store.concat(upload.id, parts, (chunk) => hash.update(chunk));
    if (length !== upload.size) throw new Error(`concatenation produced ${length} bytes, expected ${upload.size}`);
    return this.finish({ ...upload, offset: length }, hash.digest('hex'));
  }

  /** Partial uploads of a tus concatenation stay uploads; everything else becomes a library file. */
  private async finish(upload: Upload, sha256: string): Promise<Upload> {
    // The bytes are final: a store that assembles pieces (S3 multipart) makes them one blob now.
    if (canFinish(this.store)) await this.store.finish(upload.id);
    const completed = upload.concat?.kind === 'partial'
      ? await this.meta.uploads.update(upload.id, {
        size: upload.offset, offset: upload.offset, state: 'completed', completedAt: this.now(), expiresAt: null, sha256,
      })
      : await this.library.completeUpload(upload, sha256);
    if (!completed) throw new FerryError('upload_not_found', 'upload vanished while completing');
    this.events.emit('completed', completed);
    return completed;
  }
}

function ignoreCode(code: ErrorCode): (err: unknown) => void {
  return (err) => {
    if (!isFerryError(err, code)) throw err;
  };
}
