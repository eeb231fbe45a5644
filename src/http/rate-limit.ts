import { FerryError } from '../core/errors.js';
import type { HttpReply } from './exchange.js';

export interface RateDecision {
  readonly allowed: boolean;
  /** When a refused caller may try again; 0 when allowed. */
  readonly retryAfterSeconds: number;
}

/**
 * Counts attempts per key. Asynchronous so that a limiter shared by several processes (Redis) can
 * stand in for the in-memory one without changing its callers.
 */
export interface RateLimiter {
  /** Counts one attempt for `key` and says whether it is within the limit. */
  hit(key: string): Promise<RateDecision>;
}

export interface MemoryRateLimiterOptions {
  /** Attempts allowed per key within one window. */
  readonly limit: number;
  readonly windowMs: number;
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
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: MemoryRateLimiterOptions) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
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
    if (window.count >= this.limit) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.startedAt + this.windowMs - now) / 1000)) };
    }
    window.count += 1;
    return { allowed: true, retryAfterSeconds: 0 };
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.windows.size;
  }

  private evict(now: number): void {
    for (const [key, window] of this.windows) {
      if (window.startedAt + this.windowMs > now && this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}

/** Counts an attempt; over the limit, answers 429 with the Retry-After the limiter gave. */
export async function enforceLimit(limiter: RateLimiter, key: string, reply: HttpReply): Promise<void> {
  const decision = await limiter.hit(key);
  if (decision.allowed) return;
  reply.header('Retry-After', String(decision.retryAfterSeconds));
  throw new FerryError('rate_limited', 'too many attempts; try again later');
}
