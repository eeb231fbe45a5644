import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFerryError } from '../../src/core/errors.js';
import type { Lock, Locker } from '../../src/locks/types.js';

/**
 * Lockers that share one lock space, as the processes of one deployment do. For an in-process
 * locker every node is the same locker; a distributed one gives a new, separate client each time.
 */
export interface LockerCluster {
  node(): Locker;
  close(): Promise<void>;
}

export interface LockerFactory {
  /** A fresh lock space for one test. */
  cluster(): Promise<LockerCluster>;
  /** True when node() gives separate clients: every behaviour is then checked across them too. */
  readonly distributed: boolean;
}

const locked = (err: unknown) => isFerryError(err, 'upload_locked');

/** Resolves once the signal fires; fails the test if it does not within `ms`. */
async function firesWithin(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return;
  const fired = new Promise<boolean>((resolve) => signal.addEventListener('abort', () => resolve(true), { once: true }));
  assert.ok(await Promise.race([fired, sleep(ms).then(() => false)]), `releaseRequested did not fire within ${ms} ms`);
}

/** Releases the lock as soon as someone asks for it, after `afterMs`. */
function letGoWhenAsked(lock: Lock, afterMs = 0): void {
  lock.releaseRequested.addEventListener('abort', () => { setTimeout(() => void lock.release(), afterMs); }, { once: true });
}

/** What every locker must do. Run it once per locker. */
export function runLockerConformance(name: string, factory: LockerFactory): void {
  const placements = factory.distributed ? ['on the same node', 'across nodes'] as const : ['in one process'] as const;
  for (const placement of placements) {
    describe(`Locker conformance: ${name}, ${placement}`, () => {
      let cluster: LockerCluster;
      let first: Locker;
      let second: Locker;
      beforeEach(async () => {
        cluster = await factory.cluster();
        first = cluster.node();
        second = placement === 'across nodes' ? cluster.node() : first;
      });
      afterEach(async () => { await cluster.close(); });

      it('grants a free lock at once and again after release', async () => {
        const lock = await first.acquire('a', 100);
        assert.equal(lock.releaseRequested.aborted, false);
        await lock.release();
        const again = await second.acquire('a', 100);
        assert.equal(again.releaseRequested.aborted, false);
        await again.release();
      });

      it('asks the holder to let go and hands over as soon as it does', async () => {
        const holder = await first.acquire('a', 100);
        let released = 0;
        holder.releaseRequested.addEventListener('abort', () => {
          setTimeout(() => { released = Date.now(); void holder.release(); }, 20);
        });
        const started = Date.now();
        const next = await second.acquire('a', 5_000);
        assert.equal(holder.releaseRequested.aborted, true);
        assert.ok(released > 0, 'granted only after the holder released');
        assert.ok(Date.now() - started < 1_000, `handed over promptly (${Date.now() - started} ms)`);
        assert.equal(next.releaseRequested.aborted, false);
        await next.release();
      });

      it('gives up with upload_locked when the holder does not let go in time, after waiting that long', async () => {
        const holder = await first.acquire('a', 100);
        const started = Date.now();
        await assert.rejects(second.acquire('a', 150), locked);
        const waited = Date.now() - started;
        assert.ok(waited >= 140 && waited < 1_000, `waited ${waited} ms for a 150 ms timeout`);
        await firesWithin(holder.releaseRequested, 1_000);
        await holder.release();
      });

      it('with timeout 0 takes a free lock, and on a held one asks the holder to let go but fails at once', async () => {
        const holder = await first.acquire('a', 0);
        const started = Date.now();
        await assert.rejects(second.acquire('a', 0), locked);
        assert.ok(Date.now() - started < 200, 'did not wait');
        await firesWithin(holder.releaseRequested, 1_000);
        // Asked to let go, it still holds the lock until it releases.
        await assert.rejects(second.acquire('a', 0), locked);
        await holder.release();
        await (await second.acquire('a', 0)).release();
      });

      it('tryAcquire takes a free lock, and leaves a held one and its holder alone', async () => {
        const holder = await first.acquire('a', 100);
        assert.equal(await second.tryAcquire('a'), null);
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(holder.releaseRequested.aborted, false, 'the holder was not asked to let go');
        await holder.release();
        const taken = await second.tryAcquire('a');
        assert.ok(taken);
        await assert.rejects(first.acquire('a', 0), locked);
        await taken.release();
      });

      it('keeps keys independent, however they are named', async () => {
        const a = await first.acquire('upload:x', 0);
        const b = await second.acquire('upload:x:chunk:0', 0);
        const c = await second.acquire('upload:x:chunk:1', 0);
        assert.equal(a.releaseRequested.aborted, false);
        assert.equal(b.releaseRequested.aborted, false);
        await Promise.all([a.release(), b.release(), c.release()]);
      });

      it('a stale release does not free a lock someone else now holds', async () => {
        const stale = await first.acquire('a', 0);
        letGoWhenAsked(stale);
        const current = await second.acquire('a', 1_000);
        await stale.release();
        await assert.rejects(first.acquire('a', 0), locked);
        await assert.rejects(second.acquire('a', 0), locked);
        await current.release();
      });

      it('release is idempotent', async () => {
        const lock = await first.acquire('a', 0);
        await lock.release();
        await lock.release();
        const next = await second.acquire('a', 0);
        await lock.release();
        await assert.rejects(first.acquire('a', 0), locked);
        await next.release();
      });

      it('a waiter that timed out does not take the lock later', async () => {
        const holder = await first.acquire('a', 0);
        await assert.rejects(second.acquire('a', 50), locked);
        await holder.release();
        await sleep(50);
        const free = await first.acquire('a', 0);
        await free.release();
      });

      it('gives the lock to one holder at a time when many want it', async () => {
        let inside = 0;
        let most = 0;
        const order: number[] = [];
        const lockers = [first, second];
        await Promise.all(Array.from({ length: 6 }, async (_, index) => {
          const lock = await lockers[index % 2]!.acquire('a', 10_000);
          inside += 1;
          most = Math.max(most, inside);
          order.push(index);
          await Promise.race([sleep(15), new Promise((resolve) => lock.releaseRequested.addEventListener('abort', resolve))]);
          inside -= 1;
          await lock.release();
        }));
        assert.equal(most, 1, 'never two holders at once');
        assert.equal(order.length, 6, 'everyone got it in turn');
      });

      it('asks only the current holder: a holder that got the lock after a handover is asked again', async () => {
        const one = await first.acquire('a', 0);
        letGoWhenAsked(one, 10);
        const two = await second.acquire('a', 1_000);
        assert.equal(two.releaseRequested.aborted, false);
        letGoWhenAsked(two, 10);
        const three = await first.acquire('a', 1_000);
        assert.equal(two.releaseRequested.aborted, true);
        await three.release();
      });

      it('does not ask a holder to let go when nobody wants its lock', async () => {
        const lock = await first.acquire('a', 0);
        const other = await second.acquire('b', 0);
        await sleep(100);
        assert.equal(lock.releaseRequested.aborted, false);
        await Promise.all([lock.release(), other.release()]);
      });
    });
  }
}
