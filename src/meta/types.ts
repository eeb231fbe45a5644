import type { TokenRecord, User } from '../core/account.js';
import type { Blob, StoredBytes, StoredFile } from '../core/file.js';
import type { Upload } from '../core/upload.js';

/**
 * The storage a user holds: every byte of their library files (content stored once still counts
 * for each file, as it is each user's file), plus what their unfinished uploads reserve (the
 * declared size, or the bytes received while the length is deferred) and the bytes of completed
 * tus partial uploads, which stay until deleted.
 */
export interface StorageUsage {
  readonly bytes: number;
  /** Uploads that are open or paused. */
  readonly openUploads: number;
  /** The user's own quota (AccountRecords.setQuota), in place of the configured one; null when none is set. */
  readonly quotaBytes: number | null;
}

/** Decides, from an owner's usage before a change, whether the change may happen. */
export type UsageCheck = (usage: StorageUsage) => boolean;

/** The fields of an upload that change after creation. */
export type UploadChanges = Partial<Pick<Upload, 'size' | 'offset' | 'state' | 'expiresAt' | 'completedAt' | 'sha256' | 'fileId'>>;

export interface UploadRecords {
  insert(upload: Upload): Promise<void>;
  get(id: string): Promise<Upload | null>;
  usage(ownerId: string): Promise<StorageUsage>;
  /**
   * Inserts the upload only if `allows` accepts its owner's usage without it, and returns that
   * usage. The check and the insert are one step against every other insertIf and updateIf for
   * the same owner, on every node: two creations cannot both fit into the last free bytes.
   */
  insertIf(upload: Upload, allows: UsageCheck): Promise<{ inserted: boolean; usage: StorageUsage }>;
  /**
   * Applies the changes to the upload of `ownerId` only if `allows` accepts the owner's usage
   * before them, one step as insertIf; `upload` is null when nothing changed (refused, or unknown).
   */
  updateIf(ownerId: string, id: string, changes: UploadChanges, allows: UsageCheck): Promise<{ upload: Upload | null; usage: StorageUsage }>;
  /** Applies the changes and returns the updated record; null when the id is unknown. */
  update(id: string, changes: UploadChanges): Promise<Upload | null>;
  /**
   * update() for the commonest write of all, an unfinished upload's new offset and expiry once its
   * bytes are durable (every request and checkpoint). Once it resolves a crash of the process
   * cannot undo it, but a store may make it survive a power cut only a moment later (SQLite flushes
   * it in the background): a power cut can then leave the upload at an earlier offset, whose
   * bytes are durable too, never at a later one.
   */
  recordProgress(id: string, progress: Pick<UploadChanges, 'offset' | 'expiresAt'>): Promise<Upload | null>;
  /** Open or paused uploads whose expiry is at or before `now`, oldest first. */
  listExpired(now: Date, limit: number): Promise<Upload[]>;
  /** Records that chunk `index` of a chunked upload is stored; true if it was not recorded before. */
  addChunk(id: string, index: number): Promise<boolean>;
  hasChunk(id: string, index: number): Promise<boolean>;
  /** The indexes of the stored chunks, ascending. */
  listChunks(id: string): Promise<number[]>;
  /**
   * Records that bytes [start, end) of an upload are stored, unless that overlaps a recorded
   * range: then false, and nothing changes. For protocols whose clients choose their own blocks.
   */
  addRange(id: string, start: number, end: number): Promise<boolean>;
  /** The recorded ranges, by start. */
  listRanges(id: string): Promise<{ start: number; end: number }[]>;
  /** The upload a client-chosen name (a flow.js identifier) stands for, for this owner and protocol. */
  findAlias(ownerId: string, protocol: string, alias: string): Promise<string | null>;
  /**
   * Points the name at `uploadId` if it points nowhere or at `replacing`, atomically, and returns
   * the upload it points at afterwards: when two requests race to create an upload for one name,
   * both learn the winner.
   */
  claimAlias(ownerId: string, protocol: string, alias: string, uploadId: string, replacing: string | null): Promise<string>;
}

export interface StoredToken {
  readonly token: TokenRecord;
  readonly user: User;
}

export interface AccountRecords {
  /** Throws FerryError `username_taken` when the (lower-cased) name exists. */
  insertUser(user: User, passwordHash: string | null): Promise<void>;
  getUser(id: string): Promise<User | null>;
  findUserByName(username: string): Promise<{ user: User; passwordHash: string | null } | null>;
  /** Users of this kind, oldest first. */
  listUsers(kind: User['kind']): Promise<User[]>;
  insertToken(token: TokenRecord, tokenHash: string): Promise<void>;
  /** The token with this hash and its user, if it exists and has not expired at `now`. */
  findToken(tokenHash: string, now: Date): Promise<StoredToken | null>;
  /** The token with this id, its user and its hash, if it exists and has not expired at `now` (signed links name tokens by id). */
  findTokenById(id: string, now: Date): Promise<(StoredToken & { readonly tokenHash: string }) | null>;
  listTokens(userId: string, kind: TokenRecord['kind']): Promise<TokenRecord[]>;
  /** True when the user had a token with this id. */
  deleteToken(userId: string, tokenId: string): Promise<boolean>;
  deleteTokenByHash(tokenHash: string): Promise<boolean>;
  deleteExpiredTokens(now: Date): Promise<number>;
  /** Gives the user a storage quota of their own (null: the configured one again); false for an unknown user. */
  setQuota(userId: string, quotaBytes: number | null): Promise<boolean>;
}

export type FileSort = 'name' | 'size' | 'time';

export interface FileQuery {
  readonly sort: FileSort;
  readonly order: 'asc' | 'desc';
  /** Case-insensitive substring of the name. */
  readonly nameContains: string | null;
  /** Only names under this folder (a `/`-terminated prefix), or null for all. */
  readonly folder: string | null;
  readonly limit: number;
  readonly offset: number;
}

/** Which blobs an instant upload may match, beyond the user's own files. */
export type DedupScope = { readonly kind: 'global' } | { readonly kind: 'tenant'; readonly tenant: string } | { readonly kind: 'user' };

/** A message to deliver to an HTTP endpoint (webhook, business-server callback), at least once. */
export interface OutboxEntry {
  /** Unique per message: receivers use it to drop duplicates. */
  readonly id: string;
  readonly destination: string;
  /** Messages with the same destination and key are delivered one at a time, in order. */
  readonly orderingKey: string;
  /** The JSON body, exactly as it will be sent and signed. */
  readonly body: string;
  readonly createdAt: Date;
}

export interface PendingDelivery extends OutboxEntry {
  readonly seq: number;
  readonly attempts: number;
}

export interface OutboxRecords {
  enqueue(entries: readonly OutboxEntry[]): Promise<void>;
  /**
   * Claims the messages due at `now` that are first in line for their destination and ordering
   * key (nothing older with that key is still pending), oldest first: they are not due again for
   * `leaseMs`, so that several workers never send one message, or one line, at the same time. A
   * worker that dies holding a claim only delays its messages by the lease.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<PendingDelivery[]>;
  markDelivered(seq: number): Promise<void>;
  /** Schedules another attempt, or with null gives the message up (it stops blocking its line). */
  markFailed(seq: number, nextAttemptAt: Date | null, error: string): Promise<void>;
  /** Counts of pending and given-up messages, for metrics and tests. */
  counts(): Promise<{ pending: number; dead: number }>;
}

export interface UploadCompletion {
  readonly uploadId: string;
  readonly changes: UploadChanges;
  /** The file to add; its sha256 is the content address. */
  readonly file: StoredFile;
  /**
   * Where this upload's own bytes are. They become the blob when the content is new, and are
   * queued for removal when the content is already stored.
   */
  readonly storageKey: string;
  /** Complete only when the content is already stored (instant upload); never store new bytes. */
  readonly onlyIfStored: boolean;
  /** Messages about the completion, queued in the same transaction so that none is lost. */
  readonly outbox?: readonly OutboxEntry[];
}

/** A blob's bytes copied from one store to another, to be pointed at (LibraryRecords.moveBlob). */
export interface BlobMove {
  readonly sha256: string;
  readonly storageKey: string;
  readonly from: string;
  readonly to: string;
  /** When the bytes left behind in `from` may be removed. */
  readonly sourceDueAt: Date;
}

export interface ProofChallengeRecord {
  readonly uploadId: string;
  /** Opaque to the store: the library decides what a challenge is. */
  readonly challenge: string;
  readonly expiresAt: Date;
}

export interface LibraryRecords {
  /**
   * In one transaction: take a reference on the blob (or create it from `storageKey`), add the file
   * and mark the upload completed with it. Null, with nothing changed, when `onlyIfStored` is set
   * and no blob holds the content. Throws `upload_not_found` for an unknown upload and
   * `upload_gone` for one that is no longer open or paused (a second completion), changing nothing.
   */
  completeUpload(completion: UploadCompletion): Promise<{ upload: Upload; file: StoredFile; deduplicated: boolean } | null>;
  getFile(ownerId: string, id: string): Promise<StoredFile | null>;
  listFiles(ownerId: string, query: FileQuery): Promise<{ files: StoredFile[]; total: number }>;
  renameFile(ownerId: string, id: string, name: string, now: Date): Promise<StoredFile | null>;
  /**
   * Removes the file and drops its reference, in one transaction; the last reference removes the
   * blob row and queues its bytes for removal. False when the user has no such file.
   */
  deleteFile(ownerId: string, id: string): Promise<boolean>;
  getBlob(sha256: string): Promise<Blob | null>;
  /** A file of this user with this content, if any. */
  findOwnedContent(ownerId: string, sha256: string): Promise<StoredFile | null>;
  /** The blob, if it exists and the scope lets a user reach it by possession. */
  findBlobInScope(sha256: string, scope: DedupScope): Promise<Blob | null>;
  /**
   * The user's most recently added file (latest createdAt, then highest id) whose content has this
   * lowercase hex SHA-1, for clients that name files by it. Only blobs whose digests are set match.
   */
  findOwnedBySha1(ownerId: string, sha1: string): Promise<StoredFile | null>;
  /** A blob with this SHA-1 that the scope reaches, as findBlobInScope; the oldest when several match. */
  findBlobBySha1(sha1: string, scope: DedupScope): Promise<Blob | null>;
  setBlobDigests(sha256: string, digests: { sha1: string; md5: string }): Promise<void>;
  listBlobsWithoutDigests(limit: number): Promise<Blob[]>;
  /**
   * Bytes no blob or upload references any more that may be removed at `now`, earliest due first.
   * Bytes a blob was moved away from, and bytes a copy is writing, come due later (see below).
   */
  listDeadBlobs(now: Date, limit: number): Promise<StoredBytes[]>;
  forgetDeadBlob(bytes: StoredBytes): Promise<void>;
  /** Blobs in store `from`, created before `createdBefore`, that no copy to `to` is planned for; oldest first. */
  listBlobsToMove(from: string, to: string, createdBefore: Date, limit: number): Promise<Blob[]>;
  /**
   * Records that a copy of a blob is about to be written at `target`: those bytes are dead, due for
   * removal at `dueAt`, unless moveBlob commits the copy first. A copy whose writer dies is so
   * cleaned up by the sweep. Planning again moves `dueAt`.
   */
  planBlobCopy(target: StoredBytes, dueAt: Date): Promise<void>;
  /**
   * In one transaction: points the blob at its copy in `to` if it still has this storage key and
   * is still in `from`, takes the copy off the dead list and queues the bytes in `from` for removal
   * at `sourceDueAt`. False, changing nothing, when the blob is gone or elsewhere.
   */
  moveBlob(move: BlobMove): Promise<boolean>;
  putChallenge(record: ProofChallengeRecord): Promise<void>;
  /** Returns and deletes the challenge: each one can be answered once. */
  takeChallenge(uploadId: string): Promise<ProofChallengeRecord | null>;
}

/**
 * Where Ferry's records live. Every implementation must pass test/meta/conformance.ts.
 */
export interface MetaStore {
  readonly uploads: UploadRecords;
  readonly accounts: AccountRecords;
  readonly library: LibraryRecords;
  readonly outbox: OutboxRecords;
  ping(): Promise<void>;
  close(): Promise<void>;
}
