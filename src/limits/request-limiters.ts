import type { Config } from '../config.js';
import { MemoryRateLimiter, type RateLimiter, type RequestLimiters } from './rate-limit.js';

type LimitSettings = Pick<Config, 'redisUrl' | 'rateLimitWindowSeconds' | 'rateLimitPerUser' | 'rateLimitPerAddress'>;

/**
 * The per-address and per-user request limiters: in Redis when Ferry has one, so that every node
 * counts against the same limit wherever a load balancer sends each request; else in this process.
 */
export async function requestLimiters(config: LimitSettings): Promise<RequestLimiters & { close(): Promise<void> }> {
  const make = async (name: string, limit: number): Promise<RateLimiter | null> => {
    if (limit === 0) return null;
    const options = { limit, windowMs: config.rateLimitWindowSeconds * 1000 };
    if (!config.redisUrl) return new MemoryRateLimiter(options);
    const { RedisRateLimiter } = await import('./redis-rate-limiter.js');
    return new RedisRateLimiter(config.redisUrl, { ...options, prefix: `ferry:rate:${name}:` });
  };
  const byAddress = await make('address', config.rateLimitPerAddress);
  const byUser = await make('user', config.rateLimitPerUser);
  return {
    byAddress,
    byUser,
    close: async () => {
      await byAddress?.close?.();
      await byUser?.close?.();
    },
  };
}
