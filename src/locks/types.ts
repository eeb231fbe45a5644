import { isFerryError } from '../core/errors.js';

export interface Lock {
  /**
   * Fires when another request wants this lock: the holder should finish up and release. It fires
   * too, with an upload_locked error as its reason, when the lock is lost (see lockLost).
   */
  readonly releaseRequested: AbortSignal;
  release(): Promise<void>;
}

/**
 * Exclusive access to one upload at a time. A waiter never polls: it asks the holder to let go and
 * waits for the release, up to a timeout.
 */
export interface Locker {
  acquire(key: string, timeoutMs: number): Promise<Lock>;
  /**
   * The lock if nobody holds it, else null, leaving the holder undisturbed: for background work
   * (sweeps) that must never cut off a client.
   */
  tryAcquire(key: string): Promise<Lock | null>;
  /** Resolves while locks can be taken; rejects (service_unavailable) when the lock service cannot be reached. */
  ping(): Promise<void>;
}

/**
 * Whether `signal` (a lock's releaseRequested, or a signal passing its reason on) says the lock
 * was lost: it ran out or could not be renewed in time, so another node may hold it already. The
 * holder then stops at once and makes nothing durable, neither bytes nor offsets: whatever it
 * committed now could land after the new holder's own writes.
 */
export function lockLost(signal: AbortSignal): boolean {
  return signal.aborted && isFerryError(signal.reason, 'upload_locked');
}
