import { FerryError } from '../../core/errors.js';
import { UPLOAD_STORE, type Blob, type StoredBytes, type StoredFile } from '../../core/file.js';
import type { BlobMove, DedupScope, FileQuery, LibraryRecords, ProofChallengeRecord, UploadCompletion } from '../types.js';
import type { Upload } from '../../core/upload.js';
import { fromBlobRow, fromFileRow, fromUploadRow, SORT_COLUMN, toFileRow, type BlobRow, type FileRow, type UploadRow } from '../rows.js';
import { updateUploadRow } from './uploads.js';
import type { SqliteDatabase } from './database.js';
import { insertOutbox } from './outbox.js';

/**
 * Files and the blobs under them. Every change to a reference count happens in the same
 * transaction as the change to the file that causes it, so a blob is never seen with a count that
 * disagrees with its files, and a blob whose count reaches zero is gone from the table in the same
 * instant: a concurrent completion then finds no blob and keeps its own bytes instead.
 */
export class SqliteLibraryRecords implements LibraryRecords {
  constructor(private readonly sqlite: SqliteDatabase) {
    // SQLite's own lower() folds ASCII only: a search for "RÉSUMÉ" must still find "résumé.pdf".
    sqlite.db.function('unicode_lower', { deterministic: true }, (text: unknown) => (typeof text === 'string' ? text.toLowerCase() : text));
  }

  private get db() {
    return this.sqlite.db;
  }

  async completeUpload(completion: UploadCompletion): Promise<{ upload: Upload; file: StoredFile; deduplicated: boolean } | null> {
    const { file, storageKey } = completion;
    return this.sqlite.write(() => {
      // Completing twice would queue the bytes of a live blob for removal: only unfinished uploads complete.
      const current = this.db.prepare('SELECT state FROM uploads WHERE id = ?').get(completion.uploadId) as { state: string } | undefined;
      if (!current) throw new FerryError('upload_not_found', 'no such upload');
      if (current.state !== 'open' && current.state !== 'paused') throw new FerryError('upload_gone', `the upload is ${current.state}`);
      const blob = this.blobRow(file.sha256);
      if (blob) {
        this.db.prepare('UPDATE blobs SET refs = refs + 1 WHERE sha256 = ?').run(file.sha256);
        this.queueRemoval({ store: UPLOAD_STORE, storageKey }, file.createdAt);
      } else if (completion.onlyIfStored) {
        return null;
      } else {
        this.db
          .prepare('INSERT INTO blobs (sha256, storage_key, size, refs, created_at) VALUES (?, ?, ?, 1, ?)')
          .run(file.sha256, storageKey, file.size, file.createdAt.getTime());
      }
      this.db.prepare('INSERT INTO files VALUES (@id, @owner_id, @name, @size, @type, @sha256, @created_at, @updated_at)').run(toFileRow(file));
      updateUploadRow(this.db, completion.uploadId, { ...completion.changes, fileId: file.id });
      insertOutbox(this.sqlite, completion.outbox ?? []);
      const upload = fromUploadRow(this.db.prepare('SELECT * FROM uploads WHERE id = ?').get(completion.uploadId) as UploadRow);
      return { upload, file, deduplicated: blob !== null };
    });
  }

  async getFile(ownerId: string, id: string): Promise<StoredFile | null> {
    const row = this.db.prepare('SELECT * FROM files WHERE id = ? AND owner_id = ?').get(id, ownerId) as FileRow | undefined;
    return row ? fromFileRow(row) : null;
  }

  async listFiles(ownerId: string, query: FileQuery): Promise<{ files: StoredFile[]; total: number }> {
    const where = ['owner_id = @ownerId'];
    const params: Record<string, unknown> = { ownerId, limit: query.limit, offset: query.offset };
    if (query.nameContains !== null) {
      where.push('instr(unicode_lower(name), unicode_lower(@contains)) > 0');
      params.contains = query.nameContains;
    }
    if (query.folder !== null) {
      where.push('substr(name, 1, length(@folder)) = @folder');
      params.folder = query.folder;
    }
    const filter = where.join(' AND ');
    const direction = query.order === 'desc' ? 'DESC' : 'ASC';
    const rows = this.db
      .prepare(`SELECT * FROM files WHERE ${filter} ORDER BY ${SORT_COLUMN[query.sort]} ${direction}, id ${direction} LIMIT @limit OFFSET @offset`)
      .all(params) as FileRow[];
    const { total } = this.db.prepare(`SELECT count(*) AS total FROM files WHERE ${filter}`).get(params) as { total: number };
    return { files: rows.map(fromFileRow), total };
  }

  async renameFile(ownerId: string, id: string, name: string, now: Date): Promise<StoredFile | null> {
    const changed = await this.sqlite.write(
      () => this.db.prepare('UPDATE files SET name = ?, updated_at = ? WHERE id = ? AND owner_id = ?').run(name, now.getTime(), id, ownerId).changes,
    );
    return changed > 0 ? this.getFile(ownerId, id) : null;
  }

  async deleteFile(ownerId: string, id: string): Promise<boolean> {
    return this.sqlite.write(() => {
      const file = this.db.prepare('SELECT sha256 FROM files WHERE id = ? AND owner_id = ?').get(id, ownerId) as { sha256: string } | undefined;
      if (!file) return false;
      this.db.prepare('DELETE FROM files WHERE id = ?').run(id);
      const blob = this.blobRow(file.sha256)!;
      if (blob.refs > 1) {
        this.db.prepare('UPDATE blobs SET refs = refs - 1 WHERE sha256 = ?').run(file.sha256);
      } else {
        this.db.prepare('DELETE FROM blobs WHERE sha256 = ?').run(file.sha256);
        this.queueRemoval({ store: blob.store, storageKey: blob.storage_key }, new Date());
      }
      return true;
    });
  }

  async getBlob(sha256: string): Promise<Blob | null> {
    const row = this.blobRow(sha256);
    return row ? fromBlobRow(row) : null;
  }

  async findOwnedContent(ownerId: string, sha256: string): Promise<StoredFile | null> {
    const row = this.db.prepare('SELECT * FROM files WHERE owner_id = ? AND sha256 = ? LIMIT 1').get(ownerId, sha256) as FileRow | undefined;
    return row ? fromFileRow(row) : null;
  }

  async findBlobInScope(sha256: string, scope: DedupScope): Promise<Blob | null> {
    if (scope.kind === 'user') return null;
    if (scope.kind === 'global') return this.getBlob(sha256);
    const row = this.db
      .prepare(
        `SELECT b.* FROM blobs b WHERE b.sha256 = ? AND EXISTS (
           SELECT 1 FROM files f JOIN users u ON u.id = f.owner_id WHERE f.sha256 = b.sha256 AND u.tenant = ?)`,
      )
      .get(sha256, scope.tenant) as BlobRow | undefined;
    return row ? fromBlobRow(row) : null;
  }

  async findOwnedBySha1(ownerId: string, sha1: string): Promise<StoredFile | null> {
    const row = this.db
      .prepare(
        `SELECT f.* FROM files f JOIN blobs b ON b.sha256 = f.sha256
         WHERE b.sha1 = ? AND f.owner_id = ? ORDER BY f.created_at DESC, f.id DESC LIMIT 1`,
      )
      .get(sha1, ownerId) as FileRow | undefined;
    return row ? fromFileRow(row) : null;
  }

  async findBlobBySha1(sha1: string, scope: DedupScope): Promise<Blob | null> {
    if (scope.kind === 'user') return null;
    const row = (scope.kind === 'global'
      ? this.db.prepare('SELECT * FROM blobs WHERE sha1 = ? ORDER BY created_at, sha256 LIMIT 1').get(sha1)
      : this.db
        .prepare(
          `SELECT b.* FROM blobs b WHERE b.sha1 = ? AND EXISTS (
             SELECT 1 FROM files f JOIN users u ON u.id = f.owner_id WHERE f.sha256 = b.sha256 AND u.tenant = ?)
           ORDER BY b.created_at, b.sha256 LIMIT 1`,
        )
        .get(sha1, scope.tenant)) as BlobRow | undefined;
    return row ? fromBlobRow(row) : null;
  }

  async setBlobDigests(sha256: string, digests: { sha1: string; md5: string }): Promise<void> {
    await this.sqlite.write(() => {
      this.db.prepare('UPDATE blobs SET sha1 = ?, md5 = ? WHERE sha256 = ?').run(digests.sha1, digests.md5, sha256);
    });
  }

  async listBlobsWithoutDigests(limit: number): Promise<Blob[]> {
    const rows = this.db.prepare('SELECT * FROM blobs WHERE sha1 IS NULL ORDER BY created_at LIMIT ?').all(limit) as BlobRow[];
    return rows.map(fromBlobRow);
  }

  async listDeadBlobs(now: Date, limit: number): Promise<StoredBytes[]> {
    const rows = this.db
      .prepare('SELECT store, storage_key FROM dead_bytes WHERE due_at <= ? ORDER BY due_at, store, storage_key LIMIT ?')
      .all(now.getTime(), limit) as { store: string; storage_key: string }[];
    return rows.map((row) => ({ store: row.store, storageKey: row.storage_key }));
  }

  async forgetDeadBlob(bytes: StoredBytes): Promise<void> {
    await this.sqlite.write(() => {
      this.db.prepare('DELETE FROM dead_bytes WHERE store = ? AND storage_key = ?').run(bytes.store, bytes.storageKey);
    });
  }

  async listBlobsToMove(from: string, to: string, createdBefore: Date, limit: number): Promise<Blob[]> {
    const rows = this.db
      .prepare(
        `SELECT b.* FROM blobs b WHERE b.store = ? AND b.created_at < ?
           AND NOT EXISTS (SELECT 1 FROM dead_bytes d WHERE d.store = ? AND d.storage_key = b.storage_key)
         ORDER BY b.created_at, b.sha256 LIMIT ?`,
      )
      .all(from, createdBefore.getTime(), to, limit) as BlobRow[];
    return rows.map(fromBlobRow);
  }

  async planBlobCopy(target: StoredBytes, dueAt: Date): Promise<void> {
    await this.sqlite.write(() => {
      this.db
        .prepare('INSERT INTO dead_bytes (store, storage_key, due_at) VALUES (?, ?, ?) ON CONFLICT (store, storage_key) DO UPDATE SET due_at = excluded.due_at')
        .run(target.store, target.storageKey, dueAt.getTime());
    });
  }

  async moveBlob(move: BlobMove): Promise<boolean> {
    return this.sqlite.write(() => {
      const moved = this.db
        .prepare('UPDATE blobs SET store = ? WHERE sha256 = ? AND storage_key = ? AND store = ?')
        .run(move.to, move.sha256, move.storageKey, move.from).changes;
      if (moved === 0) return false;
      this.db.prepare('DELETE FROM dead_bytes WHERE store = ? AND storage_key = ?').run(move.to, move.storageKey);
      this.queueRemoval({ store: move.from, storageKey: move.storageKey }, move.sourceDueAt);
      return true;
    });
  }

  async putChallenge(record: ProofChallengeRecord): Promise<void> {
    await this.sqlite.write(() => {
      this.db
        .prepare('INSERT OR REPLACE INTO upload_challenges (upload_id, challenge, expires_at) VALUES (?, ?, ?)')
        .run(record.uploadId, record.challenge, record.expiresAt.getTime());
    });
  }

  async takeChallenge(uploadId: string): Promise<ProofChallengeRecord | null> {
    return this.sqlite.write(() => {
      const row = this.db.prepare('SELECT * FROM upload_challenges WHERE upload_id = ?').get(uploadId) as
        | { upload_id: string; challenge: string; expires_at: number }
        | undefined;
      if (!row) return null;
      this.db.prepare('DELETE FROM upload_challenges WHERE upload_id = ?').run(uploadId);
      return { uploadId: row.upload_id, challenge: row.challenge, expiresAt: new Date(row.expires_at) };
    });
  }

  private blobRow(sha256: string): BlobRow | null {
    return (this.db.prepare('SELECT * FROM blobs WHERE sha256 = ?').get(sha256) as BlobRow | undefined) ?? null;
  }

  private queueRemoval(bytes: StoredBytes, dueAt: Date): void {
    this.db.prepare('INSERT OR IGNORE INTO dead_bytes (store, storage_key, due_at) VALUES (?, ?, ?)').run(bytes.store, bytes.storageKey, dueAt.getTime());
  }
}
