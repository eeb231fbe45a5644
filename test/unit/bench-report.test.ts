import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pairedRatio, renderReport, type Row } from '../../bench/report.js';
import type { ServerName } from '../../bench/config.js';

const GIB = 1024 ** 3;

/** One chunked round of `server` that took `seconds` for 1 GiB. */
function round(server: ServerName, seconds: number, error: string | null = null, cpuSec = 3): Row {
  return { server, caseName: 'chunked', bytes: GIB, metrics: { wallMs: seconds * 1000, cpuSec, sysSec: 1, peakRssBytes: 90 * 2 ** 20 }, error };
}

const throughput = (r: Row): number => r.bytes / r.metrics!.wallMs;

describe('bench report: targets compare servers round by round', () => {
  it('pairs each round of a server with the raw round of the same run and takes the median of those ratios', () => {
    // raw: 4, 8, 5 s; ferry: 5, 8.5, 5.5 s → ratios 0.8, 0.941, 0.909 → median 0.909.
    const rounds = [
      [round('raw', 4), round('raw', 8), round('raw', 5)],
      [round('ferry', 5), round('ferry', 8.5), round('ferry', 5.5)],
    ];
    const ratio = pairedRatio(rounds, 'chunked', 'ferry', 'raw', throughput);
    assert.ok(ratio);
    assert.deepEqual(ratio.rounds.map((r) => r.toFixed(3)), ['0.800', '0.941', '0.909']);
    assert.equal(ratio.median.toFixed(3), '0.909');
  });

  it('has no ratio when a round failed, so the target cannot pass on the rounds that did not', () => {
    const rounds = [
      [round('raw', 4), round('raw', 4)],
      [round('ferry', 4), round('ferry', 4, 'stored file wrong')],
    ];
    assert.equal(pairedRatio(rounds, 'chunked', 'ferry', 'raw', throughput), undefined);
  });

  it('judges the targets on paired medians and shows the ratio of the median rounds beside them', () => {
    const raw = [round('raw', 4), round('raw', 6), round('raw', 5.2)];
    // CPU s: ferry 3, 3, 3.3 against tus 3.5, 2.9, 3.2 → 0.86, 1.03, 1.03: median above 1×.
    const ferry = [round('ferry', 4.4), round('ferry', 6.2), round('ferry', 6.5, null, 3.3)];
    const tus = [round('tus-server', 5, null, 3.5), round('tus-server', 5, null, 2.9), round('tus-server', 5, null, 3.2)];
    const report = renderReport({
      machine: { date: 'd', nproc: 2, cpuModel: 'cpu', kernel: 'k', load1: 0, node: 'v20' },
      fileBytes: GIB,
      concurrentEach: 16 * 2 ** 20,
      servers: ['raw', 'tus-server', 'ferry'],
      cases: ['chunked'],
      repeat: 3,
      instant: null,
      s3: null,
      rounds: [raw, tus, ferry],
    });
    // Rounds 0.91, 0.97, 0.80 (median 0.91): PASS, though the median rounds (5.2 s, 6.2 s) give 0.84.
    assert.match(report, /lower than @tus\/server .*: FAIL \(chunked 3\.00 vs 3\.20, 1\.03× \(median of the rounds: 0\.86×, 1\.03×, 1\.03×\)\)/);
    assert.match(report, /chunked throughput >= 0\.85× raw: PASS \(0\.91× \(median of the rounds: 0\.91×, 0\.97×, 0\.80×\); ratio of the median rounds, as in the table: 0\.84×\)/);
  });
});
