import { FerryError } from '../core/errors.js';
import type { Lock, Locker } from './types.js';

interface Held {
  readonly controller: AbortController;
  readonly released: Promise<void>;
}

/** Locks for one process: the embedded default. */
export class MemoryLocker implements Locker {
  private readonly held = new Map<string, Held>();

  async acquire(key: string, timeoutMs: number): Promise<Lock> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = this.held.get(key);
      if (!current) return this.take(key);
      current.controller.abort();
      const remaining = deadline - Date.now();
      if (remaining <= 0 || !(await settlesWithin(current.released, remaining))) {
        throw new FerryError('upload_locked', 'the upload is busy with another request; try again shortly');
      }
    }
  }

  async tryAcquire(key: string): Promise<Lock | null> {
    return this.held.has(key) ? null : this.take(key);
  }

  /** In-process locks are always there. */
  async ping(): Promise<void> {}

  private take(key: string): Lock {
    const controller = new AbortController();
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    const entry: Held = { controller, released };
    this.held.set(key, entry);
    return {
      releaseRequested: controller.signal,
      release: async () => {
        if (this.held.get(key) === entry) this.held.delete(key);
        release();
      },
    };
  }
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
