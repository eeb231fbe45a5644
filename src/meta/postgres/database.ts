import pg from 'pg';
import { FerryError } from '../../core/errors.js';
import { MIGRATIONS } from './migrations.js';

/** The pool or the client of one transaction: whatever runs a query. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Any fixed number, the same on every node: it names the lock that serializes migrations. */
const MIGRATION_LOCK = 0x6665727279;

/** A connection attempt that hangs (a host that drops packets) must fail, not stall readiness checks. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Sizes and offsets are bigint columns, which pg hands over as strings by default. Every value
 * Ferry stores fits a JS number (configured limits stop at 2^53 - 1); refuse to round one that
 * does not rather than report a wrong size.
 */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} does not fit a JavaScript number`);
  return value;
}

/** Set per pool, not on pg's global parsers, so other users of pg in the process are unaffected. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** One pool per process, shared by the record stores. A write resolves once its commit has. */
export class PostgresDatabase implements Queryable {
  private readonly pool: pg.Pool;

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, types: TYPES, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'ferry' });
    // A connection that breaks while idle (a server restart, a failover) is reported here; unheard,
    // the event would end the process. The pool has already dropped it and the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /** One statement on any free connection, committed on its own. */
  async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw asFerryError(err);
    }
  }

  /** Runs `work` in one transaction on one connection: committed if it resolves, rolled back if it throws. */
  async transaction<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch((err: unknown) => { throw asFerryError(err); });
    let broken: Error | undefined;
    // A connection that breaks while the transaction holds it between statements is reported as an
    // 'error' event on the client, which the pool only listens for on idle ones: unheard, it ends
    // the process. The next statement then fails, and the client is not handed out again.
    const onError = (err: Error) => { broken = err; };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that cannot even roll back is not handed to the next transaction.
      await client.query('ROLLBACK').catch((rollbackError: Error) => { broken = rollbackError; });
      throw asFerryError(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** SELECT 1 on any connection, the driver's error as it is (the caller says what failed). */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /**
   * Applies the missing migrations in one transaction. Nodes that start together queue on a
   * transaction-scoped advisory lock, so the first migrates and the others find the work done; the
   * lock goes with the transaction even if its node dies.
   */
  async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)');
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((row) => row.version));
      for (const [index, sql] of MIGRATIONS.entries()) {
        const version = index + 1;
        if (applied.has(version)) continue;
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      }
    });
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/**
 * SQLSTATEs that mean "the server cannot serve right now": class 08 (connection exception), the
 * server shutting down or starting (57P01-57P03), too many connections and out of resources (53).
 */
const UNAVAILABLE_STATE = /^(08|57P0[1-3]|53)/;
/** pg's own errors for a connection that broke or never came, which carry no code. */
const BROKEN_CONNECTION = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end|Query read timeout)/;

/** SQLSTATE disk_full: the database cannot write, as a full disk under local storage cannot. */
const DISK_FULL = '53100';

/**
 * A failed query as the HTTP edge should see it: a database that is unreachable, restarting or out
 * of connections is service_unavailable (503), one whose disk is full is storage_full (507), both
 * keeping the driver's error as the cause. Anything else (a constraint, a syntax error, a domain
 * error thrown inside a transaction) stays as it is.
 */
export function asFerryError(err: unknown): unknown {
  if (err instanceof FerryError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (code === DISK_FULL) return new FerryError('storage_full', `the metadata database (PostgreSQL) is out of disk space: ${err.message}`, { cause: err });
  const down = (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATE.test(code))) || BROKEN_CONNECTION.test(err.message);
  return down ? new FerryError('service_unavailable', `the metadata database (PostgreSQL) is unavailable: ${err.message}`, { cause: err }) : err;
}

/** An INSERT of every field of `row`, column names quoted (`offset` is a reserved word). */
export function insertRow(table: string, row: object): { text: string; values: unknown[] } {
  const columns = Object.keys(row);
  const placeholders = columns.map((_, i) => `$${i + 1}`);
  return {
    text: `INSERT INTO ${table} (${columns.map((column) => `"${column}"`).join(', ')}) VALUES (${placeholders.join(', ')})`,
    values: Object.values(row),
  };
}
