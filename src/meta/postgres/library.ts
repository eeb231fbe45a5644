import { FerryError } from '../../core/errors.js';
import { UPLOAD_STORE, type Blob, type StoredBytes, type StoredFile } from '../../core/file.js';
import type { Upload } from '../../core/upload.js';
import { fromBlobRow, fromFileRow, fromUploadRow, SORT_COLUMN, toFileRow, type BlobRow, type FileRow } from '../rows.js';
import type { BlobMove, DedupScope, FileQuery, LibraryRecords, ProofChallengeRecord, UploadCompletion } from '../types.js';
import { insertRow, type PostgresDatabase, type Queryable } from './database.js';
import { insertOutbox } from './outbox.js';
import { updateUploadRow } from './uploads.js';

/**
 * Files and the blobs under them, safe across any number of nodes. Every change to a reference
 * count happens in the transaction that adds or removes the file, under the blob row's lock, so
 * concurrent completions and deletions of one content queue on that row and each sees the count
 * the previous one committed. A blob whose count would reach zero is deleted instead: a completion
 * waiting on it then finds no row and stores its own bytes as the new blob.
 *
 * Locks are taken in one order, upload or file row first, blob row second, outbox lines last
 * (outbox.ts), so these transactions cannot deadlock one another.
 */
export class PostgresLibraryRecords implements LibraryRecords {
  constructor(private readonly db: PostgresDatabase) {}

  async completeUpload(completion: UploadCompletion): Promise<{ upload: Upload; file: StoredFile; deduplicated: boolean } | null> {
    const { file, storageKey } = completion;
    return this.db.transaction(async (tx) => {
      // Completing twice would queue the bytes of a live blob for removal: only unfinished uploads
      // complete, and the row lock makes a second completion wait for the first and see it done.
      const { rows: [current] } = await tx.query<{ state: string }>('SELECT state FROM uploads WHERE id = $1 FOR UPDATE', [completion.uploadId]);
      if (!current) throw new FerryError('upload_not_found', 'no such upload');
      if (current.state !== 'open' && current.state !== 'paused') throw new FerryError('upload_gone', `the upload is ${current.state}`);
      const blob = await takeReference(tx, completion);
      if (!blob) return null;
      const deduplicated = blob.storage_key !== storageKey;
      if (deduplicated) await queueRemoval(tx, { store: UPLOAD_STORE, storageKey }, file.createdAt);
      const insert = insertRow('files', toFileRow(file));
      await tx.query(insert.text, insert.values);
      const upload = await updateUploadRow(tx, completion.uploadId, { ...completion.changes, fileId: file.id });
      await insertOutbox(tx, completion.outbox ?? []);
      return { upload: fromUploadRow(upload!), file, deduplicated };
    });
  }

  async getFile(ownerId: string, id: string): Promise<StoredFile | null> {
    const { rows: [row] } = await this.db.query<FileRow>('SELECT * FROM files WHERE id = $1 AND owner_id = $2', [id, ownerId]);
    return row ? fromFileRow(row) : null;
  }

  async listFiles(ownerId: string, query: FileQuery): Promise<{ files: StoredFile[]; total: number }> {
    const params: unknown[] = [ownerId];
    const where = ['owner_id = $1'];
    if (query.nameContains !== null) {
      params.push(query.nameContains);
      // strpos, not LIKE: % and _ in the query are literal. ICU folds case beyond ASCII on every node alike.
      where.push(`strpos(lower(name COLLATE "und-x-icu"), lower($${params.length}::text COLLATE "und-x-icu")) > 0`);
    }
    if (query.folder !== null) {
      params.push(query.folder);
      where.push(`starts_with(name, $${params.length})`);
    }
    const filter = where.join(' AND ');
    const direction = query.order === 'desc' ? 'DESC' : 'ASC';
    // name and id are COLLATE "C" columns (migrations.ts): code point order, whatever the database's locale.
    const { rows } = await this.db.query<FileRow>(
      `SELECT * FROM files WHERE ${filter} ORDER BY ${SORT_COLUMN[query.sort]} ${direction}, id ${direction}
       LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, query.limit, query.offset],
    );
    const { rows: [count] } = await this.db.query<{ total: number }>(`SELECT count(*) AS total FROM files WHERE ${filter}`, params);
    return { files: rows.map(fromFileRow), total: count!.total };
  }

  async renameFile(ownerId: string, id: string, name: string, now: Date): Promise<StoredFile | null> {
    const { rows: [row] } = await this.db.query<FileRow>(
      'UPDATE files SET name = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4 RETURNING *',
      [name, now.getTime(), id, ownerId],
    );
    return row ? fromFileRow(row) : null;
  }

  async deleteFile(ownerId: string, id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rows: [file] } = await tx.query<{ sha256: string }>('DELETE FROM files WHERE id = $1 AND owner_id = $2 RETURNING sha256', [id, ownerId]);
      if (!file) return false;
      // The count must be read under the lock it is written under: between a plain read and the
      // write, another node could take a reference this deletion would then drop with the blob.
      const { rows: [blob] } = await tx.query<Pick<BlobRow, 'refs' | 'storage_key' | 'store'>>(
        'SELECT refs, storage_key, store FROM blobs WHERE sha256 = $1 FOR UPDATE',
        [file.sha256],
      );
      if (blob!.refs > 1) {
        await tx.query('UPDATE blobs SET refs = refs - 1 WHERE sha256 = $1', [file.sha256]);
      } else {
        await tx.query('DELETE FROM blobs WHERE sha256 = $1', [file.sha256]);
        await queueRemoval(tx, { store: blob!.store, storageKey: blob!.storage_key }, new Date());
      }
      return true;
    });
  }

  async getBlob(sha256: string): Promise<Blob | null> {
    const { rows: [row] } = await this.db.query<BlobRow>('SELECT * FROM blobs WHERE sha256 = $1', [sha256]);
    return row ? fromBlobRow(row) : null;
  }

  async findOwnedContent(ownerId: string, sha256: string): Promise<StoredFile | null> {
    const { rows: [row] } = await this.db.query<FileRow>('SELECT * FROM files WHERE owner_id = $1 AND sha256 = $2 LIMIT 1', [ownerId, sha256]);
    return row ? fromFileRow(row) : null;
  }

  async findBlobInScope(sha256: string, scope: DedupScope): Promise<Blob | null> {
    if (scope.kind === 'user') return null;
    if (scope.kind === 'global') return this.getBlob(sha256);
    const { rows: [row] } = await this.db.query<BlobRow>(
      `SELECT b.* FROM blobs b WHERE b.sha256 = $1 AND EXISTS (
         SELECT 1 FROM files f JOIN users u ON u.id = f.owner_id WHERE f.sha256 = b.sha256 AND u.tenant = $2)`,
      [sha256, scope.tenant],
    );
    return row ? fromBlobRow(row) : null;
  }

  async findOwnedBySha1(ownerId: string, sha1: string): Promise<StoredFile | null> {
    const { rows: [row] } = await this.db.query<FileRow>(
      `SELECT f.* FROM files f JOIN blobs b ON b.sha256 = f.sha256
       WHERE b.sha1 = $1 AND f.owner_id = $2 ORDER BY f.created_at DESC, f.id DESC LIMIT 1`,
      [sha1, ownerId],
    );
    return row ? fromFileRow(row) : null;
  }

  async findBlobBySha1(sha1: string, scope: DedupScope): Promise<Blob | null> {
    if (scope.kind === 'user') return null;
    const { rows: [row] } = scope.kind === 'global'
      ? await this.db.query<BlobRow>('SELECT * FROM blobs WHERE sha1 = $1 ORDER BY created_at, sha256 LIMIT 1', [sha1])
      : await this.db.query<BlobRow>(
        `SELECT b.* FROM blobs b WHERE b.sha1 = $1 AND EXISTS (
           SELECT 1 FROM files f JOIN users u ON u.id = f.owner_id WHERE f.sha256 = b.sha256 AND u.tenant = $2)
         ORDER BY b.created_at, b.sha256 LIMIT 1`,
        [sha1, scope.tenant],
      );
    return row ? fromBlobRow(row) : null;
  }

  async setBlobDigests(sha256: string, digests: { sha1: string; md5: string }): Promise<void> {
    await this.db.query('UPDATE blobs SET sha1 = $1, md5 = $2 WHERE sha256 = $3', [digests.sha1, digests.md5, sha256]);
  }

  async listBlobsWithoutDigests(limit: number): Promise<Blob[]> {
    const { rows } = await this.db.query<BlobRow>('SELECT * FROM blobs WHERE sha1 IS NULL ORDER BY created_at LIMIT $1', [limit]);
    return rows.map(fromBlobRow);
  }

  async listDeadBlobs(now: Date, limit: number): Promise<StoredBytes[]> {
    const { rows } = await this.db.query<{ store: string; storage_key: string }>(
      'SELECT store, storage_key FROM dead_bytes WHERE due_at <= $1 ORDER BY due_at, store, storage_key LIMIT $2',
      [now.getTime(), limit],
    );
    return rows.map((row) => ({ store: row.store, storageKey: row.storage_key }));
  }

  async forgetDeadBlob(bytes: StoredBytes): Promise<void> {
    await this.db.query('DELETE FROM dead_bytes WHERE store = $1 AND storage_key = $2', [bytes.store, bytes.storageKey]);
  }

  async listBlobsToMove(from: string, to: string, createdBefore: Date, limit: number): Promise<Blob[]> {
    const { rows } = await this.db.query<BlobRow>(
      `SELECT b.* FROM blobs b WHERE b.store = $1 AND b.created_at < $2
         AND NOT EXISTS (SELECT 1 FROM dead_bytes d WHERE d.store = $3 AND d.storage_key = b.storage_key)
       ORDER BY b.created_at, b.sha256 LIMIT $4`,
      [from, createdBefore.getTime(), to, limit],
    );
    return rows.map(fromBlobRow);
  }

  async planBlobCopy(target: StoredBytes, dueAt: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO dead_bytes (store, storage_key, due_at) VALUES ($1, $2, $3)
       ON CONFLICT (store, storage_key) DO UPDATE SET due_at = excluded.due_at`,
      [target.store, target.storageKey, dueAt.getTime()],
    );
  }

  async moveBlob(move: BlobMove): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rowCount } = await tx.query(
        'UPDATE blobs SET store = $1 WHERE sha256 = $2 AND storage_key = $3 AND store = $4',
        [move.to, move.sha256, move.storageKey, move.from],
      );
      if (!rowCount) return false;
      await tx.query('DELETE FROM dead_bytes WHERE store = $1 AND storage_key = $2', [move.to, move.storageKey]);
      await queueRemoval(tx, { store: move.from, storageKey: move.storageKey }, move.sourceDueAt);
      return true;
    });
  }

  async putChallenge(record: ProofChallengeRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO upload_challenges (upload_id, challenge, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (upload_id) DO UPDATE SET challenge = excluded.challenge, expires_at = excluded.expires_at`,
      [record.uploadId, record.challenge, record.expiresAt.getTime()],
    );
  }

  async takeChallenge(uploadId: string): Promise<ProofChallengeRecord | null> {
    // One statement: of concurrent takers, only the one whose DELETE removed the row gets it back.
    const { rows: [row] } = await this.db.query<{ upload_id: string; challenge: string; expires_at: number }>(
      'DELETE FROM upload_challenges WHERE upload_id = $1 RETURNING *',
      [uploadId],
    );
    return row ? { uploadId: row.upload_id, challenge: row.challenge, expiresAt: new Date(row.expires_at) } : null;
  }
}

/**
 * Takes a reference on the blob of the completion's content, creating the blob from the upload's
 * own bytes when there is none (unless only stored content may complete). The upsert is atomic
 * however many nodes complete the same new content at once: one inserts, the others wait for it
 * and count up. Returns where the blob's bytes are, or null when it declined.
 */
async function takeReference(tx: Queryable, completion: UploadCompletion): Promise<Pick<BlobRow, 'storage_key'> | null> {
  const { file, storageKey } = completion;
  const { rows: [blob] } = completion.onlyIfStored
    ? await tx.query<Pick<BlobRow, 'storage_key'>>('UPDATE blobs SET refs = refs + 1 WHERE sha256 = $1 RETURNING storage_key', [file.sha256])
    : await tx.query<Pick<BlobRow, 'storage_key'>>(
      `INSERT INTO blobs (sha256, storage_key, size, refs, created_at) VALUES ($1, $2, $3, 1, $4)
       ON CONFLICT (sha256) DO UPDATE SET refs = blobs.refs + 1 RETURNING storage_key`,
      [file.sha256, storageKey, file.size, file.createdAt.getTime()],
    );
  return blob ?? null;
}

function queueRemoval(tx: Queryable, bytes: StoredBytes, dueAt: Date): Promise<unknown> {
  return tx.query(
    'INSERT INTO dead_bytes (store, storage_key, due_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [bytes.store, bytes.storageKey, dueAt.getTime()],
  );
}
