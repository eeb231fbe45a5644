import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { DedupScope, FileQuery, MetaStore, OutboxEntry } from '../meta/types.js';
import { MemoryLocker } from '../locks/memory.js';
import type { Locker } from '../locks/types.js';
import type { ByteRange } from '../storage/types.js';
import { blobLockKey, type BlobStores } from './blob-stores.js';
import { FerryError } from './errors.js';
import type { UploadEventBus } from './events.js';
import type { Blob, StoredFile } from './file.js';
import { cleanFileName, cleanMediaType, parseFileName } from './names.js';
import type { Principal } from './principal.js';
import type { Upload } from './upload.js';

export interface FileDetails extends StoredFile {
  readonly sha1: string | null;
  readonly md5: string | null;
}

/** The digests besides SHA-256 that compatibility protocols name files by. */
export interface ExtraDigests {
  readonly sha1: string;
  readonly md5: string;
}

export interface FileContent {
  readonly file: StoredFile;
  readonly body: Readable;
}

/** Messages to queue with a completion, in its transaction (webhooks, business-server callbacks). */
export type CompletionMessages = (upload: Upload, file: StoredFile) => OutboxEntry[];

export interface LibraryServiceDeps {
  readonly stores: BlobStores;
  readonly meta: MetaStore;
  /** Shared with blob transfers (see tiering.ts); in-process locks when only one node runs. */
  readonly locker?: Locker;
  readonly events?: UploadEventBus;
  readonly now?: () => Date;
}

/** 128 random bits, hex, like upload ids. */
export function newFileId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Each user's files, over blobs that hold each distinct content once. A user only ever sees their
 * own files: anyone else's id is answered exactly like an id that does not exist.
 */
export class LibraryService {
  private readonly stores: BlobStores;
  private readonly meta: MetaStore;
  private readonly locker: Locker;
  private readonly now: () => Date;
  private readonly events: UploadEventBus | null;
  private readonly completionMessages: CompletionMessages[] = [];
  /** Digests being computed, by SHA-256: the background job and a request asking at once share one read. */
  private readonly digesting = new Map<string, Promise<ExtraDigests | null>>();

  constructor(deps: LibraryServiceDeps) {
    this.stores = deps.stores;
    this.meta = deps.meta;
    this.locker = deps.locker ?? new MemoryLocker();
    this.events = deps.events ?? null;
    this.now = deps.now ?? (() => new Date());
  }

  async list(owner: Principal, query: FileQuery): Promise<{ files: FileDetails[]; total: number }> {
    // Names are stored in NFC, so a search typed in another normalization form must be converted to match.
    const nameContains = query.nameContains?.normalize('NFC') ?? null;
    const { files, total } = await this.meta.library.listFiles(owner.userId, { ...query, nameContains });
    return { files: await this.withDigests(files), total };
  }

  async get(owner: Principal, id: string): Promise<FileDetails> {
    const [details] = await this.withDigests([await this.find(owner, id)]);
    return details!;
  }

  async rename(owner: Principal, id: string, name: string): Promise<FileDetails> {
    const renamed = await this.meta.library.renameFile(owner.userId, id, parseFileName(name), this.now());
    if (!renamed) throw notFound();
    const [details] = await this.withDigests([renamed]);
    return details!;
  }

  async remove(owner: Principal, id: string): Promise<void> {
    const file = await this.find(owner, id);
    if (!(await this.meta.library.deleteFile(owner.userId, id))) throw notFound();
    this.events?.emit('fileDeleted', file);
  }

  addCompletionMessages(messages: CompletionMessages): void {
    this.completionMessages.push(messages);
  }

  /** The file's bytes, or one inclusive range of them. */
  async openContent(owner: Principal, id: string, range?: ByteRange): Promise<FileContent> {
    return this.openFileContent(await this.find(owner, id), range);
  }

  /** The content of a file already looked up (the download of a completed upload). */
  async openFileContent(file: StoredFile, range?: ByteRange): Promise<FileContent> {
    const blob = await this.meta.library.getBlob(file.sha256);
    // A file row cannot outlive its blob (foreign key), so a missing blob means the file was deleted
    // since it was looked up: that is the client's 404, not a server fault.
    if (!blob) throw notFound();
    // Wherever the blob is now: a move repoints it only after its copy was verified.
    return { file, body: this.stores.read(blob, range) };
  }

  /** One of the owner's files with this content, if any (a re-upload of it can complete at once). */
  findOwnedContent(owner: Principal, sha256: string): Promise<StoredFile | null> {
    return this.meta.library.findOwnedContent(owner.userId, sha256);
  }

  /**
   * The owner's most recently added file whose content has this SHA-1. Content is found by SHA-1
   * once its digests are filled in: at once for uploads that asked for them (ensureDigests), else
   * by the background job shortly after completion.
   */
  findOwnedBySha1(owner: Principal, sha1: string): Promise<StoredFile | null> {
    return this.meta.library.findOwnedBySha1(owner.userId, sha1.toLowerCase());
  }

  /** Stored content with this SHA-1 within the dedup scope (an operator's opt-in to trusting hashes). */
  findReachableBlobBySha1(sha1: string, scope: DedupScope): Promise<Blob | null> {
    return this.meta.library.findBlobBySha1(sha1.toLowerCase(), scope);
  }

  /**
   * SHA-1 and MD5 of stored content, computed now (one read of it) when the background job has not
   * got to it yet. `known`: digests the caller computed from exactly these bytes as they arrived,
   * recorded instead of reading them again. Null when the content is not stored (any more), or this
   * storage cannot read it back.
   */
  async ensureDigests(sha256: string, known?: ExtraDigests): Promise<ExtraDigests | null> {
    const blob = await this.meta.library.getBlob(sha256);
    if (!blob) return null;
    if (blob.sha1 !== null && blob.md5 !== null) return { sha1: blob.sha1, md5: blob.md5 };
    if (known) {
      await this.meta.library.setBlobDigests(sha256, known);
      return known;
    }
    return this.digestBlob(blob);
  }

  /** Stored content that a proof of possession may reach, within the dedup scope. */
  findReachableBlob(sha256: string, scope: DedupScope): Promise<Blob | null> {
    return this.meta.library.findBlobInScope(sha256, scope);
  }

  readBlob(blob: Blob, range: ByteRange): AsyncIterable<Buffer> {
    return this.stores.read(blob, range);
  }

  async find(owner: Principal, id: string): Promise<StoredFile> {
    const file = /^[0-9a-f]{32}$/.test(id) ? await this.meta.library.getFile(owner.userId, id) : null;
    if (!file) throw notFound();
    return file;
  }

  /**
   * Turns a fully received upload into a file of its owner. New content becomes a blob where it
   * lies; content already stored takes a reference on the existing blob, and this upload's copy is
   * queued for removal.
   */
  async completeUpload(upload: Upload, sha256: string): Promise<Upload> {
    const file = this.newFile(upload, sha256, upload.offset);
    const completed = await this.meta.library.completeUpload({
      uploadId: upload.id,
      changes: this.completionChanges(upload.offset, sha256),
      file,
      storageKey: upload.id,
      onlyIfStored: false,
      outbox: this.messagesFor(upload, sha256, file),
    });
    if (!completed) throw new Error('completing an upload with its own bytes cannot need stored content');
    return completed.upload;
  }

  /**
   * Completes an upload from content that is already stored, without receiving a byte. Null when
   * that content is no longer stored (its last file was deleted meanwhile): the upload stays open.
   */
  async completeFromStored(upload: Upload, sha256: string, size: number): Promise<Upload | null> {
    const file = this.newFile(upload, sha256, size);
    const completed = await this.meta.library.completeUpload({
      uploadId: upload.id,
      changes: this.completionChanges(size, sha256),
      file,
      storageKey: upload.id,
      onlyIfStored: true,
      outbox: this.messagesFor(upload, sha256, file),
    });
    return completed?.upload ?? null;
  }

  /** Removes the bytes of blobs and uploads nothing references any more. Returns how many. */
  async sweepUnreferenced(batch = 100): Promise<number> {
    const dead = await this.meta.library.listDeadBlobs(this.now(), batch);
    let removed = 0;
    for (const bytes of dead) {
      // A transfer copying or reading these bytes holds the lock: it decides whether they live.
      const lock = await this.locker.tryAcquire(blobLockKey(bytes.storageKey));
      if (!lock) continue;
      try {
        if (!(await this.stores.remove(bytes))) continue;
        await this.meta.library.forgetDeadBlob(bytes);
        removed += 1;
      } finally {
        await lock.release();
      }
    }
    return removed;
  }

  /**
   * Fills in SHA-1 and MD5 of new blobs. They are for clients and compatibility protocols that
   * name files by them; only SHA-256 is needed on the upload path, so these cost one background
   * read per distinct content instead of hashing time on every upload.
   */
  async fillDigests(batch = 10): Promise<number> {
    const blobs = await this.meta.library.listBlobsWithoutDigests(batch);
    for (const blob of blobs) await this.digestBlob(blob);
    return blobs.length;
  }

  /** Reads the blob once to fill in its digests; concurrent callers for one blob share the read. */
  private digestBlob(blob: Blob): Promise<ExtraDigests | null> {
    let pending = this.digesting.get(blob.sha256);
    if (!pending) {
      pending = (async () => {
        const digests = await extraDigests(this.stores.read(blob));
        await this.meta.library.setBlobDigests(blob.sha256, digests);
        return digests;
      })().finally(() => this.digesting.delete(blob.sha256));
      this.digesting.set(blob.sha256, pending);
    }
    return pending;
  }

  /**
   * SHA-1 and MD5 live on the blob. One lookup per distinct content of a page (at most 1000, by
   * primary key) keeps the record-store contract unchanged; a store that pays a round trip per
   * lookup should answer listFiles with a join instead.
   */
  private async withDigests(files: readonly StoredFile[]): Promise<FileDetails[]> {
    const blobs = new Map<string, Blob | null>();
    for (const sha256 of new Set(files.map((file) => file.sha256))) blobs.set(sha256, await this.meta.library.getBlob(sha256));
    return files.map((file) => {
      const blob = blobs.get(file.sha256);
      return { ...file, sha1: blob?.sha1 ?? null, md5: blob?.md5 ?? null };
    });
  }

  /** The messages are about the upload as it will be once completed. */
  private messagesFor(upload: Upload, sha256: string, file: StoredFile): OutboxEntry[] {
    const completed: Upload = { ...upload, ...this.completionChanges(file.size, sha256), fileId: file.id };
    return this.completionMessages.flatMap((messages) => messages(completed, file));
  }

  private completionChanges(size: number, sha256: string) {
    return { size, offset: size, state: 'completed' as const, completedAt: this.now(), expiresAt: null, sha256 };
  }

  private newFile(upload: Upload, sha256: string, size: number): StoredFile {
    const now = this.now();
    const metadata = upload.metadata;
    return {
      id: newFileId(),
      ownerId: upload.ownerId,
      name: cleanFileName(metadata.filename ?? metadata.name, `upload-${upload.id.slice(0, 8)}`),
      size,
      type: cleanMediaType(metadata.filetype ?? metadata.type ?? metadata.contentType),
      sha256,
      createdAt: now,
      updatedAt: now,
    };
  }
}

/** SHA-1 and MD5 of a stream of bytes. */
export async function extraDigests(chunks: AsyncIterable<Buffer>): Promise<ExtraDigests> {
  const sha1 = createHash('sha1');
  const md5 = createHash('md5');
  for await (const chunk of chunks) {
    sha1.update(chunk);
    md5.update(chunk);
  }
  return { sha1: sha1.digest('hex'), md5: md5.digest('hex') };
}

function notFound(): FerryError {
  return new FerryError('file_not_found', 'no such file');
}
