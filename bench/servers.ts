// Starts each server under test as its own child process on 127.0.0.1 and
// stops it again. Every child is tracked so it can be killed on any exit path.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIST_BENCH, FERRY_MAIN, READY_TIMEOUT_MS, STOP_TIMEOUT_MS, type ServerName } from './config.js';

export interface RunningServer {
  name: ServerName;
  pid: number;
  port: number;
  /** http://127.0.0.1:<port> */
  base: string;
  /** tus creation endpoint */
  endpoint: string;
  child: ChildProcess;
  /** Last lines the server wrote, for error messages. */
  output: () => string;
}

const live = new Set<ChildProcess>();

/** Kills every child still running; safe to call from an 'exit' handler. */
export function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

/** Tracks a child so killAll() reaches it. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function command(name: ServerName, port: number, dataDir: string): { args: string[]; env: NodeJS.ProcessEnv } {
  switch (name) {
    case 'raw':
    case 'raw-fsync':
      return {
        args: [path.join(DIST_BENCH, 'raw-server.js')],
        env: { BENCH_PORT: String(port), BENCH_DATA_DIR: dataDir, BENCH_FLUSH: name === 'raw-fsync' ? '1' : '' },
      };
    case 'tus-server':
      return { args: [path.join(DIST_BENCH, 'tus-server.js')], env: { BENCH_PORT: String(port), BENCH_DATA_DIR: dataDir } };
    case 'ferry': {
      const ferry = ferryCommand();
      return {
        // Node's environment and flags as the `ferry` command runs with them (its #! line), then BENCH_FERRY_NODE_ARGS
        // (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`): to see where Ferry's time goes under the benchmark.
        args: [...ferry.flags, ...(process.env.BENCH_FERRY_NODE_ARGS ?? '').split(' ').filter(Boolean), FERRY_MAIN, 'serve'],
        env: { ...ferry.env, FERRY_HOST: '127.0.0.1', FERRY_PORT: String(port), FERRY_DATA_DIR: dataDir, FERRY_LOG_LEVEL: 'warn', FERRY_AUTH: 'none' },
      };
    }
  }
}

/** The environment and Node flags on the `ferry` command's #! line (`#!/usr/bin/env -S NAME=value node --flag ...`). */
function ferryCommand(): { env: NodeJS.ProcessEnv; flags: string[] } {
  const words = fs.readFileSync(FERRY_MAIN, 'utf8').split('\n', 1)[0]!.split(' ');
  const assignments = words.filter((word) => /^[A-Z_]+=/.test(word)).map((word) => word.split(/=(.*)/s, 2) as [string, string]);
  return { env: Object.fromEntries(assignments), flags: words.filter((word) => word.startsWith('--')) };
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

function tail(text: string, max = 600): string {
  return text.length <= max ? text : '…' + text.slice(-max);
}

/** `extraEnv` overrides the server's settings (e.g. FERRY_AUTH, FERRY_LOG_LEVEL). */
export async function startServer(name: ServerName, dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  if (name === 'ferry' && !fs.existsSync(FERRY_MAIN)) throw new Error(`not built: ${path.relative(process.cwd(), FERRY_MAIN)} is missing`);
  const port = await freePort();
  const { args, env } = command(name, port, dataDir);
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let out = '';
  // Always drain the pipes: a full pipe would stall the server.
  const keep = (chunk: Buffer): void => {
    out = tail(out + chunk.toString('utf8'), 4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const state: { exited: string | null } = { exited: null };
  child.once('exit', (code, signal) => (state.exited ??= `exited early (code ${code}, signal ${signal})`));
  child.once('error', (err) => (state.exited = `could not spawn: ${err.message}`));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (state.exited !== null) break;
    if (await healthy(port)) {
      if (child.pid === undefined) break;
      const base = `http://127.0.0.1:${port}`;
      return { name, pid: child.pid, port, base, endpoint: `${base}/files/`, child, output: () => tail(out) };
    }
    await sleep(50);
  }
  await stopServer(child);
  throw new Error(`${name} failed to start: ${state.exited ?? `no 200 from /healthz in ${READY_TIMEOUT_MS} ms`}${out ? ` — ${tail(out).trim()}` : ''}`);
}

/** SIGTERM, then SIGKILL if the process has not exited within STOP_TIMEOUT_MS. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await gone;
  clearTimeout(timer);
}
