import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from '../../src/limits/rate-limit.js';

function limiter(limit: number, windowSeconds: number, maxKeys?: number) {
  let now = 1_000_000;
  const rate = new MemoryRateLimiter({ limit, windowMs: windowSeconds * 1000, now: () => now, ...(maxKeys ? { maxKeys } : {}) });
  return { rate, advance: (ms: number) => { now += ms; } };
}

describe('MemoryRateLimiter', () => {
  it('allows `limit` attempts per window, then refuses with the seconds left until it ends', async () => {
    const { rate, advance } = limiter(3, 60);
    for (let i = 0; i < 3; i += 1) {
      assert.deepEqual(await rate.hit('ip:1'), { allowed: true, retryAfterSeconds: 0, limit: 3, remaining: 2 - i, resetSeconds: 60, windowSeconds: 60 });
    }
    assert.deepEqual(await rate.hit('ip:1'), { allowed: false, retryAfterSeconds: 60, limit: 3, remaining: 0, resetSeconds: 60, windowSeconds: 60 });
    advance(59_001);
    assert.deepEqual(await rate.hit('ip:1'), { allowed: false, retryAfterSeconds: 1, limit: 3, remaining: 0, resetSeconds: 1, windowSeconds: 60 }, 'rounded up, never 0');
    advance(999);
    assert.equal((await rate.hit('ip:1')).allowed, true, 'a new window');
  });

  it('counts each key on its own', async () => {
    const { rate } = limiter(2, 60);
    assert.equal((await rate.hit('alice')).allowed, true);
    assert.equal((await rate.hit('alice')).allowed, true);
    assert.equal((await rate.hit('alice')).allowed, false);
    assert.equal((await rate.hit('bob')).allowed, true);
  });

  it('refused attempts do not push the window further out', async () => {
    const { rate, advance } = limiter(1, 10);
    await rate.hit('k');
    for (let i = 0; i < 5; i += 1) {
      advance(1_000);
      assert.equal((await rate.hit('k')).allowed, false);
    }
    advance(5_000);
    assert.equal((await rate.hit('k')).allowed, true);
  });

  it('forgets expired windows, and past maxKeys the oldest ones, so memory stays bounded', async () => {
    const { rate, advance } = limiter(1, 10, 100);
    for (let i = 0; i < 50; i += 1) await rate.hit(`old-${i}`);
    advance(10_000);
    await rate.hit('fresh');
    assert.equal(rate.size, 1, 'expired windows dropped');
    for (let i = 0; i < 1_000; i += 1) await rate.hit(`flood-${i}`);
    assert.equal(rate.size, 100);
    assert.equal((await rate.hit('flood-999')).allowed, false, 'the newest counts are kept');
  });
});
