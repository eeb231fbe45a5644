import type { MetaStore } from '../types.js';
import { SqliteAccountRecords } from './accounts.js';
import { SqliteDatabase } from './database.js';
import { SqliteLibraryRecords } from './library.js';
import { SqliteOutboxRecords } from './outbox.js';
import { SqliteUploadRecords } from './uploads.js';

/** The embedded metadata store: every record in one SQLite file. */
export class SqliteMetaStore implements MetaStore {
  readonly uploads: SqliteUploadRecords;
  readonly accounts: SqliteAccountRecords;
  readonly library: SqliteLibraryRecords;
  readonly outbox: SqliteOutboxRecords;
  private readonly sqlite: SqliteDatabase;

  constructor(path: string) {
    this.sqlite = new SqliteDatabase(path);
    this.uploads = new SqliteUploadRecords(this.sqlite);
    this.accounts = new SqliteAccountRecords(this.sqlite);
    this.library = new SqliteLibraryRecords(this.sqlite);
    this.outbox = new SqliteOutboxRecords(this.sqlite);
  }

  async ping(): Promise<void> {
    this.sqlite.db.prepare('SELECT 1').get();
  }

  close(): Promise<void> {
    return this.sqlite.close();
  }
}
