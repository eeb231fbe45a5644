/**
 * `npm run soak -- [options]`: a soak run started by hand. Prints the seed first (pass it back with
 * --seed to replay the same choices), the chaos as it happens, every violation as it is found and a
 * summary; exits 1 when any rule was broken, 2 on bad options.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { runSoak, summarize, type SoakOptions } from './soak.js';

const USAGE = `usage: npm run soak -- [--duration 300] [--concurrency 8] [--seed S] [--storage local|s3]
       [--max-size 32MiB] [--api-nodes 3] [--expiry 30] [--sweep 2] [--chaos-gap 2000-8000]
  --duration    seconds of uploads under chaos (the audit takes a little over --expiry after it)
  --concurrency uploads in flight at once
  --seed        makes every random choice replayable (printed when not given)
  --storage     local: one data dir shared by the nodes; s3: a fresh bucket on the Ceph RGW
  --max-size    largest upload (KiB/MiB suffixes); sizes are log-uniform from 1 KiB
  --api-nodes   api nodes (plus one worker node, which runs the sweeps)
  --expiry      FERRY_UPLOAD_EXPIRY_SECONDS: abandoned uploads must be swept after this
  --sweep       FERRY_EXPIRY_SWEEP_SECONDS
  --chaos-gap   ms between two SIGKILLs or service cuts, min-max
summary: resumed = completed after a failed or cut attempt; afterEnd = left incomplete by the end and
  completed by the audit; deleted = file deleted after completing; expired = idle past --expiry (not
  a violation); lost = gone before its expiry; failed = an answer outside the protocol`;

function size(raw: string): number {
  const match = /^(\d+)(KiB|MiB)?$/i.exec(raw.trim());
  if (!match) throw new Error(`not a size: ${raw}`);
  const unit = match[2]?.toLowerCase();
  return Number(match[1]) * (unit === 'mib' ? 2 ** 20 : unit === 'kib' ? 1024 : 1);
}

function positive(raw: string, name: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a whole number above 0, got ${raw}`);
  return value;
}

function parse(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '8' },
      seed: { type: 'string' },
      storage: { type: 'string', default: 'local' },
      'max-size': { type: 'string', default: '32MiB' },
      'api-nodes': { type: 'string', default: '3' },
      expiry: { type: 'string', default: '30' },
      sweep: { type: 'string', default: '2' },
      'chaos-gap': { type: 'string', default: '2000-8000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.storage !== 'local' && values.storage !== 's3') throw new Error(`--storage is local or s3, got ${values.storage}`);
  const gap = /^(\d+)-(\d+)$/.exec(values['chaos-gap']);
  if (!gap || Number(gap[1]) > Number(gap[2])) throw new Error(`--chaos-gap is min-max in ms, got ${values['chaos-gap']}`);
  return {
    seed: values.seed ?? randomBytes(6).toString('hex'),
    durationSeconds: positive(values.duration, 'duration'),
    concurrency: positive(values.concurrency, 'concurrency'),
    storage: values.storage,
    maxSize: Math.max(2048, size(values['max-size'])),
    apiNodes: positive(values['api-nodes'], 'api-nodes'),
    expirySeconds: positive(values.expiry, 'expiry'),
    sweepSeconds: positive(values.sweep, 'sweep'),
    chaosGapMs: [Number(gap[1]), Number(gap[2])],
    log: (line) => console.log(line),
  };
}

let options: SoakOptions;
try {
  options = parse(process.argv.slice(2));
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
console.log(`soak seed: ${options.seed} (replay with --seed ${options.seed})`);
const interrupt = new AbortController();
process.once('SIGINT', () => {
  console.log('interrupted: stopping the uploads and removing the cluster (Ctrl-C again to quit at once, leaving it)');
  interrupt.abort();
  process.once('SIGINT', () => process.exit(130));
});
const report = await runSoak({ ...options, interrupt: interrupt.signal }).catch((err: Error) => {
  console.error(interrupt.signal.aborted ? err.message : err.stack ?? err.message);
  process.exit(interrupt.signal.aborted ? 130 : 1);
});
console.log(summarize(report));
process.exit(report.violations.length > 0 ? 1 : 0);
