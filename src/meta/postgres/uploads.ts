import type { Upload } from '../../core/upload.js';
import { fromUploadRow, toUploadRow, uploadChangeColumns, type UploadRow } from '../rows.js';
import type { StorageUsage, UploadChanges, UploadRecords, UsageCheck } from '../types.js';
import { insertRow, type PostgresDatabase, type Queryable } from './database.js';

export class PostgresUploadRecords implements UploadRecords {
  constructor(private readonly db: PostgresDatabase) {}

  async insert(upload: Upload): Promise<void> {
    const { text, values } = insertRow('uploads', toUploadRow(upload));
    await this.db.query(text, values);
  }

  async get(id: string): Promise<Upload | null> {
    const { rows: [row] } = await this.db.query<UploadRow>('SELECT * FROM uploads WHERE id = $1', [id]);
    return row ? fromUploadRow(row) : null;
  }

  async usage(ownerId: string): Promise<StorageUsage> {
    return usageOf(this.db, ownerId);
  }

  async insertIf(upload: Upload, allows: UsageCheck): Promise<{ inserted: boolean; usage: StorageUsage }> {
    return this.db.transaction(async (tx) => {
      const usage = await lockedUsageOf(tx, upload.ownerId);
      if (!allows(usage)) return { inserted: false, usage };
      const { text, values } = insertRow('uploads', toUploadRow(upload));
      await tx.query(text, values);
      return { inserted: true, usage };
    });
  }

  async updateIf(ownerId: string, id: string, changes: UploadChanges, allows: UsageCheck): Promise<{ upload: Upload | null; usage: StorageUsage }> {
    return this.db.transaction(async (tx) => {
      const usage = await lockedUsageOf(tx, ownerId);
      if (!allows(usage)) return { upload: null, usage };
      const row = await updateUploadRow(tx, id, changes);
      return { upload: row ? fromUploadRow(row) : null, usage };
    });
  }

  async update(id: string, changes: UploadChanges): Promise<Upload | null> {
    const row = await updateUploadRow(this.db, id, changes);
    return row ? fromUploadRow(row) : null;
  }

  /** PostgreSQL's commit is durable when it returns, whichever the write. */
  recordProgress(id: string, progress: Pick<UploadChanges, 'offset' | 'expiresAt'>): Promise<Upload | null> {
    return this.update(id, progress);
  }

  async listExpired(now: Date, limit: number): Promise<Upload[]> {
    const { rows } = await this.db.query<UploadRow>(
      `SELECT * FROM uploads WHERE state IN ('open', 'paused') AND expires_at <= $1 ORDER BY expires_at LIMIT $2`,
      [now.getTime(), limit],
    );
    return rows.map(fromUploadRow);
  }

  async addChunk(id: string, index: number): Promise<boolean> {
    // Of concurrent inserts of one chunk, exactly one inserts a row; the others skip.
    const { rowCount } = await this.db.query('INSERT INTO upload_chunks (upload_id, idx) VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, index]);
    return rowCount === 1;
  }

  async hasChunk(id: string, index: number): Promise<boolean> {
    const { rowCount } = await this.db.query('SELECT 1 FROM upload_chunks WHERE upload_id = $1 AND idx = $2', [id, index]);
    return rowCount === 1;
  }

  async addRange(id: string, start: number, end: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // The upload's row lock makes the overlap check and the insert one step across nodes.
      await tx.query('SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE', [id]);
      const { rowCount } = await tx.query('SELECT 1 FROM upload_ranges WHERE upload_id = $1 AND start < $2 AND "end" > $3 LIMIT 1', [id, end, start]);
      if (rowCount) return false;
      await tx.query('INSERT INTO upload_ranges (upload_id, start, "end") VALUES ($1, $2, $3)', [id, start, end]);
      return true;
    });
  }

  async listRanges(id: string): Promise<{ start: number; end: number }[]> {
    const { rows } = await this.db.query<{ start: number; end: number }>('SELECT start, "end" FROM upload_ranges WHERE upload_id = $1 ORDER BY start', [id]);
    return rows;
  }

  async findAlias(ownerId: string, protocol: string, alias: string): Promise<string | null> {
    return aliasTarget(this.db, ownerId, protocol, alias);
  }

  async claimAlias(ownerId: string, protocol: string, alias: string, uploadId: string, replacing: string | null): Promise<string> {
    return this.db.transaction(async (tx) => {
      // The upsert locks the name's row whether or not it changes it, so the winner read next
      // (a new snapshot under READ COMMITTED, which sees a row another node just committed) stays
      // the winner until this transaction ends.
      const { rows: [claimed] } = await tx.query<{ upload_id: string }>(
        `INSERT INTO upload_aliases (owner_id, protocol, alias, upload_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner_id, protocol, alias) DO UPDATE SET upload_id = excluded.upload_id
         WHERE upload_aliases.upload_id = $5 RETURNING upload_id`,
        [ownerId, protocol, alias, uploadId, replacing],
      );
      if (claimed) return claimed.upload_id;
      return (await aliasTarget(tx, ownerId, protocol, alias))!;
    });
  }

  async listChunks(id: string): Promise<number[]> {
    const { rows } = await this.db.query<{ idx: number }>('SELECT idx FROM upload_chunks WHERE upload_id = $1 ORDER BY idx', [id]);
    return rows.map((row) => row.idx);
  }
}

/** Applies the changes and returns the updated row; also runs inside a completion's transaction. */
export async function updateUploadRow(q: Queryable, id: string, changes: UploadChanges): Promise<UploadRow | null> {
  const columns = uploadChangeColumns(changes);
  const assignments = columns.map(({ column }, i) => `"${column}" = $${i + 2}`);
  const text = assignments.length > 0
    ? `UPDATE uploads SET ${assignments.join(', ')} WHERE id = $1 RETURNING *`
    : 'SELECT * FROM uploads WHERE id = $1';
  const { rows: [row] } = await q.query<UploadRow>(text, [id, ...columns.map(({ value }) => value)]);
  return row ?? null;
}

/**
 * The owner's usage, read under a lock on the owner that is held until the transaction ends: the
 * reservations of several nodes for one owner queue on it, and each reads what the one before it
 * committed (READ COMMITTED takes a new snapshot per statement). Other users never wait. An
 * advisory lock rather than the user's row, since the check must hold before anything is written.
 */
async function lockedUsageOf(tx: Queryable, ownerId: string): Promise<StorageUsage> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('ferry.usage:' || $1, 0))", [ownerId]);
  return usageOf(tx, ownerId);
}

/** Uploads without a file hold their bytes themselves: unfinished ones what they reserve, completed tus partials what they hold. */
async function usageOf(q: Queryable, ownerId: string): Promise<StorageUsage> {
  const { rows: [row] } = await q.query<{ bytes: number; open_uploads: number; quota_bytes: number | null }>(
    `SELECT (SELECT COALESCE(SUM(size), 0) FROM files WHERE owner_id = $1)::bigint + COALESCE(SUM(COALESCE(size, "offset")), 0)::bigint AS bytes,
            COUNT(*) FILTER (WHERE state IN ('open', 'paused')) AS open_uploads,
            (SELECT quota_bytes FROM users WHERE id = $1) AS quota_bytes
       FROM uploads WHERE owner_id = $1 AND file_id IS NULL AND state IN ('open', 'paused', 'completed')`,
    [ownerId],
  );
  return { bytes: row!.bytes, openUploads: row!.open_uploads, quotaBytes: row!.quota_bytes };
}

async function aliasTarget(q: Queryable, ownerId: string, protocol: string, alias: string): Promise<string | null> {
  const { rows: [row] } = await q.query<{ upload_id: string }>(
    'SELECT upload_id FROM upload_aliases WHERE owner_id = $1 AND protocol = $2 AND alias = $3',
    [ownerId, protocol, alias],
  );
  return row?.upload_id ?? null;
}
