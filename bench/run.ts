// Entry point of `npm run bench`: writes the source file, runs every
// (server, case) pair round by round (instant: Ferry alone), prints the
// Markdown report and exits non-zero if any upload failed, any stored file did
// not match, or an instant upload was not answered as one.
// s3 (Ferry on Ceph RGW beside the AWS SDK's multipart upload) is skipped, not
// failed, when Ceph cannot start.
// Env: BENCH_FILE_MIB (1024), BENCH_SERVERS, BENCH_CASES, BENCH_REPEAT (3).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCase } from './case.js';
import { CONCURRENT_UPLOADS, MiB, NATIVE_CHUNK, OUT_DIR, concurrentEach, readSettings } from './config.js';
import { combineInstant, runInstantCase, type InstantResult } from './instant-case.js';
import { runNativeCase } from './native-case.js';
import { machineInfo } from './proc.js';
import { combine, describe, renderReport, type Row } from './report.js';
import { combineS3, describeS3, runS3Case, type S3Result } from './s3-case.js';
import { killAll } from './servers.js';
import { createSource } from './source.js';

/** Temp dirs of this process (source file and data dirs), removed on any exit. */
const runDirs = new Set<string>();

function cleanUp(): void {
  killAll();
  for (const dir of runDirs) fs.rmSync(dir, { recursive: true, force: true });
  runDirs.clear();
}

async function main(): Promise<number> {
  const settings = readSettings();
  const machine = machineInfo();
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const runDir = fs.mkdtempSync(path.join(OUT_DIR, 'run-'));
  runDirs.add(runDir);
  try {
    const each = concurrentEach(settings.fileBytes);
    if (each <= 0) throw new Error('BENCH_FILE_MIB is too small for the concurrent case');
    process.stderr.write(`bench: writing ${settings.fileBytes / MiB} MiB source file…\n`);
    const src = await createSource(path.join(runDir, 'source.bin'), settings.fileBytes, CONCURRENT_UPLOADS, each, NATIVE_CHUNK);
    const rounds = new Map<string, Row[]>();
    const instantRounds: InstantResult[] = [];
    const s3Rounds: S3Result[] = [];
    for (let round = 1; round <= settings.repeat; round++) {
      for (const c of settings.cases) {
        if (c === 'instant') {
          // Ferry only: the other servers have no instant upload.
          if (!settings.servers.includes('ferry')) continue;
          const label = `bench: round ${round}/${settings.repeat} ferry / instant`;
          process.stderr.write(`${label}…\n`);
          const result = await runInstantCase(src, runDir);
          instantRounds.push(result);
          process.stderr.write(`${label}: ${result.error ?? 'ok'}\n`);
          continue;
        }
        if (c === 's3') {
          // Ferry only: its baseline is the AWS SDK, not another server.
          if (!settings.servers.includes('ferry')) continue;
          if (s3Rounds.some((r) => r.skipped !== null)) continue;
          const label = `bench: round ${round}/${settings.repeat} ferry / s3 (and the AWS SDK)`;
          process.stderr.write(`${label}…\n`);
          const result = await runS3Case(src, runDir, round);
          s3Rounds.push(result);
          process.stderr.write(`${label}: ${describeS3(result)}\n`);
          continue;
        }
        // Each round starts with the next server, so none always runs first on a machine just settled.
        const shift = (round - 1) % settings.servers.length;
        for (const server of [...settings.servers.slice(shift), ...settings.servers.slice(0, shift)]) {
          const label = `bench: round ${round}/${settings.repeat} ${server} / ${c}`;
          process.stderr.write(`${label}…\n`);
          const row = c === 'native' ? await runNativeCase(server, src, runDir) : await runCase(server, c, src, runDir);
          process.stderr.write(`${label}: ${row.error ?? (row.skipped !== undefined ? `n/a, ${row.skipped}` : 'ok')}${describe(row)}\n`);
          const key = `${c}/${server}`;
          rounds.set(key, [...(rounds.get(key) ?? []), row]);
        }
      }
    }
    const instant = instantRounds.length > 0 ? combineInstant(instantRounds) : null;
    const s3 = s3Rounds.length > 0 ? combineS3(s3Rounds, combine) : null;
    const report = renderReport({
      machine,
      fileBytes: settings.fileBytes,
      concurrentEach: each,
      servers: settings.servers,
      cases: settings.cases,
      repeat: settings.repeat,
      instant,
      s3,
      rounds: [...rounds.values()],
    });
    process.stdout.write(report);
    fs.writeFileSync(path.join(OUT_DIR, 'latest.md'), report);
    const s3Failed = s3 !== null && s3.skipped === null && (s3.ferry?.error != null || s3.sdk?.error != null);
    const failed = [...rounds.values()].some((list) => list.some((r) => r.error !== null));
    return failed || instant?.error || s3Failed ? 1 : 0;
  } finally {
    cleanUp();
  }
}

process.once('exit', cleanUp);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench: ${sig}, stopping\n`);
    process.exit(130); // runs cleanUp via 'exit'
  });
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
