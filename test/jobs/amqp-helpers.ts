import { randomBytes } from 'node:crypto';
import { connect } from 'amqplib';
import type { JobLogger } from '../../src/jobs/queue.js';
import type { AmqpJobQueue } from '../../src/jobs/amqp.js';

/** The RabbitMQ the tests run against. */
export const AMQP_URL = process.env.FERRY_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A queue-name prefix of this test's own, so test files can run side by side on one broker. */
export function uniquePrefix(): string {
  return `ferry-test-${randomBytes(6).toString('hex')}`;
}

/** Records what a queue logs; quiet unless FERRY_TEST_LOG is set. */
export class TestLog implements JobLogger {
  readonly lines: { level: string; msg: string; obj: object }[] = [];
  info(obj: object, msg: string): void { this.push('info', obj, msg); }
  warn(obj: object, msg: string): void { this.push('warn', obj, msg); }
  error(obj: object, msg: string): void { this.push('error', obj, msg); }
  private push(level: string, obj: object, msg: string): void {
    this.lines.push({ level, msg, obj });
    if (process.env.FERRY_TEST_LOG) console.log(level, msg, obj);
  }
}

/** Removes every queue a test made under `prefix`. */
export async function deleteQueues(prefix: string, kinds: readonly string[]): Promise<void> {
  const model = await connect(AMQP_URL);
  try {
    const names = [`${prefix}.dead`, `${prefix}.scheduler`, ...kinds.flatMap((kind) => [`${prefix}.${kind}`, `${prefix}.${kind}.retry`])];
    for (const name of names) {
      const channel = await model.createChannel();
      channel.on('error', () => undefined);
      await channel.deleteQueue(name).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
  } finally {
    await model.close();
  }
}

/** Takes every message now in `queue`, acknowledging them. */
export async function drain(queue: string): Promise<{ body: unknown; headers: Record<string, unknown> }[]> {
  const model = await connect(AMQP_URL);
  try {
    const channel = await model.createChannel();
    const messages: { body: unknown; headers: Record<string, unknown> }[] = [];
    for (;;) {
      const message = await channel.get(queue);
      if (!message) return messages;
      messages.push({ body: JSON.parse(message.content.toString('utf8')), headers: (message.properties.headers ?? {}) as Record<string, unknown> });
      channel.ack(message);
    }
  } finally {
    await model.close();
  }
}

/** Cuts the queue's broker connection the way a network failure would: its socket goes, no goodbye. */
export function cutConnection(queue: AmqpJobQueue): void {
  const model = queue.connection;
  if (!model) throw new Error('the queue is not connected');
  (model.connection as unknown as { stream: { destroy(err: Error): void } }).stream.destroy(Object.assign(new Error('connection reset by test'), { code: 'ECONNRESET' }));
}

export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
