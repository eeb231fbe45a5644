import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FerryError } from '../../core/errors.js';
import { MIGRATIONS } from './migrations.js';

/**
 * One SQLite file in WAL mode, shared by the record stores.
 *
 * better-sqlite3 runs on the event loop, so SQLite's own fsync at every commit would stall every
 * upload in the process for the length of a disk flush. Instead commits do not sync
 * (synchronous=NORMAL) and each write is made durable by an fdatasync of the WAL file on the thread
 * pool before it resolves; writes that land together share one flush. An upload's progress is
 * flushed after it resolves instead (writeFlushingLater).
 */
export class SqliteDatabase {
  readonly db: Database.Database;
  private readonly walPath: string | null;
  private wal: Promise<FileHandle> | null = null;
  private flushing: Promise<void> | null = null;
  private flushQueued: Promise<void> | null = null;
  /** A flush nobody waited for failed: frames written before it may be lost, and with them every later one. */
  private unreportedFlushFailure: unknown = null;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.walPath = path === ':memory:' ? null : `${path}-wal`;
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
  }

  /**
   * Runs `work` as one transaction and resolves once it is durable. On a full disk SQLite rolls the
   * transaction back and reports SQLITE_FULL: the records stay as they were, and the caller hears
   * storage_full (507) rather than an unknown error.
   */
  async write<T>(work: () => T): Promise<T> {
    try {
      const result = this.db.transaction(work)();
      await this.flush();
      this.reportFlushFailure();
      return result;
    } catch (err) {
      throw diskFull(err) ?? err;
    }
  }

  /**
   * Runs `work` as one transaction, which a crash of this process can no longer undo, and starts
   * the flush that makes it survive a power cut without waiting for it. For records a power cut may
   * roll back harmlessly (an upload's offset: its client sends those bytes again), since a flush
   * is a quarter of a chunk-sized request's time outside its body. A failed flush fails
   * the next write(): SQLite recovers a WAL only up to its first missing frame, so a write flushed
   * after that one could be lost too, and must not be reported durable.
   */
  writeFlushingLater<T>(work: () => T): T {
    try {
      const result = this.db.transaction(work)();
      this.flush().catch((err: unknown) => { this.unreportedFlushFailure ??= err; });
      return result;
    } catch (err) {
      throw diskFull(err) ?? err;
    }
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

  private reportFlushFailure(): void {
    const failure = this.unreportedFlushFailure;
    this.unreportedFlushFailure = null;
    if (failure !== null) throw failure;
  }

  private async syncWal(): Promise<void> {
    this.wal ??= open(this.walPath!, 'r');
    await (await this.wal).datasync();
  }
}

function diskFull(err: unknown): FerryError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'SQLITE_FULL' && code !== 'ENOSPC' && code !== 'EDQUOT') return null;
  return new FerryError('storage_full', 'the disk of the metadata database is full', { cause: err });
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  for (const [index, sql] of MIGRATIONS.entries()) {
    const version = index + 1;
    if (applied.has(version)) continue;
    db.pragma('foreign_keys = OFF');
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(version);
    })();
    db.pragma('foreign_keys = ON');
  }
}
