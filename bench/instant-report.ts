// The instant case's section of the report: latency per kind of request and
// file size, beside the target, and whether the time depends on the size.
import { INSTANT_SAMPLES, INSTANT_TARGET_MS, INSTANT_WARMUPS, MiB } from './config.js';
import type { InstantPath, InstantResult, InstantSeries, Sample } from './instant-case.js';

const LABEL: Record<InstantPath, string> = {
  'same-user': 'same user: POST /uploads → completed, instant',
  'other-create': 'other user: POST /uploads → challenge',
  'other-proof': 'other user: POST /uploads/:id/proof (reads 4 × 64 KiB) → completed, instant',
  'other-both': 'other user: challenge + proof, summed',
};
const ORDER: InstantPath[] = ['same-user', 'other-create', 'other-proof', 'other-both'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

interface Stats {
  n: number;
  serverMedian: number;
  serverMax: number;
  rttMedian: number;
  rttMax: number;
}

function stats(samples: Sample[]): Stats | null {
  if (samples.length === 0) return null;
  return {
    n: samples.length,
    serverMedian: median(samples.map((s) => s.serverMs)),
    serverMax: Math.max(...samples.map((s) => s.serverMs)),
    rttMedian: median(samples.map((s) => s.rttMs)),
    rttMax: Math.max(...samples.map((s) => s.rttMs)),
  };
}

const size = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
const ms = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1));
const verdict = (st: Stats | null): string =>
  st === null ? 'FAIL (no result)' : `${st.serverMax < INSTANT_TARGET_MS ? 'PASS' : 'FAIL'} (max ${ms(st.serverMax)} ms)`;

function sorted(result: InstantResult): InstantSeries[] {
  return [...result.series].sort((x, y) => ORDER.indexOf(x.path) - ORDER.indexOf(y.path) || y.fileBytes - x.fileBytes);
}

/** Size independence: the large file's median within max(1 ms, 25 %) of the small one's at the server, max(0.5 ms, 25 %) as a round trip. */
function independence(result: InstantResult, p: InstantPath): { ok: boolean; text: string } | null {
  const of = sorted(result).filter((s) => s.path === p);
  if (of.length < 2) return null;
  const big = stats(of[0].samples);
  const small = stats(of[of.length - 1].samples);
  if (big === null || small === null) return null;
  const close = (b: number, s: number, floor: number): boolean => b - s <= Math.max(floor, 0.25 * s);
  return {
    ok: close(big.serverMedian, small.serverMedian, 1) && close(big.rttMedian, small.rttMedian, 0.5),
    text: `${size(of[0].fileBytes)} vs ${size(of[of.length - 1].fileBytes)}: server ${ms(big.serverMedian)} vs ${ms(small.serverMedian)} ms, ` +
      `round trip ${big.rttMedian.toFixed(2)} vs ${small.rttMedian.toFixed(2)} ms`,
  };
}

export function renderInstant(result: InstantResult | null, notRun: string | null, rounds: number): string[] {
  const lines = ['## Instant upload (Ferry)', ''];
  if (result === null) return [...lines, `n/a: ${notRun ?? 'not run'}`, ''];
  lines.push(
    '- A fresh Ferry (FERRY_AUTH=required, FERRY_LOG_LEVEL=info). User A first uploads the source file and its first 1 MiB ' +
      'through the native API; then A, and another user B, create uploads of the same content with its SHA-256.',
    '- B gets a proof-of-possession challenge and answers it; B\'s new file is then deleted, so B never owns the content.',
    `- ${INSTANT_WARMUPS} warm-ups per row, then ${INSTANT_SAMPLES} timed requests per row and round (rounds: ${rounds}); ` +
      'sizes alternate. "First request" is the first of its kind after the server started (a warm-up; the slowest over the rounds).',
    '- Server ms = the `ms` of Ferry\'s own log line for the request (whole ms, from its headers parsed to the answer sent); ' +
      'round trip = measured by the client (the harness process itself) on a warm keep-alive connection on the same machine.',
    '- The stored blob was just written, so the proof\'s 4 reads come from the page cache; from disk, add a few random reads.',
    '- @tus/server and raw node:http have no instant upload: n/a.',
    '',
    `| Request | File | n | Server ms median | Server ms max | Round trip ms median | Round trip ms max | First request ms (server / round trip) | Target < ${INSTANT_TARGET_MS} ms at the server |`,
    '|---|---|--:|--:|--:|--:|--:|--:|---|',
  );
  for (const s of sorted(result)) {
    const st = stats(s.samples);
    const figs = st === null ? ['0', '—', '—', '—', '—'] : [String(st.n), ms(st.serverMedian), ms(st.serverMax), st.rttMedian.toFixed(2), st.rttMax.toFixed(2)];
    const cold = s.cold === null ? '—' : `${ms(s.cold.serverMs)} / ${s.cold.rttMs.toFixed(1)}`;
    lines.push(`| ${LABEL[s.path]} | ${size(s.fileBytes)} | ${figs.join(' | ')} | ${cold} | ${verdict(st)} |`);
  }
  lines.push('', 'Instant upload targets:', '');
  const whole = sorted(result).filter((s) => s.path === 'same-user' || s.path === 'other-both');
  const largest = Math.max(0, ...whole.map((s) => s.fileBytes));
  for (const s of whole.filter((x) => x.fileBytes === largest)) {
    const st = stats(s.samples);
    const who = s.path === 'same-user' ? 'same user' : 'other user, challenge + proof';
    const detail = st === null ? 'no result' : `median ${ms(st.serverMedian)} ms, max ${ms(st.serverMax)} ms over ${st.n} requests`;
    const first = s.cold === null ? '' : `; first request after start ${ms(s.cold.serverMs)} ms`;
    lines.push(`- ${size(s.fileBytes)} file already stored, ${who}, under ${INSTANT_TARGET_MS} ms at the server: ${st === null ? 'FAIL' : st.serverMax < INSTANT_TARGET_MS ? 'PASS' : 'FAIL'} (${detail}${first})`);
  }
  const parts = (['same-user', 'other-both'] as const).map((p) => ({ p, r: independence(result, p) }));
  const known = parts.filter((x) => x.r !== null);
  if (known.length > 0) {
    const ok = known.every((x) => x.r!.ok);
    lines.push(
      `- independent of file size (median within max(1 ms, 25 %) at the server and max(0.5 ms, 25 %) as a round trip): ${ok ? 'PASS' : 'FAIL'} (` +
        known.map((x) => `${x.p === 'same-user' ? 'same user' : 'other user'} ${x.r!.text}`).join('; ') + ')',
    );
  }
  if (result.error !== null) lines.push(`- FAIL: ${result.error.replace(/\s+/g, ' ').slice(0, 400)}`);
  lines.push('');
  return lines;
}
