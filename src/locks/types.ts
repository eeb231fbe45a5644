export interface Lock {
  /** Fires when another request wants this lock: the holder should finish up and release. */
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
