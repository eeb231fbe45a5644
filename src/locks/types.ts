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
}
