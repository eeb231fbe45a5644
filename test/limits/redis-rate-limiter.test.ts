/**
 * Rate limiters in Redis, on a real Redis: attempts counted atomically across connections (as from
 * several nodes), a window per key that ends, and attempts allowed while Redis cannot be reached.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { RedisRateLimits, type RedisRateLimitsOptions } from '../../src/limits/redis-rate-limiter.js';

const REDIS_URL = process.env.FERRY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('RedisRateLimits', () => {
  const prefix = `ferry-test:rate:${randomBytes(6).toString('hex')}:`;
  const connections: RedisRateLimits[] = [];
  const connect = (url = REDIS_URL, options: RedisRateLimitsOptions = {}) => {
    const made = new RedisRateLimits(url, { timeoutMs: 500, ...options });
    connections.push(made);
    return made;
  };
  after(async () => {
    await Promise.all(connections.map((made) => made.close()));
  });

  it('allows exactly the limit when several connections count one key at once', async () => {
    const nodes = [connect(), connect(), connect()].map((node) => node.limiter({ limit: 20, windowMs: 60_000, prefix }));
    const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => nodes[i % 3]!.hit('busy')));
    const allowed = decisions.filter((decision) => decision.allowed);
    assert.equal(allowed.length, 20);
    assert.deepEqual(allowed.map((decision) => decision.remaining).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), 'each allowed attempt saw its own count');
    for (const refused of decisions.filter((decision) => !decision.allowed)) {
      assert.ok(refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 60);
    }
    assert.equal((await nodes[0]!.hit('other')).allowed, true, 'keys are counted apart');
  });

  it('keeps the counts of limiters with other prefixes apart on one connection', async () => {
    const redis = connect();
    const one = redis.limiter({ limit: 1, windowMs: 60_000, prefix: `${prefix}one:` });
    const two = redis.limiter({ limit: 1, windowMs: 60_000, prefix: `${prefix}two:` });
    assert.equal((await one.hit('k')).allowed, true);
    assert.equal((await one.hit('k')).allowed, false);
    assert.equal((await two.hit('k')).allowed, true);
  });

  it('opens a new window once the old one has expired', async () => {
    const rate = connect().limiter({ limit: 1, windowMs: 300, prefix });
    assert.equal((await rate.hit('short')).allowed, true);
    assert.equal((await rate.hit('short')).allowed, false);
    let decision = await rate.hit('short');
    for (let tries = 0; !decision.allowed && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      decision = await rate.hit('short');
    }
    assert.equal(decision.allowed, true, 'the key expired with its window');
  });

  it('allows attempts while Redis cannot be reached, says so once, and asks again only a while later', async () => {
    const errors: unknown[] = [];
    let now = 1_000_000;
    const rate = connect('redis://127.0.0.1:1', { onError: (err) => errors.push(err), now: () => now }).limiter({ limit: 1, windowMs: 60_000, prefix });
    for (let i = 0; i < 3; i += 1) assert.equal((await rate.hit('k')).allowed, true);
    assert.equal(errors.length, 1);
    now += 1_000;
    assert.equal((await rate.hit('k')).allowed, true, 'asked again, still away');
    assert.equal(errors.length, 1, 'one outage, one report');
  });
});
