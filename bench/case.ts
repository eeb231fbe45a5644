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
import { startServer, stopServer, track } from './servers.js';
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

function runClient(job: ClientJob): Promise<ClientResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(DIST_BENCH, 'client.js'), JSON.stringify(job)], {
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
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as ClientResult);
      } catch {
        resolve({ ok: false, error: `client exited (code ${code}, signal ${signal}) ${err.trim()}` });
      }
    });
  });
}

export async function runCase(server: ServerName, c: CaseName, src: SourceFile, runDir: string): Promise<Row> {
  const parts = partsFor(c, src);
  const row: Row = { server, caseName: c, bytes: parts.reduce((n, p) => n + p.length, 0), metrics: null, error: null };
  const dataDir = path.join(runDir, `data-${server}-${c}`);
  fs.mkdirSync(dataDir, { recursive: true });
  let running: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    running = await startServer(server, dataDir);
    const job: ClientJob = {
      endpoint: running.endpoint,
      file: src.path,
      parts: parts.map((p) => ({ start: p.start, length: p.length })),
      chunkSize: c === 'chunked' ? CHUNKED_CHUNK : null,
    };
    const cpu0 = cpuTimes(running.pid);
    const result = await runClient(job);
    const cpu1 = cpuTimes(running.pid);
    const peak = peakRssBytes(running.pid);
    if (!result.ok) throw new Error(`upload failed: ${result.error}${running.output() ? ` — server: ${running.output()}` : ''}`);
    row.metrics = { wallMs: result.wallMs, cpuSec: cpu1.total - cpu0.total, sysSec: cpu1.sys - cpu0.sys, peakRssBytes: peak };
    const problems: string[] = [];
    for (const [i, url] of result.urls.entries()) {
      const problem = await checkUpload({ name: server, dataDir, endpoint: running.endpoint }, url, parts[i]);
      if (problem !== null) problems.push(problem);
    }
    if (problems.length > 0) row.error = `${problems.length} of ${parts.length} stored files wrong: ${problems.slice(0, 2).join('; ')}`;
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err);
  } finally {
    if (running !== undefined) await stopServer(running.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
    spawnSync('sync'); // let the next case start without this one's dirty pages
  }
  return row;
}
