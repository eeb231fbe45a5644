import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { FerryError } from '../core/errors.js';

/**
 * The two connections a RedisLocker uses: one for commands, one that stays subscribed to the
 * lock channel (a subscribed Redis connection can run nothing else).
 */
export interface RedisClients {
  readonly commands: Redis;
  readonly subscriber: Redis;
}

/**
 * Connections that fail fast: nothing is queued while Redis is unreachable and nothing is retried,
 * so a request gets an answer (503) instead of hanging. They connect on first use and keep
 * reconnecting in the background; a subscription comes back by itself after a reconnect.
 */
export function redisClients(url: string, options: { timeoutMs: number; name: string }): RedisClients {
  return {
    commands: redisConnection(url, options),
    subscriber: redisConnection(url, { ...options, name: `${options.name}-events` }),
  };
}

/** One connection that fails fast, as described for redisClients. */
export function redisConnection(url: string, options: { timeoutMs: number; name: string }): Redis {
  const failFast: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: options.timeoutMs,
    commandTimeout: options.timeoutMs,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    autoResubscribe: true,
  };
  return new Redis(url, { ...failFast, connectionName: options.name });
}

/** Starts a lazily connecting client; resolves once it is ready, or fails if it is not. */
export async function ensureConnected(client: Redis): Promise<void> {
  if (client.status === 'wait') await client.connect();
  if (client.status !== 'ready') throw new Error(`connection is ${client.status}`);
}

export async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through: drop the connection instead
    }
  }
  client.disconnect();
}

/** Replies that mean "Redis cannot serve right now", as opposed to a bug in a command. */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|OOM|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;

/**
 * A failed Redis call as the HTTP edge should see it: unreachable or overloaded Redis is
 * service_unavailable (503), keeping the original error as the cause. A reply error that says the
 * command itself is wrong stays what it is (a bug, answered 500 with its stack logged).
 */
export function unavailable(err: unknown, context: string): Error {
  if (err instanceof FerryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && err.name === 'ReplyError' && !TRANSIENT_REPLY.test(message)) return err;
  return new FerryError('service_unavailable', `the lock service (Redis) is unavailable: ${context}: ${message}`, { cause: err });
}

/** A Lua script run by its SHA-1, sent in full only when the server does not have it yet. */
export class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** Takes a free lock, or says who holds it and for how much longer (ms; negative if it never expires). */
export const ACQUIRE = new Script(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, '', 0} end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}
`);

/** Extends the lock's life, only while the caller still holds it. */
export const RENEW = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/** Frees the lock only for its holder, and tells every node in the same step. */
export const RELEASE = new Script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`);
