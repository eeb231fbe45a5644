import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultStatePath } from '../../client/src/node.js';
import { UsageError } from './args.js';

/** What `ferry login` keeps: the server and a session token for it. */
export interface ClientConfigFile {
  url?: string;
  token?: string;
  username?: string;
  expiresAt?: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** FERRY_CLIENT_CONFIG, else `$XDG_CONFIG_HOME/ferry/client.json`, else `~/.config/ferry/client.json`. */
export function configPath(env: Env): string {
  return env.FERRY_CLIENT_CONFIG || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'ferry', 'client.json');
}

/** FERRY_CLIENT_STATE, else `$XDG_STATE_HOME/ferry/uploads.json`, else `~/.local/state/ferry/uploads.json`. */
export function statePath(env: Env): string {
  return env.FERRY_CLIENT_STATE || defaultStatePath(env, homedir());
}

export async function readConfig(path: string): Promise<ClientConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return {};
  }
  try {
    return JSON.parse(text) as ClientConfigFile;
  } catch {
    throw new CliError(`${path} is not valid JSON: fix or remove it, then run \`ferry login\` again`);
  }
}

/** Writes the config readable by its owner only (it holds a token). */
export async function writeConfig(path: string, config: ClientConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}

/** Where to connect and as whom: flags first, then FERRY_URL / FERRY_TOKEN, then the config file. */
export async function resolveServer(flags: { url?: string | undefined; token?: string | undefined }, env: Env): Promise<{ url: string; token: string }> {
  const file = await readConfig(configPath(env));
  const url = flags.url ?? env.FERRY_URL ?? file.url;
  if (!url) throw new UsageError('no server: pass --url, set FERRY_URL or run `ferry login`');
  const token = flags.token ?? env.FERRY_TOKEN ?? (file.url === undefined || sameServer(file.url, url) ? file.token : undefined);
  if (!token) throw new CliError(`not signed in to ${url}: run \`ferry login\`, or pass --token or FERRY_TOKEN`);
  return { url: normalizeUrl(url), token };
}

export function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${url} is not a URL (expected e.g. http://127.0.0.1:8080)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`${url}: only http and https servers`);
  return parsed.href.replace(/\/+$/, '');
}

function sameServer(a: string, b: string): boolean {
  try {
    return normalizeUrl(a) === normalizeUrl(b);
  } catch {
    return false;
  }
}

/** An expected failure: one line on stderr, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}
