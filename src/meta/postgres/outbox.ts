import { fromOutboxRow, type OutboxRow } from '../rows.js';
import type { OutboxEntry, OutboxRecords, PendingDelivery } from '../types.js';
import type { PostgresDatabase, Queryable } from './database.js';

/** Kept of a failure's message: enough to diagnose, bounded however long the receiver's answer. */
const ERROR_CHARS = 500;

export class PostgresOutboxRecords implements OutboxRecords {
  constructor(private readonly db: PostgresDatabase) {}

  async enqueue(entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length > 0) await this.db.transaction((tx) => insertOutbox(tx, entries));
  }

  async claimDue(now: Date, limit: number, leaseMs: number): Promise<PendingDelivery[]> {
    // SKIP LOCKED: workers claiming at the same time take different messages instead of waiting.
    const { rows } = await this.db.query<OutboxRow>(
      `UPDATE outbox SET next_attempt_at = $3 WHERE seq IN (
         SELECT seq FROM outbox o
         WHERE state = 'pending' AND next_attempt_at <= $1
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.destination = o.destination
                           AND p.ordering_key = o.ordering_key AND p.seq < o.seq)
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING seq, id, destination, ordering_key, body, attempts, created_at`,
      [now.getTime(), limit, now.getTime() + leaseMs],
    );
    return rows.map(fromOutboxRow).sort((a, b) => a.seq - b.seq);
  }

  async markDelivered(seq: number): Promise<void> {
    await this.db.query('DELETE FROM outbox WHERE seq = $1', [seq]);
  }

  async markFailed(seq: number, nextAttemptAt: Date | null, error: string): Promise<void> {
    await this.db.query(
      'UPDATE outbox SET attempts = attempts + 1, state = $1, next_attempt_at = $2, last_error = $3 WHERE seq = $4',
      [nextAttemptAt === null ? 'dead' : 'pending', nextAttemptAt?.getTime() ?? 0, error.slice(0, ERROR_CHARS), seq],
    );
  }

  async counts(): Promise<{ pending: number; dead: number }> {
    const { rows } = await this.db.query<{ state: string; n: number }>('SELECT state, count(*) AS n FROM outbox GROUP BY state');
    const count = (state: string) => rows.find((row) => row.state === state)?.n ?? 0;
    return { pending: count('pending'), dead: count('dead') };
  }
}

/**
 * Inside the transaction that makes the change the messages are about. A line (destination and
 * ordering key) is delivered in seq order, but nodes draw seqs before they commit, so two nodes
 * writing to one line could commit out of seq order and a later message would go first. Each
 * line's lock, held to commit, makes its seqs follow its commits; lines are locked in one order so
 * that transactions writing several cannot deadlock.
 */
export async function insertOutbox(tx: Queryable, entries: readonly OutboxEntry[]): Promise<void> {
  const lines = [...new Set(entries.map((entry) => JSON.stringify([entry.destination, entry.orderingKey])))].sort();
  for (const line of lines) await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [line]);
  for (const entry of entries) {
    await tx.query(
      `INSERT INTO outbox (id, destination, ordering_key, body, state, attempts, next_attempt_at, created_at)
       VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)`,
      [entry.id, entry.destination, entry.orderingKey, entry.body, entry.createdAt.getTime()],
    );
  }
}
