import type Database from 'better-sqlite3';
import type { Upload } from '../../core/upload.js';
import { fromUploadRow, toUploadRow, uploadChangeColumns, type UploadRow } from '../rows.js';
import type { StorageUsage, UploadChanges, UploadRecords, UsageCheck } from '../types.js';
import type { SqliteDatabase } from './database.js';

export class SqliteUploadRecords implements UploadRecords {
  private readonly selectOne: Database.Statement<[string], UploadRow>;
  private readonly selectExpired: Database.Statement<[number, number], UploadRow>;
  private readonly insertChunk: Database.Statement<[string, number]>;
  private readonly selectChunks: Database.Statement<[string], number>;
  private readonly selectChunk: Database.Statement<[string, number], number>;
  private readonly selectAlias: Database.Statement<[string, string, string], string>;
  private readonly selectUsage: Database.Statement<[{ owner: string }], { bytes: number; open_uploads: number; quota_bytes: number | null }>;

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
    // Uploads without a file hold their bytes themselves: unfinished ones what they reserve, and
    // completed tus partial uploads what they hold. The partial index uploads_owner_held covers them.
    this.selectUsage = db.prepare(`SELECT
        (SELECT COALESCE(SUM(size), 0) FROM files WHERE owner_id = @owner) + COALESCE(SUM(COALESCE(size, "offset")), 0) AS bytes,
        COALESCE(SUM(CASE WHEN state IN ('open', 'paused') THEN 1 ELSE 0 END), 0) AS open_uploads,
        (SELECT quota_bytes FROM users WHERE id = @owner) AS quota_bytes
      FROM uploads WHERE owner_id = @owner AND file_id IS NULL AND state IN ('open', 'paused', 'completed')`);
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

  async usage(ownerId: string): Promise<StorageUsage> {
    return this.usageNow(ownerId);
  }

  // One process owns the file and better-sqlite3 runs each transaction to its end before the
  // next, so checking and writing in one transaction is enough.
  async insertIf(upload: Upload, allows: UsageCheck): Promise<{ inserted: boolean; usage: StorageUsage }> {
    const row = toUploadRow(upload);
    return this.sqlite.write(() => {
      const usage = this.usageNow(upload.ownerId);
      if (!allows(usage)) return { inserted: false, usage };
      this.sqlite.db
        .prepare(`INSERT INTO uploads (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row).map((key) => `@${key}`).join(', ')})`)
        .run(row);
      return { inserted: true, usage };
    });
  }

  async updateIf(ownerId: string, id: string, changes: UploadChanges, allows: UsageCheck): Promise<{ upload: Upload | null; usage: StorageUsage }> {
    const { changed, usage } = await this.sqlite.write(() => {
      const before = this.usageNow(ownerId);
      if (!allows(before)) return { changed: false, usage: before };
      updateUploadRow(this.sqlite.db, id, changes);
      return { changed: true, usage: before };
    });
    return { upload: changed ? await this.get(id) : null, usage };
  }

  private usageNow(ownerId: string): StorageUsage {
    const row = this.selectUsage.get({ owner: ownerId })!;
    return { bytes: row.bytes, openUploads: row.open_uploads, quotaBytes: row.quota_bytes };
  }

  async update(id: string, changes: UploadChanges): Promise<Upload | null> {
    const keys = Object.keys(changes) as (keyof UploadChanges)[];
    if (keys.length > 0) await this.sqlite.write(() => updateUploadRow(this.sqlite.db, id, changes));
    return this.get(id);
  }

  async recordProgress(id: string, progress: Pick<UploadChanges, 'offset' | 'expiresAt'>): Promise<Upload | null> {
    this.sqlite.writeFlushingLater(() => updateUploadRow(this.sqlite.db, id, progress));
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

