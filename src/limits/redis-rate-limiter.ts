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

export interface RedisRateLimiterOptions extends RateLimiterOptions {
  /** Namespace of the counters; the nodes of one deployment share it, limiters of one node differ. */
  readonly prefix: string;
  /** How long one count may take; a slower Redis is treated as away. */
  readonly timeoutMs?: number;
  /** Told when Redis cannot be asked (the attempt is then allowed), once per outage. */
  readonly onError?: (err: unknown) => void;
  readonly now?: () => number;
}

/**
 * A fixed window per key in Redis, shared by every node on it: the same limit whichever node a
 * client's requests reach. When Redis cannot answer, attempts are allowed, and for a second after a
 * failure Redis is not asked at all: an outage of the limiter must neither stop nor slow down the
 * requests that need nothing else from Redis (downloads, for one).
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly client: Redis;
  private connecting: Promise<void> | null = null;
  private failing = false;
  private askAgainAt = 0;
  private readonly now: () => number;

  constructor(url: string, private readonly options: RedisRateLimiterOptions) {
    this.client = redisConnection(url, { timeoutMs: options.timeoutMs ?? 500, name: 'ferry-rate-limit' });
    this.now = options.now ?? Date.now;
    // Errors reach the callers of hit(); without a listener ioredis would also print each one.
    this.client.on('error', () => undefined);
  }

  async hit(key: string): Promise<RateDecision> {
    if (this.now() < this.askAgainAt) return this.allowed();
    try {
      this.connecting ??= ensureConnected(this.client).finally(() => { this.connecting = null; });
      await this.connecting;
      const [count, left] = await HIT.run(this.client, [`${this.options.prefix}${key}`], [this.options.windowMs]) as [number, number];
      this.failing = false;
      return decide(count, this.options, left);
    } catch (err) {
      if (!this.failing) this.options.onError?.(err);
      this.failing = true;
      this.askAgainAt = this.now() + RETRY_AFTER_FAILURE_MS;
      return this.allowed();
    }
  }

  private allowed(): RateDecision {
    return decide(0, this.options, this.options.windowMs);
  }

  async close(): Promise<void> {
    await closeClient(this.client);
  }
}
