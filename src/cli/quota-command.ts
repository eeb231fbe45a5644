import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { FerryError } from '../core/errors.js';
import { UsageError } from './args.js';

/** `quota`'s lines of `ferry help`. */
export const QUOTA_USAGE = `  quota <username> [<bytes> | default] [--json]
            show a user's storage use and quota; with <bytes>, give them a quota of their own
            (0: nothing more may be stored), with \`default\`, FERRY_QUOTA_BYTES again
`;

/**
 * `ferry quota ...`: an operator's tool working on the metadata store directly (SQLite in the
 * data dir, beside a serving process, or FERRY_DATABASE_URL), so it needs no account of its own.
 */
export async function quota(args: string[], config: Config, out: NodeJS.WritableStream): Promise<void> {
  const { values, positionals } = parseCommand(args);
  const [username, amount, ...extra] = positionals;
  if (username === undefined || extra.length > 0) throw new UsageError('expected `quota <username> [<bytes> | default]`');
  const quotaBytes = amount === undefined ? undefined : parseAmount(amount);
  const { openMetaStore } = await import('../meta/open.js');
  const meta = await openMetaStore(config);
  try {
    const found = await meta.accounts.findUserByName(username);
    if (!found) throw new FerryError('not_found', `no user is named ${username}`);
    if (quotaBytes !== undefined) await meta.accounts.setQuota(found.user.id, quotaBytes);
    const usage = await meta.uploads.usage(found.user.id);
    const report = {
      username: found.user.username,
      usedBytes: usage.bytes,
      quotaBytes: usage.quotaBytes ?? config.quotaBytes,
      ownQuota: usage.quotaBytes !== null,
      unfinishedUploads: usage.openUploads,
    };
    const limit = report.quotaBytes === null ? 'no quota' : `a quota of ${report.quotaBytes} bytes${report.ownQuota ? ' (their own)' : ''}`;
    out.write(values.json
      ? `${JSON.stringify(report)}\n`
      : `${report.username}: ${report.usedBytes} bytes used, ${limit}; ${report.unfinishedUploads} unfinished uploads\n`);
  } finally {
    await meta.close();
  }
}

function parseAmount(raw: string): number | null {
  if (raw === 'default') return null;
  const bytes = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`quota: expected a number of bytes or \`default\`, not ${raw}`);
  return bytes;
}

function parseCommand(args: string[]) {
  try {
    return parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
