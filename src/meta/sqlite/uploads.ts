import type Database from 'better-sqlite3';
import type { Upload } from '../../core/upload.js';
import { fromUploadRow, toUploadRow, uploadChangeColumns, type UploadRow } from '../rows.js';
import type { UploadChanges, UploadRecords } from '../types.js';
import type { SqliteDatabase } from './database.js';

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
  const columns = uploadChangeColumns(changes);
  if (columns.length === 0) return;
  const assignments = columns.map(({ column }) => `"${column}" = ?`).join(', ');
  db.prepare(`UPDATE uploads SET ${assignments} WHERE id = ?`).run(...columns.map(({ value }) => value), id);
}

