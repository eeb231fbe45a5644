import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryClient, type FerryFile } from '../../client/src/node.js';
import { integerFlag, parseCommandArgs, SERVER_FLAGS, UsageError } from './args.js';
import { resolveServer, type Env } from './client-config.js';
import { bar, formatBytes, formatDuration, LiveBlock } from './client-output.js';
import { INTERRUPTED } from './upload-command.js';

export const FILES_USAGE = `  ls [--folder <f>] [--search <text>] [--sort name|size|time] [--order asc|desc]
     [--limit N] [--offset N] [--json]
            list your files
  get <id> [path] [--json]
            download a file (into the current folder under its name by default);
            an interrupted download continues from its .part file when run again
  rm <id...> [--json]
            delete files
`;

/** A client for the flags and env; quick commands retry less, so that a server that is down is said at once. */
async function connect(values: { url?: string | undefined; token?: string | undefined }, env: Env, retries = 2): Promise<FerryClient> {
  const server = await resolveServer(values, env);
  return new FerryClient({ baseUrl: server.url, token: server.token, retry: { retries } });
}

/** `ferry ls`. */
export async function ls(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseCommandArgs('ls', args, {
    ...SERVER_FLAGS,
    folder: { type: 'string' },
    search: { type: 'string', short: 'q' },
    sort: { type: 'string' },
    order: { type: 'string' },
    limit: { type: 'string' },
    offset: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError('ls: takes no arguments (use --folder or --search)');
  if (values.sort !== undefined && !['name', 'size', 'time'].includes(values.sort)) throw new UsageError('ls: --sort takes name, size or time');
  if (values.order !== undefined && !['asc', 'desc'].includes(values.order)) throw new UsageError('ls: --order takes asc or desc');
  const client = await connect(values, env);
  const list = await client.list({
    limit: integerFlag('ls', 'limit', values.limit, 50, 1, 1000),
    offset: integerFlag('ls', 'offset', values.offset, 0, 0, Number.MAX_SAFE_INTEGER),
    ...(values.folder !== undefined ? { folder: values.folder } : {}),
    ...(values.search !== undefined ? { q: values.search } : {}),
    ...(values.sort !== undefined ? { sort: values.sort as 'name' } : {}),
    ...(values.order !== undefined ? { order: values.order as 'asc' } : {}),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(list)}\n`);
    return 0;
  }
  for (const file of list.files) process.stdout.write(`${file.id}  ${formatBytes(file.size).padStart(9)}  ${file.createdAt.slice(0, 19).replace('T', ' ')}  ${file.name}\n`);
  const shown = list.files.length;
  process.stdout.write(shown === list.total ? `${list.total} file${list.total === 1 ? '' : 's'}\n` : `${shown} of ${list.total} files (from ${list.offset}; see --offset)\n`);
  return 0;
}

/** `ferry get <id> [path]`. */
export async function get(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseCommandArgs('get', args, SERVER_FLAGS);
  const [id, given, ...extra] = positionals;
  if (!id || extra.length > 0) throw new UsageError('get: expected `get <id> [path]`');
  const client = await connect(values, env, 4);
  const file = await client.file(id);
  const path = await targetPath(file, given);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  const block = new LiveBlock(process.stderr, !values.json && Boolean(process.stderr.isTTY));
  try {
    const result = await client.download(id, path, {
      signal: controller.signal,
      onProgress: (p) => block.update([`${bar(p.receivedBytes, p.totalBytes)} ${file.name}  ${formatBytes(p.receivedBytes)}/${formatBytes(p.totalBytes)}  ${formatBytes(p.speed)}/s  ETA ${formatDuration(p.etaSeconds)}`]),
    });
    block.end();
    process.stdout.write(values.json
      ? `${JSON.stringify({ file: result.file, path, resumedFrom: result.resumedFrom, receivedBytes: result.receivedBytes })}\n`
      : `saved ${file.name} (${formatBytes(file.size)}) to ${path}${result.resumedFrom > 0 ? `, continued from ${formatBytes(result.resumedFrom)}` : ''}\n`);
    return 0;
  } catch (err) {
    block.end();
    if (!controller.signal.aborted) throw err;
    process.stderr.write(`ferry: interrupted; run the same command again to continue from ${path}.part\n`);
    return INTERRUPTED;
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

/** The file's base name in the current folder, or in the given folder, or the given path. */
async function targetPath(file: FerryFile, given: string | undefined): Promise<string> {
  const base = file.name.split('/').pop()!;
  if (given === undefined) return base;
  const info = await stat(given).catch(() => null);
  return info?.isDirectory() ? join(given, base) : given;
}

/** `ferry rm <id...>`. */
export async function rm(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseCommandArgs('rm', args, SERVER_FLAGS);
  if (positionals.length === 0) throw new UsageError('rm: expected `rm <id...>`');
  const client = await connect(values, env);
  const removed: string[] = [];
  for (const id of positionals) {
    await client.remove(id);
    removed.push(id);
    if (!values.json) process.stdout.write(`removed ${id}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ removed })}\n`);
  return 0;
}
