/**
 * The soak run (test/soak, `npm run soak` for the long version), short: three api nodes and a
 * worker on PostgreSQL, Redis and RabbitMQ through relays, uploads through every protocol with
 * random client disconnects, SIGKILLs and service cuts; then every completed upload's SHA-256,
 * every incomplete one resumed, and no orphan bytes once the rest expire. Once with a fixed seed,
 * once with a fresh one (printed, to replay with `npm run soak -- --seed <seed>`; FERRY_SOAK_SEED
 * replaces it).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { runSoak, summarize, type SoakOptions } from '../soak/soak.js';

const SECONDS = 25;

function options(seed: string): SoakOptions {
  return {
    seed,
    durationSeconds: SECONDS,
    concurrency: 4,
    storage: 'local',
    maxSize: 8 * 1024 * 1024,
    apiNodes: 3,
    expirySeconds: 15,
    sweepSeconds: 1,
    chaosGapMs: [1_000, 4_000],
    log: (line) => console.log(line),
  };
}

async function soak(seed: string): Promise<void> {
  console.log(`soak seed: ${seed} (replay with npm run soak -- --seed ${seed} --duration ${SECONDS} --max-size 8MiB --expiry 15 --sweep 1 --chaos-gap 1000-4000 --concurrency 4)`);
  const report = await runSoak(options(seed));
  console.log(summarize(report));
  assert.deepEqual(report.violations, [], `seed ${seed}`);
  // The run did what it is for: uploads in every protocol completed, and there was chaos.
  const protocols = new Set(report.records.filter((record) => record.state === 'completed').map((record) => record.protocol));
  assert.deepEqual([...protocols].sort(), ['flow', 'fupload', 'ietf', 'native', 'tus', 'tus-js-client'], 'every protocol completed uploads');
  assert.ok(report.chaos.kills + Object.values(report.chaos.cuts).reduce((sum, count) => sum + count, 0) > 0, 'chaos happened');
  assert.ok(report.records.some((record) => record.state === 'completed' && record.interrupted > 0), 'some upload was resumed after a failed attempt');
}

describe('soak: every protocol under SIGKILLs, service cuts and client disconnects', { timeout: 15 * 60_000 }, () => {
  it('with a fixed seed', () => soak('ferry-ci-soak-1'));
  it('with a fresh seed', () => soak(process.env.FERRY_SOAK_SEED ?? randomBytes(6).toString('hex')));
});
