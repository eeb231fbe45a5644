import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { AccountService, DEFAULT_TENANT } from '../core/accounts.js';
import { newKeyJson, userJson } from '../http/api/auth-routes.js';
import { SqliteMetaStore } from '../meta/sqlite/index.js';
import { UsageError } from './args.js';

/**
 * `ferry service-account ...`: works on the data dir directly, so the first key of a deployment
 * can be made before anyone can sign in. SQLite's WAL lets it run beside a serving process.
 */
export async function serviceAccount(args: string[], config: Config, out: NodeJS.WritableStream): Promise<void> {
  const { values, positionals } = parseCommand(args);
  const [action, name, ...extra] = positionals;
  const valid = (action === 'create' && name !== undefined && extra.length === 0) || (action === 'list' && name === undefined);
  if (!valid) {
    throw new UsageError('expected `service-account create <name>` or `service-account list`');
  }
  const meta = new SqliteMetaStore(join(config.dataDir, 'ferry.db'));
  try {
    const accounts = new AccountService({ meta });
    if (action === 'create') {
      const { user, key } = await accounts.createServiceAccount(name!, values.tenant ?? DEFAULT_TENANT);
      out.write(values.json
        ? `${JSON.stringify({ user: userJson(user), key: newKeyJson(key) })}\n`
        : `created service account ${user.username} (id ${user.id}, tenant ${user.tenant})\n` +
          `its API key, shown only now (send as "Authorization: Bearer <key>" or "X-API-Key: <key>"):\n${key.key}\n`);
      return;
    }
    const users = (await accounts.listServiceAccounts()).map(userJson);
    out.write(values.json
      ? `${JSON.stringify({ accounts: users })}\n`
      : users.map((user) => `${user.id}  ${user.username}  tenant=${user.tenant}  created=${user.createdAt}\n`).join(''));
  } finally {
    await meta.close();
  }
}

function parseCommand(args: string[]) {
  try {
    return parseArgs({ args, allowPositionals: true, options: { tenant: { type: 'string' }, json: { type: 'boolean' } } });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
