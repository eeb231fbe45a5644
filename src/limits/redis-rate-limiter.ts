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

export interface RedisRateLimiterOptions extends RateLimiterOptions {
  /** Namespace of the counters; the nodes of one deployment share it, limiters of one node differ. */
  readonly prefix: string;
  readonly timeoutMs?: number;
  /** Told when Redis cannot be asked (the attempt is then allowed), once per outage. */
  readonly onError?: (err: unknown) => void;
}

/**
 * A fixed window per key in Redis, shared by every node on it: the same limit whichever node a
 * client's requests reach. When Redis cannot answer, attempts are allowed: an outage of the limiter
 * must not stop uploads that need nothing else from Redis (downloads, for one).
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly client: Redis;
  private connecting: Promise<void> | null = null;
  private failing = false;

  constructor(url: string, private readonly options: RedisRateLimiterOptions) {
    this.client = redisConnection(url, { timeoutMs: options.timeoutMs ?? 2_000, name: 'ferry-rate-limit' });
    // Errors reach the callers of hit(); without a listener ioredis would also print each one.
    this.client.on('error', () => undefined);
  }

  async hit(key: string): Promise<RateDecision> {
    try {
      this.connecting ??= ensureConnected(this.client).finally(() => { this.connecting = null; });
      await this.connecting;
      const [count, left] = await HIT.run(this.client, [`${this.options.prefix}${key}`], [this.options.windowMs]) as [number, number];
      this.failing = false;
      return decide(count, this.options, left);
    } catch (err) {
      if (!this.failing) this.options.onError?.(err);
      this.failing = true;
      return decide(0, this.options, this.options.windowMs);
    }
  }

  async close(): Promise<void> {
    await closeClient(this.client);
  }
}
