import type { OutboxRecords, PendingDelivery } from '../meta/types.js';
import { signature } from '../hooks/signature.js';

export interface DeliveryOptions {
  /** The key that signs messages to a destination; the receiver verifies with the same secret. */
  readonly secretFor: (destination: string) => string;
  readonly timeoutMs?: number;
  /** After this many failed attempts a message is given up. */
  readonly maxAttempts?: number;
  readonly now?: () => Date;
  /** Sends one request; fetch by default (tests may stand in). */
  readonly send?: (url: string, init: RequestInit) => Promise<{ status: number }>;
}

const BATCH = 50;
const MAX_BACKOFF_MS = 60 * 60 * 1000;

/**
 * Delivers the outbox: each message is POSTed until its endpoint answers 2xx, with exponential
 * backoff between attempts; messages of one line (destination and ordering key) go one at a time,
 * in order, so a receiver sees an upload's events in the order they happened. At least once: a
 * crash after the POST and before the bookkeeping sends the message again, with the same
 * `Idempotency-Key`.
 */
export class Deliverer {
  private readonly now: () => Date;
  private readonly send: (url: string, init: RequestInit) => Promise<{ status: number }>;

  /**
   * A claim outlives the attempt it is for (the request's timeout) by a margin; it is also how
   * long the messages of a worker that died mid-attempt wait before another worker sends them.
   */
  private get leaseMs(): number {
    return (this.options.timeoutMs ?? 10_000) + 5_000;
  }

  constructor(private readonly outbox: OutboxRecords, private readonly options: DeliveryOptions) {
    this.now = options.now ?? (() => new Date());
    this.send = options.send ?? ((url, init) => fetch(url, init));
  }

  /** One pass over what is due; returns how many messages were delivered. */
  async run(): Promise<number> {
    let delivered = 0;
    for (;;) {
      const due = await this.outbox.claimDue(this.now(), BATCH, this.leaseMs);
      if (due.length === 0) return delivered;
      const results = await Promise.all(due.map((message) => this.attempt(message)));
      const succeeded = results.filter(Boolean).length;
      delivered += succeeded;
      // Whatever failed waits for its backoff; the lines it blocks wait with it.
      if (succeeded === 0) return delivered;
    }
  }

  private async attempt(message: PendingDelivery): Promise<boolean> {
    const sentAt = this.now();
    let failure: string;
    try {
      const response = await this.send(message.destination, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': message.id,
          'ferry-event-id': message.id,
          'ferry-signature': signature(this.options.secretFor(message.destination), message.body, sentAt),
        },
        body: message.body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      if (response.status >= 200 && response.status < 300) {
        await this.outbox.markDelivered(message.seq);
        return true;
      }
      failure = `answered ${response.status}`;
    } catch (err) {
      failure = (err as Error).message;
    }
    const attempts = message.attempts + 1;
    const giveUp = attempts >= (this.options.maxAttempts ?? 20);
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (attempts - 1)) * (0.8 + Math.random() * 0.4);
    await this.outbox.markFailed(message.seq, giveUp ? null : new Date(sentAt.getTime() + backoff), failure);
    return false;
  }
}
