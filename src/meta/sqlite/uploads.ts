import type Database from 'better-sqlite3';
import type { ConcatRole, Metadata, Upload, UploadState } from '../../core/upload.js';
import type { UploadChanges, UploadRecords } from '../types.js';
import { fromMillis, toMillis, type SqliteDatabase } from './database.js';

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

const COLUMN_OF: Record<keyof UploadChanges, string> = {
  size: 'size',
  offset: 'offset',
  state: 'state',
  expiresAt: 'expires_at',
  completedAt: 'completed_at',
  sha256: 'sha256',
  fileId: 'file_id',
};

export class SqliteUploadRecords implements UploadRecords {
  private readonly selectOne: Database.Statement<[string], UploadRow>;
  private readonly selectExpired: Database.Statement<[number, number], UploadRow>;
  private readonly insertChunk: Database.Statement<[string, number]>;
  private readonly selectChunks: Database.Statement<[string], number>;
  private readonly selectChunk: Database.Statement<[string, number], number>;
  private readonly selectAlias: Database.Statement<[string, string, string], string>;

  constructor(private readonly sqlite: SqliteDatabase) {
    const { db } = sqlite;
    this.selectOne = db.prepare('SELECT * FROM uploads WHERE id = ?');
    this.selectExpired = db.prepare(
      "SELECT * FROM uploads WHERE state IN ('open', 'paused') AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?",
    );
    this.insertChunk = db.prepare('INSERT OR IGNORE INTO upload_chunks (upload_id, idx) VALUES (?, ?)');
    this.selectChunk = db.prepare('SELECT 1 FROM upload_chunks WHERE upload_id = ? AND idx = ?').pluck() as Database.Statement<[string, number], number>;
    this.selectAlias = db
      .prepare('SELECT upload_id FROM upload_aliases WHERE owner_id = ? AND protocol = ? AND alias = ?')
      .pluck() as Database.Statement<[string, string, string], string>;
    this.selectChunks = db.prepare('SELECT idx FROM upload_chunks WHERE upload_id = ? ORDER BY idx').pluck() as Database.Statement<[string], number>;
  }

  async insert(upload: Upload): Promise<void> {
    const row = toUploadRow(upload);
    await this.sqlite.write(() => {
      this.sqlite.db
        .prepare(`INSERT INTO uploads (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row).map((key) => `@${key}`).join(', ')})`)
        .run(row);
    });
  }

  async get(id: string): Promise<Upload | null> {
    const row = this.selectOne.get(id);
    return row ? fromUploadRow(row) : null;
  }

  async update(id: string, changes: UploadChanges): Promise<Upload | null> {
    const keys = Object.keys(changes) as (keyof UploadChanges)[];
    if (keys.length > 0) await this.sqlite.write(() => updateUploadRow(this.sqlite.db, id, changes));
    return this.get(id);
  }

  async listExpired(now: Date, limit: number): Promise<Upload[]> {
    return this.selectExpired.all(now.getTime(), limit).map(fromUploadRow);
  }

  async addChunk(id: string, index: number): Promise<boolean> {
    return this.sqlite.write(() => this.insertChunk.run(id, index).changes > 0);
  }

  async hasChunk(id: string, index: number): Promise<boolean> {
    return this.selectChunk.get(id, index) !== undefined;
  }

  async addRange(id: string, start: number, end: number): Promise<boolean> {
    return this.sqlite.write(() => {
      const overlapping = this.sqlite.db
        .prepare('SELECT 1 FROM upload_ranges WHERE upload_id = ? AND start < ? AND "end" > ? LIMIT 1')
        .get(id, end, start);
      if (overlapping) return false;
      this.sqlite.db.prepare('INSERT INTO upload_ranges (upload_id, start, "end") VALUES (?, ?, ?)').run(id, start, end);
      return true;
    });
  }

  async listRanges(id: string): Promise<{ start: number; end: number }[]> {
    return this.sqlite.db.prepare('SELECT start, "end" FROM upload_ranges WHERE upload_id = ? ORDER BY start').all(id) as { start: number; end: number }[];
  }

  async findAlias(ownerId: string, protocol: string, alias: string): Promise<string | null> {
    return this.selectAlias.get(ownerId, protocol, alias) ?? null;
  }

  async claimAlias(ownerId: string, protocol: string, alias: string, uploadId: string, replacing: string | null): Promise<string> {
    return this.sqlite.write(() => {
      const current = this.selectAlias.get(ownerId, protocol, alias);
      if (current !== undefined && current !== replacing) return current;
      this.sqlite.db
        .prepare('INSERT OR REPLACE INTO upload_aliases (owner_id, protocol, alias, upload_id) VALUES (?, ?, ?, ?)')
        .run(ownerId, protocol, alias, uploadId);
      return uploadId;
    });
  }

  async listChunks(id: string): Promise<number[]> {
    return this.selectChunks.all(id);
  }
}

/** For use inside a transaction that also touches other tables. */
export function updateUploadRow(db: Database.Database, id: string, changes: UploadChanges): void {
  const keys = Object.keys(changes) as (keyof UploadChanges)[];
  if (keys.length === 0) return;
  const assignments = keys.map((key) => `${COLUMN_OF[key]} = @${key}`).join(', ');
  const values: Record<string, unknown> = { id };
  for (const key of keys) {
    const value = changes[key];
    values[key] = value instanceof Date ? value.getTime() : value;
  }
  db.prepare(`UPDATE uploads SET ${assignments} WHERE id = @id`).run(values);
}

function toUploadRow(upload: Upload): UploadRow {
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
