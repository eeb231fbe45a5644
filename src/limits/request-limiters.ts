import type { Config } from '../config.js';
import { MemoryRateLimiter, type RateLimiter, type RateLimiterOptions, type RequestLimiters } from './rate-limit.js';

type LimitSettings = Pick<Config, 'redisUrl' | 'rateLimitWindowSeconds' | 'rateLimitPerUser' | 'rateLimitPerAddress' | 'loginAttempts' | 'loginWindowSeconds'>;

/**
 * Ferry's rate limiters: in Redis when Ferry has one, so that every node counts against the same
 * limit wherever a load balancer sends each request (a password guesser gains nothing from many
 * nodes); else in this process.
 */
export async function requestLimiters(config: LimitSettings): Promise<RequestLimiters & { close(): Promise<void> }> {
  const redis = config.redisUrl ? new (await import('./redis-rate-limiter.js')).RedisRateLimits(config.redisUrl) : null;
  const make = (name: string, options: RateLimiterOptions): RateLimiter =>
    redis ? redis.limiter({ ...options, prefix: `ferry:rate:${name}:` }) : new MemoryRateLimiter(options);
  const requests = (name: string, limit: number) => (limit === 0 ? null : make(name, { limit, windowMs: config.rateLimitWindowSeconds * 1000 }));
  const logins = { limit: config.loginAttempts, windowMs: config.loginWindowSeconds * 1000 };
  return {
    byAddress: requests('address', config.rateLimitPerAddress),
    byUser: requests('user', config.rateLimitPerUser),
    // Per address against one client guessing many names; per name against many addresses guessing one password.
    logins: { byAddress: make('login-address', logins), byName: make('login-name', logins), signupsByAddress: make('signup-address', logins) },
    close: async () => {
      await redis?.close();
    },
  };
}
