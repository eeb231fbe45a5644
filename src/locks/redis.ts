import { randomBytes } from 'node:crypto';
import { FerryError } from '../core/errors.js';
import { ACQUIRE, closeClient, ensureConnected, redisClients, RELEASE, RENEW, unavailable, type RedisClients } from './redis-client.js';
import type { Lock, Locker } from './types.js';
import { WaitingRoom } from './waiters.js';

export type { RedisClients } from './redis-client.js';

export interface RedisLockerOptions {
  /**
   * How long a lock outlives its holder's last renewal. A holder renews every third of it, so only
   * a node that died or lost Redis lets a lock run out; waiters then get it within this time.
   */
  readonly ttlMs?: number;
  /** Namespace of the lock keys and of the notification channel; the nodes of one deployment share it. */
  readonly prefix?: string;
  /** Connect and command timeout of the connections made from a URL. */
  readonly timeoutMs?: number;
  /** Told about failures no caller sees: renewals, releases, dropped connections. */
  readonly onError?: (err: unknown) => void;
}

interface Held {
  readonly token: string;
  readonly controller: AbortController;
  readonly timer: NodeJS.Timeout;
  renewedAt: number;
  done: boolean;
}

type Message = { op: 'released'; key: string } | { op: 'let-go'; key: string; token: string };

/** A release published while a waiter slept may be lost (pub/sub keeps nothing): re-check a little after expiry. */
const EXPIRY_MARGIN_MS = 20;

/**
 * Locks shared by every Ferry node on one Redis. A lock is a key holding a random token, set with
 * NX and a TTL that its holder keeps renewing. Nodes talk over one pub/sub channel: a waiter asks
 * the holder to let go, a release tells the waiters. A waiter sleeps until told, or at the latest
 * until the lock would expire, which is how locks of a dead node (or a lost message) are noticed.
 */
export class RedisLocker implements Locker {
  private readonly clients: RedisClients;
  private readonly ttlMs: number;
  private readonly renewEveryMs: number;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly onError: (err: unknown) => void;
  private readonly held = new Map<string, Held>();
  private readonly waiting = new WaitingRoom();
  private connecting: Promise<void> | null = null;
  private lastError: unknown = null;
  private closed = false;

  /** A URL (redis:// or rediss://) makes connections that fail fast; given clients are used as they are. */
  constructor(connection: string | RedisClients, options: RedisLockerOptions = {}) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.renewEveryMs = Math.max(1, Math.floor(this.ttlMs / 3));
    this.prefix = options.prefix ?? 'ferry:lock:';
    this.channel = `${this.prefix}events`;
    this.onError = options.onError ?? (() => undefined);
    this.clients = typeof connection === 'string'
      ? redisClients(connection, { timeoutMs: options.timeoutMs ?? 2_000, name: 'ferry-locks' })
      : connection;
    for (const client of [this.clients.commands, this.clients.subscriber]) {
      client.on('error', (err: unknown) => { this.lastError = err; this.onError(err); });
    }
    this.clients.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onMessage(message);
    });
  }

  /** Connects and subscribes (acquire does it on first use); service_unavailable if Redis cannot be reached. */
  async connect(): Promise<void> {
    if (this.closed) throw new FerryError('service_unavailable', 'the lock service is shut down');
    this.connecting ??= this.subscribe().catch((err: unknown) => {
      this.connecting = null;
      throw err;
    });
    await this.connecting;
    for (const [role, client] of Object.entries(this.clients)) {
      if (client.status !== 'ready') throw unavailable(this.lastError ?? new Error(client.status), `${role} connection is ${client.status}`);
    }
  }

  async acquire(key: string, timeoutMs: number): Promise<Lock> {
    const deadline = Date.now() + timeoutMs;
    await this.connect();
    const name = this.prefix + key;
    const token = randomBytes(16).toString('base64url');
    return this.waiting.with(name, async (waiter) => {
      for (;;) {
        waiter.arm();
        const sentAt = Date.now();
        const [taken, holder, expiresIn] = await this.call('acquire', () => ACQUIRE.run(this.clients.commands, [name], [token, this.ttlMs])) as [number, string, number];
        if (taken === 1) return this.hold(name, token, sentAt);
        await this.askToLetGo(name, holder);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw busy();
        // Woken by the release; at the latest when the lock would expire (a dead holder, a lost message).
        const expiry = expiresIn >= 0 ? expiresIn + EXPIRY_MARGIN_MS : this.ttlMs;
        const told = await waiter.sleep(Math.min(remaining, expiry));
        if (this.closed) throw new FerryError('service_unavailable', 'the lock service is shut down');
        if (!told && expiry >= remaining) throw busy(); // the deadline came first: give up, as MemoryLocker does
      }
    });
  }

  async tryAcquire(key: string): Promise<Lock | null> {
    await this.connect();
    const name = this.prefix + key;
    const token = randomBytes(16).toString('base64url');
    const sentAt = Date.now();
    const [taken] = await this.call('acquire', () => ACQUIRE.run(this.clients.commands, [name], [token, this.ttlMs])) as [number, string, number];
    return taken === 1 ? this.hold(name, token, sentAt) : null;
  }

  /** Both connections up and Redis answering a PING; service_unavailable otherwise. */
  async ping(): Promise<void> {
    await this.connect();
    await this.call('ping', () => this.clients.commands.ping());
  }

  /** Releases the locks still held here (so other nodes need not wait for them to expire) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.held].map(([name, entry]) => this.release(name, entry)));
    this.waiting.notifyAll();
    await Promise.all([closeClient(this.clients.commands), closeClient(this.clients.subscriber)]);
  }

  private async subscribe(): Promise<void> {
    try {
      await Promise.all([ensureConnected(this.clients.commands), ensureConnected(this.clients.subscriber)]);
      await this.clients.subscriber.subscribe(this.channel);
    } catch (err) {
      throw unavailable(err, 'cannot connect');
    }
  }

  /** `since`: when the command that set the lock's TTL was sent, so no later than the TTL started. */
  private hold(name: string, token: string, since: number): Lock {
    const entry: Held = {
      token,
      controller: new AbortController(),
      timer: setInterval(() => void this.renew(name, entry), this.renewEveryMs).unref(),
      renewedAt: since,
      done: false,
    };
    this.held.set(name, entry);
    return { releaseRequested: entry.controller.signal, release: () => this.release(name, entry) };
  }

  /**
   * Keeps a held lock alive. If it is gone (it ran out during a long pause, or Redis restarted) or
   * cannot be renewed before it would run out, the holder is told to stop: someone else may hold it.
   */
  private async renew(name: string, entry: Held): Promise<void> {
    const sentAt = Date.now();
    try {
      const kept = await RENEW.run(this.clients.commands, [name], [entry.token, this.ttlMs]);
      if (entry.done) return;
      if (kept === 1) entry.renewedAt = sentAt;
      else this.lose(entry, 'the lock expired before it was renewed');
    } catch (err) {
      this.onError(err);
      // Failing twice in a row leaves a third of the TTL to stop writing before another node may take over.
      if (!entry.done && Date.now() - entry.renewedAt >= this.ttlMs / 2) {
        this.lose(entry, 'the lock could not be renewed before it would expire');
      }
    }
  }

  private lose(entry: Held, why: string): void {
    clearInterval(entry.timer);
    entry.controller.abort(new FerryError('upload_locked', why));
  }

  private async release(name: string, entry: Held): Promise<void> {
    if (entry.done) return;
    entry.done = true;
    clearInterval(entry.timer);
    if (this.held.get(name) === entry) this.held.delete(name);
    const message = JSON.stringify({ op: 'released', key: name } satisfies Message);
    try {
      await RELEASE.run(this.clients.commands, [name], [entry.token, this.channel, message]);
    } catch (err) {
      this.onError(err); // the lock runs out by itself after the TTL
    }
    this.waiting.notify(name);
  }

  private async askToLetGo(name: string, token: string): Promise<void> {
    const local = this.held.get(name);
    if (local?.token === token) {
      local.controller.abort();
      return;
    }
    const message = JSON.stringify({ op: 'let-go', key: name, token } satisfies Message);
    await this.call('let-go request', () => this.clients.commands.publish(this.channel, message));
  }

  private onMessage(raw: string): void {
    let message: Message;
    try {
      message = JSON.parse(raw) as Message;
    } catch {
      return;
    }
    if (message.op === 'released') this.waiting.notify(message.key);
    else if (message.op === 'let-go') {
      const local = this.held.get(message.key);
      if (local?.token === message.token) local.controller.abort();
    }
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw unavailable(err, what);
    }
  }
}

function busy(): FerryError {
  return new FerryError('upload_locked', 'the upload is busy with another request; try again shortly');
}
