import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach } from 'node:test';
import type { TokenRecord, User } from '../../src/core/account.js';
import { UPLOAD_STORE, type StoredFile } from '../../src/core/file.js';
import { LOCAL_USER } from '../../src/core/principal.js';
import { newUploadId, type Upload } from '../../src/core/upload.js';
import type { FileQuery, MetaStore, UploadCompletion } from '../../src/meta/types.js';

/** A fresh store for each test, holding only what migrations create; `dispose` runs after `close`. */
export interface StoreFactory {
  create(): Promise<MetaStore>;
  dispose?(store: MetaStore): Promise<void>;
}

/** Opens a store before each test of the enclosing suite and closes it after; call the result inside a test. */
export function useStore(factory: StoreFactory): () => MetaStore {
  let current: MetaStore | null = null;
  beforeEach(async () => { current = await factory.create(); });
  afterEach(async () => {
    const store = current;
    current = null;
    if (!store) return;
    await store.close();
    await factory.dispose?.(store);
  });
  return () => {
    assert.ok(current, 'the store is only open inside a test');
    return current;
  };
}

export const T0 = new Date('2026-01-02T03:04:05.678Z');

/** `T0` moved by some minutes. */
export function at(minutes: number, from: Date = T0): Date {
  return new Date(from.getTime() + minutes * 60_000);
}

export function randomId(): string {
  return randomBytes(16).toString('hex');
}

/** The content address of a label: distinct labels give distinct contents. */
export function sha256Of(label: string): string {
  return createHash('sha256').update(label).digest('hex');
}

export function sampleUpload(overrides: Partial<Upload> = {}): Upload {
  return {
    id: newUploadId(),
    ownerId: LOCAL_USER.userId,
    size: 1000,
    offset: 0,
    metadata: { filename: 'résumé.pdf', empty: null },
    state: 'open',
    concat: null,
    createdAt: T0,
    expiresAt: at(24 * 60),
    completedAt: null,
    sha256: null,
    chunkSize: null,
    chunkCount: null,
    expectedSha256: null,
    fileId: null,
    ...overrides,
  };
}

/** A user whose username is already lower-case, so it reads back exactly as given. */
export function sampleUser(overrides: Partial<User> = {}): User {
  return { id: randomId(), username: `user-${randomId().slice(0, 12)}`, kind: 'person', tenant: 'acme', createdAt: T0, ...overrides };
}

export async function insertUser(store: MetaStore, overrides: Partial<User> = {}, passwordHash: string | null = 'argon2-hash'): Promise<User> {
  const user = sampleUser(overrides);
  await store.accounts.insertUser(user, passwordHash);
  return user;
}

export function sampleToken(userId: string, overrides: Partial<TokenRecord> = {}): TokenRecord {
  return { id: randomId(), userId, kind: 'session', name: null, createdAt: T0, expiresAt: at(60), ...overrides };
}

export function sampleFile(ownerId: string, overrides: Partial<StoredFile> = {}): StoredFile {
  return {
    id: randomId(),
    ownerId,
    name: 'report.pdf',
    size: 1000,
    type: 'application/pdf',
    sha256: sha256Of('report'),
    createdAt: at(10),
    updatedAt: at(10),
    ...overrides,
  };
}

/** What a completed upload of `file` changes, as core/library.ts asks for it. */
export function completionOf(upload: Upload, file: StoredFile, onlyIfStored = false): UploadCompletion {
  return {
    uploadId: upload.id,
    changes: { size: file.size, offset: file.size, state: 'completed', completedAt: file.createdAt, expiresAt: null, sha256: file.sha256 },
    file,
    storageKey: upload.id,
    onlyIfStored,
  };
}

export interface Stored {
  readonly upload: Upload;
  readonly file: StoredFile;
  readonly deduplicated: boolean;
}

/** Inserts an upload of `file.ownerId` and completes it into `file`; fails the test if the store declines. */
export async function storeFile(store: MetaStore, ownerId: string, overrides: Partial<StoredFile> = {}, onlyIfStored = false): Promise<Stored> {
  const file = sampleFile(ownerId, overrides);
  const upload = sampleUpload({ ownerId, size: file.size });
  await store.uploads.insert(upload);
  const result = await store.library.completeUpload(completionOf(upload, file, onlyIfStored));
  assert.ok(result, 'completeUpload declined');
  return { upload: result.upload, file: result.file, deduplicated: result.deduplicated };
}

export function fileQuery(overrides: Partial<FileQuery> = {}): FileQuery {
  return { sort: 'name', order: 'asc', nameContains: null, folder: null, limit: 100, offset: 0, ...overrides };
}

/** Every dead storage key in the upload store, due or not, whatever the store's batch size. */
export async function allDeadBlobs(store: MetaStore): Promise<string[]> {
  const dead = await store.library.listDeadBlobs(new Date(8.64e15), 10_000);
  return dead.filter((bytes) => bytes.store === UPLOAD_STORE).map((bytes) => bytes.storageKey);
}
