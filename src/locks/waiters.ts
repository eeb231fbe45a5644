/** One acquire waiting for a lock: told when the lock may have become free. */
export interface Waiter {
  /** Resolves true once told (possibly already, since the last `arm`), or false after `ms`. */
  sleep(ms: number): Promise<boolean>;
  /** Forgets earlier notifications: call right before looking at the lock again. */
  arm(): void;
}

class PendingWaiter implements Waiter {
  notified = false;
  private wake: (() => void) | null = null;

  arm(): void {
    this.notified = false;
  }

  notify(): void {
    this.notified = true;
    this.wake?.();
  }

  sleep(ms: number): Promise<boolean> {
    if (this.notified) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve(this.notified);
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

/**
 * The acquires of this process waiting on each key. A waiter joins before it first tries the lock,
 * so a release that lands between a failed try and the sleep still wakes it: no lost wake-ups.
 */
export class WaitingRoom {
  private readonly byKey = new Map<string, Set<PendingWaiter>>();

  /** Runs `wait` with a waiter registered for `key`, and unregisters it however `wait` ends. */
  async with<T>(key: string, wait: (waiter: Waiter) => Promise<T>): Promise<T> {
    const waiter = new PendingWaiter();
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(waiter);
    try {
      return await wait(waiter);
    } finally {
      set.delete(waiter);
      if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
    }
  }

  /** Wakes every waiter for `key`; they race to take the lock again. */
  notify(key: string): void {
    for (const waiter of this.byKey.get(key) ?? []) waiter.notify();
  }

  notifyAll(): void {
    for (const key of this.byKey.keys()) this.notify(key);
  }
}
