import type { OutboxEntry, OutboxRecords, PendingDelivery } from '../types.js';
import { fromOutboxRow, type OutboxRow } from '../rows.js';
import type { SqliteDatabase } from './database.js';

export class SqliteOutboxRecords implements OutboxRecords {
  constructor(private readonly sqlite: SqliteDatabase) {}

  async enqueue(entries: readonly OutboxEntry[]): Promise<void> {
    await this.sqlite.write(() => insertOutbox(this.sqlite, entries));
  }

  async claimDue(now: Date, limit: number, leaseMs: number): Promise<PendingDelivery[]> {
    return this.sqlite.write(() => {
      const rows = this.sqlite.db
      .prepare(
        `SELECT seq, id, destination, ordering_key, body, attempts, created_at FROM outbox o
         WHERE state = 'pending' AND next_attempt_at <= ?
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.destination = o.destination
                           AND p.ordering_key = o.ordering_key AND p.seq < o.seq)
         ORDER BY seq LIMIT ?`,
      )
      .all(now.getTime(), limit) as OutboxRow[];
      const claim = this.sqlite.db.prepare('UPDATE outbox SET next_attempt_at = ? WHERE seq = ?');
      for (const row of rows) claim.run(now.getTime() + leaseMs, row.seq);
      return rows.map(fromOutboxRow);
    });
  }

  async markDelivered(seq: number): Promise<void> {
    await this.sqlite.write(() => { this.sqlite.db.prepare('DELETE FROM outbox WHERE seq = ?').run(seq); });
  }

  async markFailed(seq: number, nextAttemptAt: Date | null, error: string): Promise<void> {
    await this.sqlite.write(() => {
      this.sqlite.db
        .prepare("UPDATE outbox SET attempts = attempts + 1, state = ?, next_attempt_at = ?, last_error = ? WHERE seq = ?")
        .run(nextAttemptAt === null ? 'dead' : 'pending', nextAttemptAt?.getTime() ?? 0, error.slice(0, 500), seq);
    });
  }

  async counts(): Promise<{ pending: number; dead: number }> {
    const rows = this.sqlite.db.prepare('SELECT state, count(*) AS n FROM outbox GROUP BY state').all() as { state: string; n: number }[];
    const count = (state: string) => rows.find((row) => row.state === state)?.n ?? 0;
    return { pending: count('pending'), dead: count('dead') };
  }
}

/** For use inside a transaction that also makes the change the messages are about. */
export function insertOutbox(sqlite: SqliteDatabase, entries: readonly OutboxEntry[]): void {
  const insert = sqlite.db.prepare(
    `INSERT INTO outbox (id, destination, ordering_key, body, state, attempts, next_attempt_at, created_at)
     VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)`,
  );
  for (const entry of entries) {
    insert.run(entry.id, entry.destination, entry.orderingKey, entry.body, entry.createdAt.getTime(), entry.createdAt.getTime());
  }
}
