// Formats the results as Markdown: machine header, table, Ferry's targets.
import { GiB, MiB, NATIVE_CHUNK, NATIVE_CONNECTIONS, TUS_CASES, type CaseName, type ServerName } from './config.js';
import type { InstantResult } from './instant-case.js';
import { renderInstant } from './instant-report.js';
import type { MachineInfo } from './proc.js';
import { renderS3, type S3Result } from './s3-case.js';

export interface Metrics {
  wallMs: number;
  cpuSec: number;
  /** the kernel's share of cpuSec */
  sysSec: number;
  peakRssBytes: number;
}

export interface Row {
  server: ServerName;
  caseName: CaseName;
  /** Bytes uploaded in this case (all uploads together). */
  bytes: number;
  metrics: Metrics | null;
  /** null when the case completed and every stored file matched. */
  error: string | null;
  /** Set when the server cannot take part in the case: why. */
  skipped?: string;
}

export interface ReportInput {
  machine: MachineInfo;
  fileBytes: number;
  concurrentEach: number;
  servers: ServerName[];
  cases: CaseName[];
  /** rounds per (server, case); figures are medians when > 1 */
  repeat: number;
  /** The instant case's rounds folded into one, null when it did not run. */
  instant: InstantResult | null;
  /** The s3 case's rounds folded into one, null when it did not run. */
  s3: S3Result | null;
  /** Every round of each (server, case), in the order they ran: the table shows their medians, the targets pair them. */
  rounds: Row[][];
}

const LABEL: Record<ServerName, string> = {
  raw: 'raw node:http',
  'raw-fsync': 'raw node:http + fdatasync',
  'tus-server': '@tus/server',
  ferry: 'Ferry',
};

const mbps = (r: Row, m: Metrics): number => r.bytes / 1e6 / (m.wallMs / 1000);
const cpuPerGiB = (r: Row, m: Metrics): number => m.cpuSec / (r.bytes / GiB);
const rssMiB = (m: Metrics): number => m.peakRssBytes / MiB;

function find(rows: Row[], server: ServerName, c: CaseName): (Row & { metrics: Metrics }) | undefined {
  const r = rows.find((x) => x.server === server && x.caseName === c);
  return r !== undefined && r.error === null && r.metrics !== null ? (r as Row & { metrics: Metrics }) : undefined;
}

function cell(value: number, digits: number, base: number | undefined): string {
  const v = value.toFixed(digits);
  return base === undefined || base === 0 ? v : `${v} (${(value / base).toFixed(2)}×)`;
}

function escape(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 300);
}

function table(rows: Row[]): string[] {
  const lines = [
    '| Server | Case | MB/s | CPU s | of which sys | CPU s/GiB | Peak RSS MiB | Check |',
    '|---|---|--:|--:|--:|--:|--:|---|',
  ];
  for (const r of rows) {
    const m = r.metrics;
    const base = find(rows, 'raw', r.caseName);
    const figs =
      m === null
        ? ['—', '—', '—', '—', '—']
        : [
            cell(mbps(r, m), 1, base && mbps(base, base.metrics)),
            cell(m.cpuSec, 2, base?.metrics.cpuSec),
            m.sysSec.toFixed(2),
            cell(cpuPerGiB(r, m), 2, base && cpuPerGiB(base, base.metrics)),
            cell(rssMiB(m), 1, base && rssMiB(base.metrics)),
          ];
    const check = r.skipped !== undefined ? `n/a: ${escape(r.skipped)}` : r.error === null ? 'ok' : `FAIL: ${escape(r.error)}`;
    lines.push(`| ${LABEL[r.server]} | ${r.caseName} | ${figs.join(' | ')} | ${check} |`);
  }
  return lines;
}

function targets(input: ReportInput, rows: Row[]): string[] {
  if (!input.servers.includes('ferry')) return ['Ferry targets: n/a (ferry not in BENCH_SERVERS)'];
  const verdict = (ok: boolean | undefined, detail: string): string =>
    ok === undefined ? `FAIL (no result: ${detail})` : `${ok ? 'PASS' : 'FAIL'} (${detail})`;

  const ran = (c: CaseName): boolean => input.cases.includes(c);
  const notRun = (c: string): string => `n/a (${c} not in BENCH_CASES)`;
  const cases = TUS_CASES.filter(ran);
  const cpuParts = cases.map((c) => {
    const f = find(rows, 'ferry', c);
    const t = find(rows, 'tus-server', c);
    const paired = pairedRatio(input.rounds, c, 'ferry', 'tus-server', cpuPerGiB);
    if (f === undefined || t === undefined || paired === undefined) return { ok: undefined, text: `${c}: missing` };
    return { ok: paired.median < 1, text: `${c} ${cpuPerGiB(f, f.metrics).toFixed(2)} vs ${cpuPerGiB(t, t.metrics).toFixed(2)}, ${describeRatio(paired)}` };
  });
  const cpuOk = cpuParts.some((p) => p.ok === undefined) ? undefined : cpuParts.every((p) => p.ok === true);

  const ratio = pairedRatio(input.rounds, 'chunked', 'ferry', 'raw', mbps);
  const fc = find(rows, 'ferry', 'chunked');
  const rc = find(rows, 'raw', 'chunked');
  const ofMedians = input.repeat > 1 && fc && rc ? `; ratio of the median rounds, as in the table: ${(mbps(fc, fc.metrics) / mbps(rc, rc.metrics)).toFixed(2)}×` : '';
  const floor = pairedRatio(input.rounds, 'chunked', 'raw-fsync', 'raw', mbps);

  const fcon = find(rows, 'ferry', 'concurrent');
  const rss = fcon && rssMiB(fcon.metrics);

  return [
    'Ferry targets:',
    '',
    `- CPU s/GiB lower than @tus/server in all three cases (Ferry's over @tus/server's below 1×): ${cases.length === 0 ? notRun('single, chunked, concurrent') : verdict(cpuOk, cpuParts.map((p) => p.text).join('; '))}`,
    `- chunked throughput >= 0.85× raw: ${!ran('chunked') ? notRun('chunked') : verdict(ratio === undefined ? undefined : ratio.median >= 0.85, ratio === undefined ? 'ferry or raw chunked missing' : `${describeRatio(ratio)}${ofMedians}`)}`,
    ...(floor === undefined || ratio === undefined
      ? []
      : [`  (raw node:http + fdatasync, which flushes each PATCH before answering as Ferry must, reached ${describeRatio(floor)}: Ferry ${(ratio.median / floor.median).toFixed(2)}× that)`]),
    `- concurrent peak RSS <= 120 MiB: ${!ran('concurrent') ? notRun('concurrent') : verdict(rss === undefined ? undefined : rss <= 120, rss === undefined ? 'ferry concurrent missing' : `${rss.toFixed(1)} MiB`)}`,
  ];
}

export function renderReport(input: ReportInput): string {
  const m = input.machine;
  const rows = input.rounds.map(combine);
  const lines = [
    '# Upload benchmark',
    '',
    `- Date: ${m.date}`,
    `- Machine: nproc ${m.nproc}, ${m.cpuModel}, ${m.kernel}; load average at start ${m.load1.toFixed(2)}`,
    `- Node: ${m.node}`,
    `- File: ${(input.fileBytes / MiB).toFixed(0)} MiB of random bytes; client in a separate process: tus-js-client, ` +
      'or for native bench/native-client.ts (node:http, keep-alive; chunk digests computed before the clock starts)',
    `- Cases: single = one upload, one PATCH; chunked = one upload, 8 MiB PATCHes; ` +
      `concurrent = 64 uploads × ${(input.concurrentEach / MiB).toFixed(2)} MiB, all at once; ` +
      `native = one upload through Ferry's chunk API, ${NATIVE_CHUNK / MiB} MiB chunks with Content-Digest over ${NATIVE_CONNECTIONS} connections ` +
      `taking chunks from one queue, from create to complete (raw: the same chunks as PUTs written at their offsets)`,
    '- MB/s = 10^6 bytes / client wall time; CPU = server process user+sys during the case (sys = kernel part); ' +
      'Peak RSS = server VmHWM (fresh server process per case); (n×) = ratio to raw, same case',
    `- Rounds: ${input.repeat}${input.repeat > 1 ? ' (each figure is the median over the rounds)' : ''}`,
    '',
    ...(rows.length > 0 ? [...table(rows), '', ...targets(input, rows), ''] : []),
    ...(input.cases.includes('instant')
      ? renderInstant(input.instant, input.servers.includes('ferry') ? null : 'ferry not in BENCH_SERVERS', input.repeat)
      : []),
    ...(input.cases.includes('s3')
      ? renderS3(input.s3, input.servers.includes('ferry') ? null : 'ferry not in BENCH_SERVERS', input.repeat)
      : []),
  ];
  return lines.join('\n');
}

/** One-line summary of a single round, for progress output. */
export function describe(row: Row): string {
  const m = row.metrics;
  if (m === null) return '';
  const mbps = row.bytes / 1e6 / (m.wallMs / 1000);
  return ` (${mbps.toFixed(1)} MB/s, CPU ${m.cpuSec.toFixed(2)} s of which sys ${m.sysSec.toFixed(2)}, peak RSS ${(m.peakRssBytes / MiB).toFixed(1)} MiB)`;
}

/** One server's figure over another's, round by round, and the median of those ratios. */
interface PairedRatio {
  median: number;
  rounds: number[];
}

/**
 * Targets compare servers round by round. The runs of one round are under a minute apart, so a machine
 * that speeds up or slows down between rounds (a VM's neighbours, its memory handed back to the
 * host) moves both sides of the ratio alike, where the ratio of two servers' median rounds can pair
 * a fast round of one with a slow round of the other.
 */
export function pairedRatio(
  rounds: Row[][],
  c: CaseName,
  server: ServerName,
  base: ServerName,
  figure: (r: Row, m: Metrics) => number,
): PairedRatio | undefined {
  const measured = (name: ServerName): (Row & { metrics: Metrics })[] =>
    (rounds.find((list) => list[0]?.server === name && list[0].caseName === c) ?? []).filter(
      (r): r is Row & { metrics: Metrics } => r.error === null && r.metrics !== null,
    );
  const ours = measured(server);
  const theirs = measured(base);
  if (ours.length === 0 || ours.length !== theirs.length) return undefined;
  const ratios = ours.map((r, i) => figure(r, r.metrics) / figure(theirs[i]!, theirs[i]!.metrics));
  return { median: median(ratios), rounds: ratios };
}

function describeRatio(ratio: PairedRatio): string {
  const each = ratio.rounds.length > 1 ? ` (median of the rounds: ${ratio.rounds.map((r) => `${r.toFixed(2)}×`).join(', ')})` : '';
  return `${ratio.median.toFixed(2)}×${each}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Folds the rounds of one (server, case) into one row: per-figure medians, first error wins. */
export function combine(rounds: Row[]): Row {
  const measured = rounds.map((r) => r.metrics).filter((m): m is Metrics => m !== null);
  const failed = rounds.findIndex((r) => r.error !== null);
  const pick = (f: (m: Metrics) => number): number => median(measured.map(f));
  return {
    ...rounds[0],
    metrics:
      measured.length === 0
        ? null
        : { wallMs: pick((m) => m.wallMs), cpuSec: pick((m) => m.cpuSec), sysSec: pick((m) => m.sysSec), peakRssBytes: pick((m) => m.peakRssBytes) },
    error: failed < 0 ? null : rounds.length > 1 ? `round ${failed + 1}: ${rounds[failed].error}` : rounds[failed].error,
  };
}
