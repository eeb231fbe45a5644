import type { Redis } from 'ioredis';
import { closeClient, ensureConnected, redisConnection, Script } from '../locks/redis-client.js';
import { decide, type RateDecision, type RateLimiter, type RateLimiterOptions } from './rate-limit.js';

/**
 * Counts the attempt and opens the key's window with its first one, in one step, so nodes
 * counting the same key at the same moment never lose an attempt or a window's expiry.
 * Answers the count and the milliseconds left in the window.
 */
const HIT = new Script(`
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
`);

/** After a failure, Redis is not asked again for this long: an outage must not slow every request. */
const RETRY_AFTER_FAILURE_MS = 1_000;

export interface RedisRateLimitsOptions {
  /** How long one count may take; a slower Redis is treated as away. */
  readonly timeoutMs?: number;
  /** Told when Redis cannot be asked (attempts are then allowed), once per outage. */
  readonly onError?: (err: unknown) => void;
  readonly now?: () => number;
}

export interface RedisRateLimiterOptions extends RateLimiterOptions {
  /** Namespace of the counters; the nodes of one deployment share it, the limiters of one node differ. */
  readonly prefix: string;
}

/**
 * Rate limiters counting in Redis, over one connection: a fixed window per key, shared by every
 * node on that Redis, so the limit is the same whichever node a client's requests reach. When Redis
 * cannot answer, attempts are allowed, and for a second after a failure Redis is not asked at all:
 * an outage of the limiter must neither stop nor slow down the requests that need nothing else
 * from Redis (downloads, for one).
 */
export class RedisRateLimits {
  private readonly client: Redis;
  private readonly now: () => number;
  private connecting: Promise<void> | null = null;
  private failing = false;
  private askAgainAt = 0;

  constructor(url: string, private readonly options: RedisRateLimitsOptions = {}) {
    this.client = redisConnection(url, { timeoutMs: options.timeoutMs ?? 500, name: 'ferry-rate-limit' });
    // Errors reach the callers of hit(); without a listener ioredis would also print each one.
    this.client.on('error', () => undefined);
    this.now = options.now ?? Date.now;
  }

  limiter(options: RedisRateLimiterOptions): RateLimiter {
    return { hit: (key) => this.hit(options, key) };
  }

  async close(): Promise<void> {
    await closeClient(this.client);
  }

  private async hit(options: RedisRateLimiterOptions, key: string): Promise<RateDecision> {
    const allowed = decide(0, options, options.windowMs);
    if (this.now() < this.askAgainAt) return allowed;
    try {
      this.connecting ??= ensureConnected(this.client).finally(() => { this.connecting = null; });
      await this.connecting;
      const [count, left] = await HIT.run(this.client, [`${options.prefix}${key}`], [options.windowMs]) as [number, number];
      this.failing = false;
      return decide(count, options, left);
    } catch (err) {
      if (!this.failing) this.options.onError?.(err);
      this.failing = true;
      this.askAgainAt = this.now() + RETRY_AFTER_FAILURE_MS;
      return allowed;
    }
  }
}
