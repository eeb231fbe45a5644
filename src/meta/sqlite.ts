import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ConcatRole, Metadata, Upload, UploadState } from '../core/upload.js';
import type { MetaStore, UploadChanges } from './types.js';
import { MIGRATIONS } from './sqlite-migrations.js';

interface UploadRow {
  id: string;
  size: number | null;
  offset: number;
  metadata: string;
  state: UploadState;
  concat: string | null;
  created_at: number;
  expires_at: number | null;
  completed_at: number | null;
  sha256: string | null;
}

const COLUMN_OF: Record<keyof UploadChanges, string> = {
  size: 'size',
  offset: 'offset',
  state: 'state',
  expiresAt: 'expires_at',
  completedAt: 'completed_at',
  sha256: 'sha256',
};

/**
 * The embedded metadata store: one SQLite file in WAL mode.
 *
 * better-sqlite3 runs on the event loop, so SQLite's own fsync at every commit would stall every
 * upload in the process for the length of a disk flush. Instead commits do not sync
 * (synchronous=NORMAL) and each write is made durable by an fdatasync of the WAL file on the thread
 * pool before it resolves; writes that land together share one flush.
 */
export class SqliteMetaStore implements MetaStore {
  private readonly db: Database.Database;
  private readonly walPath: string | null;
  private wal: Promise<FileHandle> | null = null;
  private flushing: Promise<void> | null = null;
  private flushQueued: Promise<void> | null = null;
  private readonly selectOne: Database.Statement<[string], UploadRow>;
  private readonly selectExpired: Database.Statement<[number, number], UploadRow>;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.walPath = path === ':memory:' ? null : `${path}-wal`;
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    this.selectOne = this.db.prepare('SELECT * FROM uploads WHERE id = ?');
    this.selectExpired = this.db.prepare(
      "SELECT * FROM uploads WHERE state = 'open' AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?",
    );
  }

  async insertUpload(upload: Upload): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO uploads (id, size, offset, metadata, state, concat, created_at, expires_at, completed_at, sha256)
         VALUES (@id, @size, @offset, @metadata, @state, @concat, @created_at, @expires_at, @completed_at, @sha256)`,
      )
      .run(toRow(upload));
    await this.flush();
  }

  async getUpload(id: string): Promise<Upload | null> {
    const row = this.selectOne.get(id);
    return row ? fromRow(row) : null;
  }

  async updateUpload(id: string, changes: UploadChanges): Promise<Upload | null> {
    const keys = Object.keys(changes) as (keyof UploadChanges)[];
    if (keys.length > 0) {
      const assignments = keys.map((key) => `${COLUMN_OF[key]} = @${key}`).join(', ');
      const values: Record<string, unknown> = { id };
      for (const key of keys) values[key] = toColumnValue(changes[key]);
      this.db.prepare(`UPDATE uploads SET ${assignments} WHERE id = @id`).run(values);
      await this.flush();
    }
    return this.getUpload(id);
  }

  async listExpired(now: Date, limit: number): Promise<Upload[]> {
    return this.selectExpired.all(now.getTime(), limit).map(fromRow);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.flushQueued;
    await this.flushing;
    if (this.wal) await (await this.wal).close();
    this.db.close();
  }

  /**
   * Resolves once every commit made before the call is on disk. A flush already running may have
   * started before this commit, so callers then wait for the next one, which all of them share.
   */
  private flush(): Promise<void> {
    if (this.walPath === null) return Promise.resolve();
    if (this.flushQueued) return this.flushQueued;
    if (!this.flushing) {
      this.flushing = this.syncWal().finally(() => { this.flushing = null; });
      return this.flushing;
    }
    this.flushQueued = this.flushing.catch(() => undefined).then(() => {
      this.flushQueued = null;
      return this.flush();
    });
    return this.flushQueued;
  }

  private async syncWal(): Promise<void> {
    this.wal ??= open(this.walPath!, 'r');
    await (await this.wal).datasync();
  }
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  for (const [index, sql] of MIGRATIONS.entries()) {
    const version = index + 1;
    if (applied.has(version)) continue;
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(version);
    })();
  }
}

function toColumnValue(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

function toRow(upload: Upload): UploadRow {
  return {
    id: upload.id,
    size: upload.size,
    offset: upload.offset,
    metadata: JSON.stringify(upload.metadata),
    state: upload.state,
    concat: upload.concat ? JSON.stringify(upload.concat) : null,
    created_at: upload.createdAt.getTime(),
    expires_at: upload.expiresAt?.getTime() ?? null,
    completed_at: upload.completedAt?.getTime() ?? null,
    sha256: upload.sha256,
  };
}

function fromRow(row: UploadRow): Upload {
  return {
    id: row.id,
    size: row.size,
    offset: row.offset,
    metadata: JSON.parse(row.metadata) as Metadata,
    state: row.state,
    concat: row.concat ? (JSON.parse(row.concat) as ConcatRole) : null,
    createdAt: new Date(row.created_at),
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
    completedAt: row.completed_at === null ? null : new Date(row.completed_at),
    sha256: row.sha256,
  };
}
