/**
 * One soak run: a cluster under chaos while workers upload through every protocol, then the audit
 * (test/soak/audit.ts). Returns what happened and every rule that was broken; the caller prints
 * the summary and decides what a violation means (a non-zero exit, a failed test).
 */
import { sleep } from '../helpers/e2e.js';
import { Chaos, reviveCrashed, type ChaosCounts } from './chaos.js';
import { SoakCluster } from './cluster.js';
import {
  checkBlobBytes, checkCompleted, checkLibrary, deadBlobs, describeUpload, orphans, unfinishedUploads, waitUntilEmpty,
} from './audit.js';
import { flowJs, nativeChunks } from './chunks.js';
import { fupload } from './fupload.js';
import type { Protocol, Storage } from './protocol.js';
import { Random } from './random.js';
import { tusJsClient } from './tus-js.js';
import { ietfDraft, rawTus } from './tus.js';
import { Workload, type UploadRecord } from './workload.js';

export const PROTOCOLS: readonly Protocol[] = [rawTus, tusJsClient, ietfDraft, nativeChunks, flowJs, fupload];

export interface SoakOptions {
  readonly seed: string;
  readonly durationSeconds: number;
  readonly concurrency: number;
  readonly storage: Storage;
  readonly maxSize: number;
  readonly apiNodes: number;
  readonly expirySeconds: number;
  readonly sweepSeconds: number;
  /** Pause between two chaos events, in ms. */
  readonly chaosGapMs: readonly [number, number];
  readonly log: (line: string) => void;
  /** Ends the run early: uploads and chaos stop, nothing is audited, everything is cleaned up. */
  readonly interrupt?: AbortSignal;
}

export interface SoakReport {
  readonly options: SoakOptions;
  readonly records: readonly UploadRecord[];
  readonly chaos: ChaosCounts;
  readonly blobs: number;
  readonly callbacks: { expected: number; received: number };
  readonly violations: readonly string[];
}

/** How long the audit gives uploads left incomplete to finish, all together. */
const RESUME_WITHIN_MS = 240_000;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { seed, log } = options;
  const started = Date.now();
  const at = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const violations: string[] = [];
  const seen = new Set<string>();
  const violation = (record: UploadRecord | null, what: string) => {
    const line = `${record ? `${record.protocol} ${record.label} ${JSON.stringify(record.ref)}: ` : ''}${what}`;
    if (seen.has(line)) return;
    seen.add(line);
    violations.push(`[${at()}] ${line}`);
    log(`VIOLATION ${line}`);
  };

  const protocols = PROTOCOLS.filter((protocol) => protocol.supports(options.storage));
  const soak = await SoakCluster.start({ storage: options.storage, apiNodes: options.apiNodes, expirySeconds: options.expirySeconds, sweepSeconds: options.sweepSeconds });
  try {
    log(`[${at()}] cluster up: api ${soak.api.map((node) => node.port).join(', ')}, worker ${soak.worker.port}, storage ${options.storage}, schema ${soak.cluster.schema}`);
    const workload = new Workload({
      seed, storage: options.storage, protocols, maxSize: options.maxSize, expirySeconds: options.expirySeconds,
      cutRate: 0.3, abandonRate: 0.1, duplicateRate: 0.1, deleteRate: 0.1,
      base: (rng) => rng.pick(soak.api).url,
      violation,
    });
    const chaos = new Chaos(soak, Random.derive(seed, 'chaos'), {
      gapMs: options.chaosGapMs,
      log: (line) => log(`[${at()}] ${line}`),
      violation: (what) => violation(null, what),
    });
    const deadline = Date.now() + options.durationSeconds * 1000;
    const interrupted = new Promise<void>((resolve) => options.interrupt?.addEventListener('abort', () => resolve(), { once: true }));
    void interrupted.then(() => workload.stop());
    chaos.start();
    await Promise.all([
      workload.run(options.concurrency, deadline),
      Promise.race([sleep(Math.max(0, deadline - Date.now())), interrupted]).then(() => chaos.stop()),
    ]);
    if (options.interrupt?.aborted) throw new Error(`interrupted after ${workload.records.length} uploads; nothing audited`);
    log(`[${at()}] soak over: ${workload.records.length} uploads; auditing`);

    await reviveCrashed(soak, (what) => violation(null, what));
    await resumeIncomplete(workload, options, violation);
    log(`[${at()}] incomplete uploads resumed`);

    const completed = workload.records.filter((record) => record.state === 'completed');
    await inBatches(completed, 4, (record) => checkCompleted(soak, record, violation));
    await checkLibrary(soak, violation);
    const blobs = await checkBlobBytes(soak, violation);
    log(`[${at()}] ${completed.length} completed uploads and ${blobs} blobs checked; waiting for expiry and sweeps`);

    const sweeps = (options.expirySeconds + 4 * options.sweepSeconds) * 1000 + 30_000;
    for (const left of await waitUntilEmpty(() => unfinishedUploads(soak), sweeps)) violation(null, `unfinished upload not swept after its expiry: ${left}`);
    for (const key of await waitUntilEmpty(() => deadBlobs(soak), 4 * options.sweepSeconds * 1000 + 30_000)) violation(null, `dead blob never removed: ${key}`);
    for (const orphan of await orphans(soak)) violation(null, orphan);

    const tasks = completed.flatMap((record) => (record.ref?.kind === 'fupload' ? [record.ref.taskId] : []));
    const missing = await waitUntilEmpty(async () => tasks.filter((task) => soak.callbacks.get(task) !== '0'), 60_000);
    for (const task of missing) violation(null, `fupload task ${task} completed but its business server got no success callback (got ${soak.callbacks.get(task) ?? 'none'})`);
    log(`[${at()}] audit done`);
    if (violations.length > 0) {
      const ids = new Set(violations.flatMap((line) => line.match(/\b[0-9a-f]{32}\b/g) ?? []));
      for (const id of ids) violations.push(`upload ${id} now: ${await describeUpload(soak, id)}`);
      log(`errors the nodes logged:\n${soak.errorLogs()}`);
    }
    return { options, records: workload.records, chaos: chaos.counts, blobs, callbacks: { expected: tasks.length, received: tasks.length - missing.length }, violations };
  } finally {
    await soak.dispose();
  }
}

/**
 * Drives every upload the soak left incomplete to its end, without chaos or cuts; and tries once
 * more the ones that failed, to tell a stuck upload from one that only answered wrongly once.
 */
async function resumeIncomplete(workload: Workload, options: SoakOptions, violation: (record: UploadRecord | null, what: string) => void): Promise<void> {
  const failed = workload.records.filter((record) => record.state === 'failed' && record.session);
  const incomplete = workload.records.filter((record) => record.state === 'incomplete');
  const deadline = Date.now() + RESUME_WITHIN_MS;
  const protocols = new Map(PROTOCOLS.map((protocol) => [protocol.name, protocol]));
  await inBatches(incomplete, options.concurrency, async (record) => {
    const rng = Random.derive(options.seed, `resume-${record.label}`);
    await workload.drive(record, protocols.get(record.protocol)!, workload.planOf(record), rng, { deadline, abandonAfter: Infinity, cutRate: 0 });
    if (record.state === 'completed') record.resumedAfterEnd = true;
    else if (record.state === 'incomplete') violation(record, `not completed within ${RESUME_WITHIN_MS} ms of resuming after the soak`);
  });
  await inBatches(failed, options.concurrency, async (record) => {
    record.state = 'incomplete' as UploadRecord['state'];
    const rng = Random.derive(options.seed, `retry-${record.label}`);
    await workload.drive(record, protocols.get(record.protocol)!, workload.planOf(record), rng, { deadline, abandonAfter: Infinity, cutRate: 0 });
    violation(record, `after its failure, trying again without chaos: ${record.state === 'completed' ? 'completed' : `still ${record.state}`}`);
    if (record.state === 'incomplete') record.state = 'failed';
  });
}

async function inBatches<T>(items: readonly T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

/** The summary printed at the end of a run. */
export function summarize(report: SoakReport): string {
  const { options, records, chaos } = report;
  const lines = [`soak seed=${options.seed} duration=${options.durationSeconds}s concurrency=${options.concurrency} storage=${options.storage} max-size=${options.maxSize}`];
  const columns = ['uploads', 'completed', 'resumed', 'afterEnd', 'deleted', 'abandoned', 'expired', 'lost', 'failed', 'MiB'] as const;
  lines.push(['protocol'.padEnd(14), ...columns.map((column) => column.padStart(9))].join(' '));
  const byProtocol = new Map<string, UploadRecord[]>();
  for (const record of records) byProtocol.set(record.protocol, [...(byProtocol.get(record.protocol) ?? []), record]);
  for (const [protocol, list] of [...byProtocol, ['all', [...records]] as const]) {
    const count = (state: UploadRecord['state']) => list.filter((record) => record.state === state).length;
    const values = [
      list.length, count('completed'), list.filter((record) => record.state === 'completed' && record.interrupted > 0).length,
      list.filter((record) => record.resumedAfterEnd).length, list.filter((record) => record.deleted).length, count('abandoned'), count('expired'), count('lost'), count('failed'),
      Math.round(list.filter((record) => record.state === 'completed').reduce((sum, record) => sum + record.size, 0) / 2 ** 20),
    ];
    lines.push([protocol.padEnd(14), ...values.map((value) => String(value).padStart(9))].join(' '));
  }
  lines.push(`chaos: ${chaos.kills} SIGKILLs, cuts: ${Object.entries(chaos.cuts).map(([service, count]) => `${service} ${count}`).join(', ') || 'none'}`);
  lines.push(`blobs checked: ${report.blobs}; fupload callbacks: ${report.callbacks.received}/${report.callbacks.expected}`);
  lines.push(report.violations.length === 0 ? 'no violations' : `${report.violations.length} violation(s):\n${report.violations.map((line) => `  - ${line}`).join('\n')}`);
  return lines.join('\n');
}
