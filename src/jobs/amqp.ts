import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { FerryError } from '../core/errors.js';
import { runHandler, type Job, type JobHandler, type JobKindOptions, type JobLogger, type JobQueue } from './queue.js';

export interface AmqpJobQueueOptions {
  /** amqp:// or amqps:// */
  readonly url: string;
  readonly log: JobLogger;
  /** Names every queue: `<prefix>.<kind>`, `<prefix>.<kind>.retry`, `<prefix>.dead`, `<prefix>.scheduler`. */
  readonly prefix?: string;
  readonly kinds?: Readonly<Record<string, JobKindOptions>>;
  /** Unacknowledged jobs of one kind a node holds at once (coalescing kinds: always 1). */
  readonly prefetch?: number;
  /** After this many failed runs a job goes to the dead-letter queue. */
  readonly maxAttempts?: number;
  /** Wait before the first retry; doubled for each one after, up to five minutes. */
  readonly retryDelayMs?: number;
  /** Reconnect backoff: starts here, doubles, tops out at reconnectMaxMs. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** How often a node that schedules but does not lead asks for the lead again. */
  readonly leaderCheckMs?: number;
}

const ATTEMPT = 'x-ferry-attempt';
const HELD_LIMIT = 10_000;
const CONFIRM_TIMEOUT_MS = 10_000;
const MAX_RETRY_DELAY_MS = 5 * 60 * 1000;

interface Link {
  readonly model: ChannelModel;
  readonly publisher: ConfirmChannel;
  /** Rejects when this connection is gone, so nothing waits on it forever. */
  readonly lost: Promise<never>;
  readonly asserted: Set<string>;
  readonly consumers: Map<string, { channel: Channel; tag: string }>;
}

/**
 * Jobs through RabbitMQ. Each kind has a durable work queue; workers take jobs with a prefetch and
 * acknowledge after the handler succeeds. A failed job is parked in the kind's retry queue with a
 * per-message TTL, whose dead-letter route leads back to the work queue, with its attempt count in
 * a header; after maxAttempts it goes to `<prefix>.dead` with the error. Messages are persistent.
 *
 * Periodic jobs are published by one node only: the scheduling nodes compete for an exclusive queue
 * (`<prefix>.scheduler`), which the broker gives to one connection at a time and frees when that
 * connection goes. Coalescing kinds keep at most one job waiting (x-max-length 1, drop-head), so a
 * backlog of ticks never builds up while the workers are away.
 *
 * A broker that is down at start, or goes away later, is logged and reconnected with backoff; jobs
 * published meanwhile are held in memory (bounded) and sent once it is back.
 */
export class AmqpJobQueue implements JobQueue {
  private readonly prefix: string;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly scheduled = new Map<string, NodeJS.Timeout>();
  private readonly held: Job[] = [];
  private readonly running = new Set<Promise<void>>();
  private link: Link | null = null;
  private leading = false;
  private closed = false;
  private backoff: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private leaderTimer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];

  private constructor(private readonly options: AmqpJobQueueOptions) {
    this.prefix = options.prefix ?? 'ferry';
    this.backoff = options.reconnectMinMs ?? 500;
  }

  /** Starts connecting in the background; never waits for (or fails on) the broker. */
  static start(options: AmqpJobQueueOptions): AmqpJobQueue {
    const queue = new AmqpJobQueue(options);
    void queue.connect();
    return queue;
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.link !== null;
  }

  /** True while this node is the one that publishes scheduled jobs. */
  get leader(): boolean {
    return this.leading;
  }

  /** The broker connection, for diagnostics and tests that cut it; null while away. */
  get connection(): ChannelModel | null {
    return this.link?.model ?? null;
  }

  /** Resolves once connected (now, if already). */
  whenConnected(): Promise<void> {
    if (this.link) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Connected to the broker; service_unavailable while it is away (jobs published meanwhile are held). */
  async ping(): Promise<void> {
    if (this.link) return;
    const held = this.held.length;
    throw new FerryError('service_unavailable', `the job broker (RabbitMQ) is unavailable; ${held} job${held === 1 ? '' : 's'} held until it is back`);
  }

  workQueue(kind: string): string {
    return `${this.prefix}.${kind}`;
  }

  get deadLetterQueue(): string {
    return `${this.prefix}.dead`;
  }

  async publish(job: Job): Promise<void> {
    if (this.closed) return;
    const link = this.link;
    // While held jobs are still going out, new ones queue up behind them, in order.
    if (link && this.held.length === 0) {
      try {
        await this.assertKind(link, job.kind);
        await this.send(link, this.workQueue(job.kind), encode(job), { headers: { [ATTEMPT]: 1 } });
        return;
      } catch (err) {
        this.options.log.warn({ err: { message: (err as Error).message }, kind: job.kind }, 'could not publish a job; holding it until the broker is back');
        // A connection that takes jobs but confirms none is broken in a way the socket has not noticed.
        if (this.link === link) void link.model.close().catch(() => undefined);
      }
    }
    this.hold(job);
  }

  consume(kind: string, handler: JobHandler): void {
    this.handlers.set(kind, handler);
    const link = this.link;
    if (link) this.startConsumer(link, kind).catch((err: unknown) => this.fail(link, err, `could not consume ${kind}`));
  }

  schedule(kind: string, everyMs: number): void {
    if (this.scheduled.has(kind)) return;
    const timer = setInterval(() => {
      if (this.leading) void this.publish({ kind });
    }, everyMs);
    timer.unref();
    this.scheduled.set(kind, timer);
    if (!this.leaderTimer) {
      this.leaderTimer = setInterval(() => void this.lead(), this.options.leaderCheckMs ?? 5_000);
      this.leaderTimer.unref();
    }
    void this.lead();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.scheduled.values()) clearInterval(timer);
    if (this.leaderTimer) clearInterval(this.leaderTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const link = this.link;
    if (link) {
      // No new jobs; those running finish and are acknowledged before the connection goes.
      await Promise.all([...link.consumers.values()].map(({ channel, tag }) => channel.cancel(tag).catch(() => undefined)));
    }
    await Promise.all(this.running);
    this.link = null;
    this.leading = false;
    if (link) await link.model.close().catch(() => undefined);
    if (this.held.length > 0) this.options.log.warn({ jobs: this.held.length }, 'closing with jobs the broker never got');
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = null;
    if (this.closed) return;
    let model: ChannelModel | null = null;
    try {
      model = await connect(withHeartbeat(this.options.url));
      const opened = model;
      let markLost!: (err: Error) => void;
      const lost = new Promise<never>((_, reject) => { markLost = reject; });
      lost.catch(() => undefined);
      opened.on('error', (err: Error) => this.options.log.warn({ err }, 'broker connection error'));
      opened.on('close', () => {
        markLost(new Error('broker connection closed'));
        this.lost(opened);
      });
      const publisher = await opened.createConfirmChannel();
      this.watch(opened, publisher);
      const link: Link = { model: opened, publisher, lost, asserted: new Set(), consumers: new Map() };
      await publisher.assertQueue(this.deadLetterQueue, { durable: true });
      if (this.closed) {
        await opened.close();
        return;
      }
      this.link = link;
      this.backoff = this.options.reconnectMinMs ?? 500;
      this.options.log.info({ prefix: this.prefix }, 'connected to the job broker');
      for (const kind of this.handlers.keys()) await this.startConsumer(link, kind);
      await this.flushHeld(link);
      if (this.scheduled.size > 0) await this.lead();
      for (const wake of this.waiters.splice(0)) wake();
    } catch (err) {
      this.options.log.warn({ err: { message: (err as Error).message }, retryInMs: this.backoff }, 'job broker unavailable');
      if (model) {
        const failed = model;
        if (this.link?.model === failed) this.link = null;
        await failed.close().catch(() => undefined);
      }
      this.reconnectLater();
    }
  }

  private reconnectLater(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoff * (0.8 + Math.random() * 0.4);
    this.backoff = Math.min(this.backoff * 2, this.options.reconnectMaxMs ?? 30_000);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private lost(model: ChannelModel): void {
    if (this.link?.model !== model) return;
    this.link = null;
    this.leading = false;
    if (this.closed) return;
    this.options.log.warn({}, 'lost the job broker; reconnecting');
    this.reconnectLater();
  }

  /** A channel the broker closes (a protocol error) takes the whole connection down with it, to start over clean. */
  private watch(model: ChannelModel, channel: Channel): void {
    channel.on('error', (err: Error) => this.options.log.warn({ err: { message: err.message } }, 'job channel error'));
    channel.on('close', () => {
      if (!this.closed && this.link?.model === model) void model.close().catch(() => undefined);
    });
  }

  private fail(link: Link, err: unknown, msg: string): void {
    this.options.log.error({ err }, msg);
    void link.model.close().catch(() => undefined);
  }

  private async assertKind(link: Link, kind: string): Promise<void> {
    if (link.asserted.has(kind)) return;
    const work = this.workQueue(kind);
    const coalesce = this.options.kinds?.[kind]?.coalesce ?? false;
    await link.publisher.assertQueue(work, {
      durable: true,
      arguments: coalesce ? { 'x-max-length': 1, 'x-overflow': 'drop-head' } : {},
    });
    await link.publisher.assertQueue(`${work}.retry`, {
      durable: true,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': work },
    });
    link.asserted.add(kind);
  }

  private async startConsumer(link: Link, kind: string): Promise<void> {
    if (link.consumers.has(kind)) return;
    await this.assertKind(link, kind);
    const channel = await link.model.createChannel();
    this.watch(link.model, channel);
    const coalesce = this.options.kinds?.[kind]?.coalesce ?? false;
    await channel.prefetch(coalesce ? 1 : (this.options.prefetch ?? 4));
    const { consumerTag } = await channel.consume(this.workQueue(kind), (message) => {
      // null: the broker cancelled the consumer (its queue was deleted); start over.
      if (!message) return void link.model.close().catch(() => undefined);
      const run = this.handle(link, channel, kind, message);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }, { noAck: false });
    link.consumers.set(kind, { channel, tag: consumerTag });
  }

  private async handle(link: Link, channel: Channel, kind: string, message: ConsumeMessage): Promise<void> {
    const handler = this.handlers.get(kind);
    const attempt = Number(message.properties.headers?.[ATTEMPT] ?? 1) || 1;
    let failure: unknown;
    try {
      if (!handler) throw new Error(`no handler for ${kind}`);
      await runHandler(handler, decode(message.content, kind), this.options.log);
      settle(() => channel.ack(message));
      return;
    } catch (err) {
      failure = err;
    }
    const maxAttempts = this.options.maxAttempts ?? 5;
    const reason = failure instanceof Error ? failure.message : String(failure);
    try {
      if (attempt >= maxAttempts) {
        this.options.log.error({ err: failure, task: kind, attempt }, 'job failed for the last time; dead-lettered');
        await this.send(link, this.deadLetterQueue, message.content, {
          headers: { [ATTEMPT]: attempt, 'x-ferry-kind': kind, 'x-ferry-error': reason.slice(0, 1000) },
        });
      } else {
        const delay = Math.min(MAX_RETRY_DELAY_MS, (this.options.retryDelayMs ?? 1_000) * 2 ** (attempt - 1));
        this.options.log.warn({ err: failure, task: kind, attempt, retryInMs: delay }, 'job failed; will retry');
        await this.send(link, `${this.workQueue(kind)}.retry`, message.content, {
          headers: { [ATTEMPT]: attempt + 1, 'x-ferry-error': reason.slice(0, 1000) },
          expiration: String(delay),
        });
      }
      settle(() => channel.ack(message));
    } catch (err) {
      // Could not park it: hand it back, the broker delivers it again.
      this.options.log.warn({ err, task: kind }, 'could not park a failed job; returning it to the queue');
      settle(() => channel.nack(message, false, true));
    }
  }

  private send(link: Link, queue: string, content: Buffer, options: Options.Publish): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const confirmed = new Promise<void>((resolve, reject) => {
      link.publisher.sendToQueue(queue, content, { ...options, persistent: true, contentType: 'application/json' }, (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
    });
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no confirm from the broker in ${CONFIRM_TIMEOUT_MS} ms`)), CONFIRM_TIMEOUT_MS);
    });
    return Promise.race([confirmed, link.lost, late]).finally(() => clearTimeout(timer));
  }

  private hold(job: Job): void {
    if (this.options.kinds?.[job.kind]?.coalesce && this.held.some((other) => other.kind === job.kind)) return;
    if (this.held.length >= HELD_LIMIT) {
      const dropped = this.held.shift()!;
      this.options.log.warn({ kind: dropped.kind }, 'too many jobs held for the broker; dropped the oldest');
    }
    this.held.push(job);
  }

  private async flushHeld(link: Link): Promise<void> {
    while (this.held.length > 0 && this.link === link) {
      const job = this.held[0]!;
      await this.assertKind(link, job.kind);
      await this.send(link, this.workQueue(job.kind), encode(job), { headers: { [ATTEMPT]: 1 } });
      this.held.shift();
    }
  }

  /** Asks for the scheduler's exclusive queue; whoever holds it publishes the periodic jobs. */
  private async lead(): Promise<void> {
    const link = this.link;
    if (!link || this.leading || this.closed) return;
    let channel: Channel | null = null;
    try {
      channel = await link.model.createChannel();
      // The broker closes the channel when another connection holds the queue: expected, not an error.
      channel.on('error', () => undefined);
      await channel.assertQueue(`${this.prefix}.scheduler`, { exclusive: true, durable: false });
      if (this.link === link) {
        this.leading = true;
        this.options.log.info({ prefix: this.prefix }, 'this node schedules the periodic jobs');
      }
      await channel.close().catch(() => undefined);
    } catch {
      // Another node leads.
    }
  }
}

/** Heartbeats find a dead peer the socket would not notice (a cable pulled, a VM paused); 15 s unless the URL says. */
function withHeartbeat(raw: string): string {
  const url = new URL(raw);
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '15');
  return url.toString();
}

function encode(job: Job): Buffer {
  return Buffer.from(JSON.stringify({ kind: job.kind, payload: job.payload ?? null }));
}

function decode(content: Buffer, kind: string): Job {
  const parsed = JSON.parse(content.toString('utf8')) as { payload?: unknown };
  return parsed.payload === null || parsed.payload === undefined ? { kind } : { kind, payload: parsed.payload };
}

/** An ack or nack on a channel that has since closed throws; the broker redelivers such a job anyway. */
function settle(action: () => void): void {
  try {
    action();
  } catch {
    // The channel is gone.
  }
}
