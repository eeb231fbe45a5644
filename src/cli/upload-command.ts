import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { FerryApiError, FerryClient, FerryNetworkError, fileSource, type UploadProgress, type UploadResult } from '../../client/src/node.js';
import { integerFlag, parseCommandArgs, SERVER_FLAGS, sizeFlag, UsageError } from './args.js';
import { CliError, resolveServer, statePath, type Env } from './client-config.js';
import { bar, describeError, formatBytes, formatDuration, LiveBlock } from './client-output.js';

export const UPLOAD_USAGE = `  upload <files or folders...> [--parallel N] [--chunk-size 8M] [--protocol native|tus]
         [--json]
            upload files; folders are walked and names keep their relative paths
            (photos/2026/cat.jpg); an interrupted upload resumes when the command is run
            again; content the server already has completes instantly. --protocol tus
            sends over tus 1.0 instead (one PATCH of --chunk-size at a time, no instant upload)
`;

/** The exit code of a command stopped by Ctrl-C (128 + SIGINT). */
export const INTERRUPTED = 130;

interface Entry {
  path: string;
  name: string;
  size: number;
}

interface Outcome {
  path: string;
  name: string;
  size: number;
  result?: UploadResult;
  error?: string;
}

/** `ferry upload`: returns the exit code (0 all uploaded, 1 some failed, 130 interrupted). */
export async function upload(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseCommandArgs('upload', args, {
    ...SERVER_FLAGS,
    parallel: { type: 'string', short: 'p' },
    'chunk-size': { type: 'string' },
    protocol: { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('upload: name at least one file or folder');
  const protocol = values.protocol ?? 'native';
  if (protocol !== 'native' && protocol !== 'tus') throw new UsageError('upload: --protocol takes native or tus');
  const parallel = integerFlag('upload', 'parallel', values.parallel, 4, 1, 64);
  const chunkSize = sizeFlag('upload', 'chunk-size', values['chunk-size']);
  const server = await resolveServer(values, env);
  const entries = await collect(positionals);
  const client = new FerryClient({ baseUrl: server.url, token: server.token, statePath: statePath(env) });

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const json = values.json === true;
  const block = new LiveBlock(process.stderr, !json && Boolean(process.stderr.isTTY));
  const print = (line: string) => (json ? undefined : block.live ? block.print(line) : process.stdout.write(`${line}\n`));
  const warn = (line: string) => (block.live ? block.print(line) : process.stderr.write(`${line}\n`));
  const totalBytes = entries.reduce((sum, entry) => sum + entry.size, 0);
  const started = Date.now();
  let doneBytes = 0;
  const outcomes: Outcome[] = [];
  try {
    for (const entry of entries) {
      const outcome: Outcome = { path: entry.path, name: entry.name, size: entry.size };
      outcomes.push(outcome);
      const render = (progress: UploadProgress) => {
        block.update([fileLine(entry.name, progress), totalLine(entries.length, outcomes.length, doneBytes + progress.uploadedBytes, totalBytes, started)]);
      };
      try {
        const result = await client.upload(await fileSource(entry.path, { name: entry.name }), {
          name: entry.name,
          protocol,
          parallel,
          signal: controller.signal,
          onProgress: render,
          ...(chunkSize ? { chunkSize } : {}),
        });
        outcome.result = result;
        print(doneLine(entry.name, result));
      } catch (err) {
        if (controller.signal.aborted) break;
        // Nothing else can succeed without the server or a valid token: one line, exit 1.
        if (err instanceof FerryNetworkError || (err instanceof FerryApiError && err.status === 401)) throw new CliError(describeError(err));
        outcome.error = describeError(err);
        warn(`ferry: ${entry.name}: ${outcome.error}`);
      }
      doneBytes += entry.size;
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    block.end();
  }

  const interrupted = controller.signal.aborted;
  const failed = outcomes.filter((outcome) => outcome.error !== undefined);
  const done = outcomes.filter((outcome) => outcome.result);
  if (json) {
    process.stdout.write(`${JSON.stringify({
      files: done.map(({ path, result }) => ({ path, ...summary(result!) })),
      failed: failed.map(({ path, name, error }) => ({ path, name, error })),
      interrupted,
    })}\n`);
  } else {
    const instant = done.filter((outcome) => outcome.result!.instant).length;
    const sent = done.reduce((sum, outcome) => sum + outcome.result!.sentBytes, 0);
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`${done.length} of ${entries.length} files uploaded (${instant} instant), ${formatBytes(sent)} sent in ${seconds.toFixed(1)} s` +
      `${failed.length ? `, ${failed.length} failed` : ''}\n`);
  }
  if (interrupted) {
    process.stderr.write('ferry: interrupted; run the same command again to resume\n');
    return INTERRUPTED;
  }
  return failed.length > 0 ? 1 : 0;
}

function summary(result: UploadResult) {
  return {
    id: result.file.id,
    name: result.file.name,
    size: result.file.size,
    sha256: result.file.sha256,
    uploadId: result.uploadId,
    instant: result.instant,
    resumed: result.resumed,
    chunksSent: result.chunksSent,
    sentBytes: result.sentBytes,
  };
}

function doneLine(name: string, result: UploadResult): string {
  const how = result.instant ? 'instant ' : result.resumed ? 'resumed ' : 'uploaded';
  const sent = result.instant ? 'no bytes sent' : `${formatBytes(result.sentBytes)} sent`;
  return `${how}  ${name}  ${formatBytes(result.file.size)}  ${result.file.id}  (${sent})`;
}

function fileLine(name: string, progress: UploadProgress): string {
  if (progress.phase === 'hashing') {
    return `${bar(progress.hashedBytes, progress.totalBytes)} hashing  ${name}  ${formatBytes(progress.hashedBytes)}/${formatBytes(progress.totalBytes)}  ${formatBytes(progress.speed)}/s`;
  }
  return `${bar(progress.uploadedBytes, progress.totalBytes)} ${progress.phase.padEnd(8)} ${name}  ${formatBytes(progress.uploadedBytes)}/${formatBytes(progress.totalBytes)}  ` +
    `${formatBytes(progress.speed)}/s  ETA ${formatDuration(progress.etaSeconds)}`;
}

function totalLine(files: number, current: number, done: number, total: number, started: number): string {
  const seconds = (Date.now() - started) / 1000;
  const speed = seconds > 0 ? done / seconds : 0;
  return `${bar(done, total)} total    file ${current}/${files}  ${formatBytes(done)}/${formatBytes(total)}  ${formatBytes(speed)}/s`;
}

/** The files to upload: files as named, folders walked in name order, names with `/` separators. */
async function collect(paths: readonly string[]): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (!info) throw new CliError(`${path}: no such file or folder`);
    if (info.isFile()) entries.push({ path, name: basename(resolve(path)), size: info.size });
    else if (info.isDirectory()) {
      const root = dirname(resolve(path));
      for (const file of await walk(resolve(path))) entries.push({ path: file.path, name: relative(root, file.path).split(sep).join('/'), size: file.size });
    } else throw new CliError(`${path}: not a file or folder`);
  }
  if (entries.length === 0) throw new CliError('nothing to upload: the folders are empty');
  return entries;
}

async function walk(dir: string): Promise<{ path: string; size: number }[]> {
  const found: { path: string; size: number }[] = [];
  const children = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const child of children) {
    const path = join(dir, child.name);
    if (child.isDirectory()) found.push(...(await walk(path)));
    else if (child.isFile()) found.push({ path, size: (await stat(path)).size });
  }
  return found;
}
