import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { MemoryLocker } from '../../src/locks/memory.js';

describe('MemoryLocker', () => {
  it('grants a free lock at once and again after release', async () => {
    const locker = new MemoryLocker();
    const first = await locker.acquire('a', 100);
    assert.equal(first.releaseRequested.aborted, false);
    await first.release();
    const second = await locker.acquire('a', 100);
    await second.release();
  });

  it('asks the holder to let go and hands over as soon as it does, without polling', async () => {
    const locker = new MemoryLocker();
    const holder = await locker.acquire('a', 100);
    let released = 0;
    holder.releaseRequested.addEventListener('abort', () => {
      setTimeout(() => { released = Date.now(); void holder.release(); }, 20);
    });
    const started = Date.now();
    const next = await locker.acquire('a', 2_000);
    assert.equal(holder.releaseRequested.aborted, true);
    assert.ok(released > 0 && Date.now() - started < 1_000, 'handed over promptly');
    await next.release();
  });

  it('gives up with upload_locked when the holder does not let go in time', async () => {
    const locker = new MemoryLocker();
    const holder = await locker.acquire('a', 100);
    await assert.rejects(locker.acquire('a', 50), (err) => isFerryError(err, 'upload_locked'));
    await holder.release();
  });

  it('keeps keys independent', async () => {
    const locker = new MemoryLocker();
    const a = await locker.acquire('a', 0);
    const b = await locker.acquire('b', 0);
    assert.equal(a.releaseRequested.aborted, false);
    await Promise.all([a.release(), b.release()]);
  });

  it('a stale release does not free a lock someone else now holds', async () => {
    const locker = new MemoryLocker();
    const first = await locker.acquire('a', 0);
    first.releaseRequested.addEventListener('abort', () => { void first.release(); });
    const second = await locker.acquire('a', 500);
    await first.release();
    await assert.rejects(locker.acquire('a', 20), (err) => isFerryError(err, 'upload_locked'));
    await second.release();
  });
});
