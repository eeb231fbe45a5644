// One (server, case) measurement: start a fresh server, upload from a
// separate client process, read the server's CPU time and peak RSS, verify
// what it stored, then stop it and delete its data.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClientJob, ClientResult } from './client.js';
import { CHUNKED_CHUNK, CLIENT_TIMEOUT_MS, DIST_BENCH, type CaseName, type ServerName } from './config.js';
import { cpuTimes, peakRssBytes } from './proc.js';
import type { Row } from './report.js';
import { startServer, stopServer, track, type RunningServer } from './servers.js';
import type { SourceFile } from './source.js';
import { checkUpload } from './verify.js';

interface Part {
  start: number;
  length: number;
  sha256: string;
}

function partsFor(c: CaseName, src: SourceFile): Part[] {
  if (c === 'concurrent') return src.slices;
  return [{ start: 0, length: src.size, sha256: src.sha256 }];
}

/** Runs a client script of dist/bench/ with one JSON argument; its last stdout line is the result. */
export function runClient<R extends { ok: boolean }>(script: string, job: unknown): Promise<R | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(DIST_BENCH, script), JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLIENT_TIMEOUT_MS);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as R);
      } catch {
        resolve({ ok: false, error: `client exited (code ${code}, signal ${signal}) ${err.trim()}` });
      }
    });
  });
}

/** What a case's client did: its wall time, and a check of what the server stored. */
export interface Driven {
  wallMs: number;
  /** Problems found in the stored files, and how many files were checked. */
  check: () => Promise<{ wrong: string[]; total: number }>;
}

/**
 * The frame of every throughput case: a fresh server with its own data dir, the server's CPU
 * time over the client's run, its peak RSS, the check of what it stored, and cleanup.
 */
export async function measureCase(
  server: ServerName,
  c: CaseName,
  bytes: number,
  runDir: string,
  drive: (running: RunningServer, dataDir: string) => Promise<Driven>,
  serverEnv: NodeJS.ProcessEnv = {},
): Promise<Row> {
  const row: Row = { server, caseName: c, bytes, metrics: null, error: null };
  const dataDir = path.join(runDir, `data-${server}-${c}`);
  fs.mkdirSync(dataDir, { recursive: true });
  let running: RunningServer | undefined;
  try {
    running = await startServer(server, dataDir, serverEnv);
    const cpu0 = cpuTimes(running.pid);
    let driven: Driven;
    try {
      driven = await drive(running, dataDir);
    } catch (err) {
      const output = running.output();
      throw new Error(`upload failed: ${err instanceof Error ? err.message : String(err)}${output ? ` — server: ${output}` : ''}`);
    }
    const cpu1 = cpuTimes(running.pid);
    const peak = peakRssBytes(running.pid);
    row.metrics = { wallMs: driven.wallMs, cpuSec: cpu1.total - cpu0.total, sysSec: cpu1.sys - cpu0.sys, peakRssBytes: peak };
    const { wrong, total } = await driven.check();
    if (wrong.length > 0) row.error = `${wrong.length} of ${total} stored files wrong: ${wrong.slice(0, 2).join('; ')}`;
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err);
  } finally {
    if (running !== undefined) await stopServer(running.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
    spawnSync('sync'); // let the next case start without this one's dirty pages
  }
  return row;
}

/** The tus cases: tus-js-client uploads the parts of the case, every part its own upload. */
export async function runCase(server: ServerName, c: CaseName, src: SourceFile, runDir: string): Promise<Row> {
  const parts = partsFor(c, src);
  const bytes = parts.reduce((n, p) => n + p.length, 0);
  return measureCase(server, c, bytes, runDir, async (running, dataDir) => {
    const job: ClientJob = {
      endpoint: running.endpoint,
      file: src.path,
      parts: parts.map((p) => ({ start: p.start, length: p.length })),
      chunkSize: c === 'chunked' ? CHUNKED_CHUNK : null,
    };
    const result = await runClient<ClientResult>('client.js', job);
    if (!result.ok) throw new Error(result.error);
    return {
      wallMs: result.wallMs,
      check: async () => {
        const wrong: string[] = [];
        for (const [i, url] of result.urls.entries()) {
          const problem = await checkUpload({ name: server, dataDir, endpoint: running.endpoint }, url, parts[i]);
          if (problem !== null) wrong.push(problem);
        }
        return { wrong, total: parts.length };
      },
    };
  });
}
