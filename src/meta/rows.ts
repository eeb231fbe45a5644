import type { TokenRecord, User } from '../core/account.js';
import type { Blob, StoredFile } from '../core/file.js';
import type { ConcatRole, Metadata, Upload, UploadState } from '../core/upload.js';
import type { FileQuery, PendingDelivery, UploadChanges } from './types.js';

/**
 * The row shapes every SQL store shares, and their conversion to and from the domain models.
 * Dates are epoch milliseconds and JSON is kept as text (its key order survives a round trip),
 * so a row reads the same from SQLite and PostgreSQL.
 */

export interface UploadRow {
  id: string;
  owner_id: string;
  size: number | null;
  offset: number;
  metadata: string;
  state: UploadState;
  concat: string | null;
  created_at: number;
  expires_at: number | null;
  completed_at: number | null;
  sha256: string | null;
  chunk_size: number | null;
  chunk_count: number | null;
  expected_sha256: string | null;
  file_id: string | null;
}

export interface FileRow {
  id: string;
  owner_id: string;
  name: string;
  size: number;
  type: string;
  sha256: string;
  created_at: number;
  updated_at: number;
}

export interface BlobRow {
  sha256: string;
  storage_key: string;
  store: string;
  size: number;
  refs: number;
  sha1: string | null;
  md5: string | null;
  created_at: number;
}

export interface UserRow {
  id: string;
  username: string;
  password_hash: string | null;
  kind: User['kind'];
  tenant: string;
  created_at: number;
}

export interface TokenRow {
  id: string;
  user_id: string;
  kind: TokenRecord['kind'];
  name: string | null;
  created_at: number;
  expires_at: number | null;
}

export interface OutboxRow {
  seq: number;
  id: string;
  destination: string;
  ordering_key: string;
  body: string;
  attempts: number;
  created_at: number;
}

export const SORT_COLUMN: Record<FileQuery['sort'], string> = { name: 'name', size: 'size', time: 'created_at' };

const UPLOAD_COLUMN: Record<keyof UploadChanges, string> = {
  size: 'size',
  offset: 'offset',
  state: 'state',
  expiresAt: 'expires_at',
  completedAt: 'completed_at',
  sha256: 'sha256',
  fileId: 'file_id',
};

export function toMillis(date: Date | null): number | null {
  return date === null ? null : date.getTime();
}

export function fromMillis(value: number | null): Date | null {
  return value === null ? null : new Date(value);
}

/** The columns and row values an UploadChanges sets, in a stable order. */
export function uploadChangeColumns(changes: UploadChanges): { column: string; value: unknown }[] {
  return (Object.keys(changes) as (keyof UploadChanges)[]).map((key) => {
    const value = changes[key];
    return { column: UPLOAD_COLUMN[key], value: value instanceof Date ? value.getTime() : value };
  });
}

export function toUploadRow(upload: Upload): UploadRow {
  return {
    id: upload.id,
    owner_id: upload.ownerId,
    size: upload.size,
    offset: upload.offset,
    metadata: JSON.stringify(upload.metadata),
    state: upload.state,
    concat: upload.concat ? JSON.stringify(upload.concat) : null,
    created_at: upload.createdAt.getTime(),
    expires_at: toMillis(upload.expiresAt),
    completed_at: toMillis(upload.completedAt),
    sha256: upload.sha256,
    chunk_size: upload.chunkSize,
    chunk_count: upload.chunkCount,
    expected_sha256: upload.expectedSha256,
    file_id: upload.fileId,
  };
}

export function fromUploadRow(row: UploadRow): Upload {
  return {
    id: row.id,
    ownerId: row.owner_id,
    size: row.size,
    offset: row.offset,
    metadata: JSON.parse(row.metadata) as Metadata,
    state: row.state,
    concat: row.concat ? (JSON.parse(row.concat) as ConcatRole) : null,
    createdAt: new Date(row.created_at),
    expiresAt: fromMillis(row.expires_at),
    completedAt: fromMillis(row.completed_at),
    sha256: row.sha256,
    chunkSize: row.chunk_size,
    chunkCount: row.chunk_count,
    expectedSha256: row.expected_sha256,
    fileId: row.file_id,
  };
}

export function toFileRow(file: StoredFile): FileRow {
  return {
    id: file.id,
    owner_id: file.ownerId,
    name: file.name,
    size: file.size,
    type: file.type,
    sha256: file.sha256,
    created_at: file.createdAt.getTime(),
    updated_at: file.updatedAt.getTime(),
  };
}

export function fromFileRow(row: FileRow): StoredFile {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    size: row.size,
    type: row.type,
    sha256: row.sha256,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function fromBlobRow(row: BlobRow): Blob {
  return {
    sha256: row.sha256,
    storageKey: row.storage_key,
    store: row.store,
    size: row.size,
    refs: row.refs,
    sha1: row.sha1,
    md5: row.md5,
    createdAt: new Date(row.created_at),
  };
}

export function fromUserRow(row: UserRow): User {
  return { id: row.id, username: row.username, kind: row.kind, tenant: row.tenant, createdAt: new Date(row.created_at) };
}

export function fromTokenRow(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    name: row.name,
    createdAt: new Date(row.created_at),
    expiresAt: fromMillis(row.expires_at),
  };
}

/** The columns a token lookup adds to the token's own: its hash, and its user's. */
export interface FoundTokenColumns {
  token_hash: string;
  username: string;
  user_kind: User['kind'];
  tenant: string;
  user_created_at: number;
}

export function foundToken(row: TokenRow & FoundTokenColumns): { token: TokenRecord; user: User; tokenHash: string } {
  return {
    token: fromTokenRow(row),
    user: { id: row.user_id, username: row.username, kind: row.user_kind, tenant: row.tenant, createdAt: new Date(row.user_created_at) },
    tokenHash: row.token_hash,
  };
}

export function fromOutboxRow(row: OutboxRow): PendingDelivery {
  return {
    seq: row.seq,
    id: row.id,
    destination: row.destination,
    orderingKey: row.ordering_key,
    body: row.body,
    attempts: row.attempts,
    createdAt: new Date(row.created_at),
  };
}
