/**
 * A test server whose data dir sits deep inside a private sandbox directory, so that a test can
 * prove no request made the server write anywhere but its data dir: everything in the sandbox
 * outside the data dir is ours and must not change.
 */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import type { Config } from '../../src/config.js';
import { startTestServer, type TestServer } from './server.js';

export interface SandboxedServer {
  readonly server: TestServer;
  /** The sandbox root: sandbox/outer/inner/data is the data dir. */
  readonly root: string;
  /** The server's real data dir (TestServer.dataDir is not used by this server). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

export async function startSandboxedServer(overrides: Partial<Config> = {}): Promise<SandboxedServer> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-sandbox-'));
  const dataDir = join(root, 'outer', 'inner', 'data');
  await mkdir(dataDir, { recursive: true });
  const server = await startTestServer({ ...overrides, dataDir });
  return {
    server,
    root,
    dataDir,
    stop: async () => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Every path under `dir` (files and directories, relative, `/`-separated), skipping `exclude`. */
export async function listTree(dir: string, exclude?: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(current: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = join(current, entry.name);
      if (exclude !== undefined && full === exclude) continue;
      out.push(relative(dir, full).split(sep).join('/') + (entry.isDirectory() ? '/' : ''));
      if (entry.isDirectory()) await walk(full);
    }
  }
  await walk(dir);
  return out.sort();
}

/** Names directly in `dir`, or [] when it does not exist. */
export async function listNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
