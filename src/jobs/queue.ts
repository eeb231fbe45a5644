/**
 * The contract between background work and what runs it. Job code publishes and handles jobs by
 * kind; whether they run in this process (the embedded setup) or travel through RabbitMQ to a
 * worker node (FERRY_AMQP_URL) is the queue's business.
 */

export interface Job {
  readonly kind: string;
  /** JSON-serialisable; the jobs Ferry has today carry none (each is "do one pass"). */
  readonly payload?: unknown;
}

/** Handles one job; resolves with how many items it handled (logged when > 0), rejects to have it retried. */
export type JobHandler = (job: Job) => Promise<number | void>;

export interface JobKindOptions {
  /**
   * A job of this kind means "do a pass": one pending is as good as many, so pending ones collapse
   * into one and at most one runs at a time on a node.
   */
  readonly coalesce?: boolean;
}

export interface JobQueue {
  /** Queues a job. Never rejects for a broker that is away: the job is held until it is back. */
  publish(job: Job): Promise<void>;
  /** Runs `handler` for every job of `kind` this node receives. */
  consume(kind: string, handler: JobHandler): void;
  /** Publishes `kind` every `everyMs`, from one node among all that schedule it (in-process: this one). */
  schedule(kind: string, everyMs: number): void;
  /**
   * Resolves while jobs reach the workers; rejects (service_unavailable) while the broker is away.
   * Publishing still succeeds then: jobs are held until it is back.
   */
  ping(): Promise<void>;
  /** Stops scheduling and consuming, waits for running handlers, lets go of connections. */
  close(): Promise<void>;
}

export interface JobLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Jobs in this process, as Ferry has always run them: a publish runs the kind's handler now, or
 * right after its current run; a failure is logged and the next tick tries again.
 */
export class InProcessJobQueue implements JobQueue {
  private readonly handlers = new Map<string, JobHandler>();
  private readonly lines = new Map<string, { running: Promise<void> | null; pending: Job[] }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(private readonly log: JobLogger, private readonly kinds: Readonly<Record<string, JobKindOptions>> = {}) {}

  async publish(job: Job): Promise<void> {
    if (this.closed) return;
    const handler = this.handlers.get(job.kind);
    // Nothing here runs this kind (an api-only node without a broker): another node's schedule covers it.
    if (!handler) return;
    const line = this.lines.get(job.kind) ?? { running: null, pending: [] };
    this.lines.set(job.kind, line);
    if (this.kinds[job.kind]?.coalesce && (line.running || line.pending.length > 0)) {
      if (line.pending.length === 0) line.pending.push(job);
      return;
    }
    line.pending.push(job);
    this.drain(job.kind, handler, line);
  }

  consume(kind: string, handler: JobHandler): void {
    this.handlers.set(kind, handler);
  }

  /** Jobs in this process need nothing outside it. */
  async ping(): Promise<void> {}

  schedule(kind: string, everyMs: number): void {
    const timer = setInterval(() => void this.publish({ kind }), everyMs);
    timer.unref();
    this.timers.push(timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const line of this.lines.values()) line.pending.length = 0;
    await Promise.all([...this.lines.values()].map((line) => line.running));
  }

  private drain(kind: string, handler: JobHandler, line: { running: Promise<void> | null; pending: Job[] }): void {
    if (line.running || this.closed) return;
    const job = line.pending.shift();
    if (!job) return;
    line.running = runLogged(handler, job, this.log).finally(() => {
      line.running = null;
      this.drain(kind, handler, line);
    });
  }
}

/** Runs a handler, logging its count or its failure; rethrows the failure. */
export async function runHandler(handler: JobHandler, job: Job, log: JobLogger): Promise<void> {
  const count = await handler(job);
  if (typeof count === 'number' && count > 0) log.info({ task: job.kind, count }, 'maintenance');
}

function runLogged(handler: JobHandler, job: Job, log: JobLogger): Promise<void> {
  return runHandler(handler, job, log).catch((err: unknown) => log.error({ err, task: job.kind }, 'maintenance task failed'));
}
