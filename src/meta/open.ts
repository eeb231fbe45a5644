import { join } from 'node:path';
import type { Config } from '../config.js';
import { SqliteMetaStore } from './sqlite/index.js';
import type { MetaStore } from './types.js';

/** The metadata store the config names: PostgreSQL with databaseUrl, otherwise SQLite in the data dir. */
export async function openMetaStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<MetaStore> {
  // The PostgreSQL driver is loaded only when used: it costs start-up time, and a resident heap
  // that every garbage collection walks while uploads stream in.
  if (config.databaseUrl) return (await import('./postgres/index.js')).PostgresMetaStore.open(config.databaseUrl);
  return new SqliteMetaStore(join(config.dataDir, 'ferry.db'));
}
