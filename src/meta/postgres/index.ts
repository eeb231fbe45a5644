import type { MetaStore } from '../types.js';
import { PostgresAccountRecords } from './accounts.js';
import { PostgresDatabase } from './database.js';
import { PostgresLibraryRecords } from './library.js';
import { PostgresOutboxRecords } from './outbox.js';
import { PostgresUploadRecords } from './uploads.js';

/**
 * The distributed metadata store: every node of a cluster shares one PostgreSQL database.
 * Open it with `PostgresMetaStore.open`, which migrates before the store is used.
 */
export class PostgresMetaStore implements MetaStore {
  readonly uploads: PostgresUploadRecords;
  readonly accounts: PostgresAccountRecords;
  readonly library: PostgresLibraryRecords;
  readonly outbox: PostgresOutboxRecords;

  private constructor(private readonly db: PostgresDatabase) {
    this.uploads = new PostgresUploadRecords(db);
    this.accounts = new PostgresAccountRecords(db);
    this.library = new PostgresLibraryRecords(db);
    this.outbox = new PostgresOutboxRecords(db);
  }

  /** Connects to `url` (postgres://…) and applies pending migrations; rejects if either fails. */
  static async open(url: string): Promise<PostgresMetaStore> {
    const db = new PostgresDatabase(url);
    try {
      await db.migrate();
    } catch (err) {
      await db.close();
      throw err;
    }
    return new PostgresMetaStore(db);
  }

  /** Rejects when the database does not answer; the message says which service failed, the cause how. */
  async ping(): Promise<void> {
    try {
      await this.db.ping();
    } catch (err) {
      throw new Error(`PostgreSQL did not answer: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
