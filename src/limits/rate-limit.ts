export interface RateDecision {
  readonly allowed: boolean;
  /** When a refused caller may try again; 0 when allowed. */
  readonly retryAfterSeconds: number;
  /** Attempts allowed per window. */
  readonly limit: number;
  /** Attempts left in the current window after this one. */
  readonly remaining: number;
  /** Seconds until the current window ends (at least 1). */
  readonly resetSeconds: number;
  /** The length of a window. */
  readonly windowSeconds: number;
}

/**
 * Counts attempts per key. Asynchronous so that a limiter shared by several processes (Redis) can
 * stand in for the in-memory one without changing its callers.
 */
export interface RateLimiter {
  /** Counts one attempt for `key` and says whether it is within the limit. */
  hit(key: string): Promise<RateDecision>;
}

/** Every rate limiter Ferry keeps. */
export interface RequestLimiters {
  /** Every request, per client address and per user; null when the limit is off. */
  readonly byAddress: RateLimiter | null;
  readonly byUser: RateLimiter | null;
  /** Sign-in attempts per client address and per username, and sign-ups per address. */
  readonly logins: { readonly byAddress: RateLimiter; readonly byName: RateLimiter; readonly signupsByAddress: RateLimiter };
}

export interface RateLimiterOptions {
  /** Attempts allowed per key within one window. */
  readonly limit: number;
  readonly windowMs: number;
}

/** The decision for the `count`th attempt of a window that ends in `msLeft`. */
export function decide(count: number, options: RateLimiterOptions, msLeft: number): RateDecision {
  const resetSeconds = Math.max(1, Math.ceil(msLeft / 1000));
  const allowed = count <= options.limit;
  return {
    allowed,
    retryAfterSeconds: allowed ? 0 : resetSeconds,
    limit: options.limit,
    remaining: Math.max(0, options.limit - count),
    resetSeconds,
    windowSeconds: Math.ceil(options.windowMs / 1000),
  };
}

export interface MemoryRateLimiterOptions extends RateLimiterOptions {
  /** Keys remembered at most; past it the oldest window is forgotten first. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

interface Window {
  readonly startedAt: number;
  count: number;
}

/**
 * A fixed window per key, opened by the key's first attempt. Windows sit in the Map in the order
 * they opened (a reopened window is re-inserted at the end), so expired ones are always at the
 * front and are dropped from there: memory stays bounded by the keys seen within one window, and
 * by `maxKeys` under a flood of distinct keys (which then forgets the oldest counts early).
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(private readonly options: MemoryRateLimiterOptions) {
    this.maxKeys = options.maxKeys ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  async hit(key: string): Promise<RateDecision> {
    const now = this.now();
    this.evict(now);
    let window = this.windows.get(key);
    if (!window) {
      window = { startedAt: now, count: 0 };
      this.windows.set(key, window);
    }
    // A refused attempt is not counted: it neither uses up nor extends anything.
    const counted = window.count < this.options.limit;
    if (counted) window.count += 1;
    return decide(counted ? window.count : window.count + 1, this.options, window.startedAt + this.options.windowMs - now);
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.windows.size;
  }

  private evict(now: number): void {
    for (const [key, window] of this.windows) {
      if (window.startedAt + this.options.windowMs > now && this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}
