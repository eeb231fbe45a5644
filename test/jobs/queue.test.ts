/**
 * The job queues: the in-process one (the embedded setup), and RabbitMQ's against the real broker:
 * jobs cross nodes, failures are retried and then dead-lettered, one node schedules, and a lost
 * or absent broker is waited out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AmqpJobQueue, type AmqpJobQueueOptions } from '../../src/jobs/amqp.js';
import { InProcessJobQueue, type Job } from '../../src/jobs/queue.js';
import { freePort } from '../helpers/process-server.js';
import { AMQP_URL, TestLog, cutConnection, deleteQueues, drain, sleep, uniquePrefix, until } from './amqp-helpers.js';

describe('in-process job queue', () => {
  it('runs a coalescing kind at most once at a time, and once more for any publishes during a run', async () => {
    const queue = new InProcessJobQueue(new TestLog(), { pass: { coalesce: true } });
    let runs = 0;
    let active = 0;
    let most = 0;
    queue.consume('pass', async () => {
      runs += 1;
      active += 1;
      most = Math.max(most, active);
      await sleep(30);
      active -= 1;
      return 0;
    });
    for (let i = 0; i < 5; i += 1) void queue.publish({ kind: 'pass' });
    await until(() => runs === 2 && active === 0, 'two runs');
    await sleep(60);
    assert.equal(runs, 2);
    assert.equal(most, 1);
    await queue.close();
  });

  it('logs a failure and carries on; a kind nobody consumes is dropped', async () => {
    const log = new TestLog();
    const queue = new InProcessJobQueue(log);
    const seen: unknown[] = [];
    queue.consume('work', async (job) => {
      if (job.payload === 'bad') throw new Error('boom');
      seen.push(job.payload);
    });
    await queue.publish({ kind: 'work', payload: 'bad' });
    await queue.publish({ kind: 'work', payload: 'good' });
    await queue.publish({ kind: 'nobody', payload: 1 });
    await until(() => seen.length === 1, 'the good job');
    assert.ok(log.lines.some((line) => line.level === 'error' && line.msg === 'maintenance task failed'));
    await queue.close();
  });
});

describe('RabbitMQ job queue', () => {
  const kinds = ['work', 'pass'];
  function open(prefix: string, extra: Partial<AmqpJobQueueOptions> = {}): AmqpJobQueue {
    return AmqpJobQueue.start({ url: AMQP_URL, prefix, log: new TestLog(), kinds: { pass: { coalesce: true } }, reconnectMinMs: 50, reconnectMaxMs: 500, ...extra });
  }

  it('delivers a job published on one node to a consumer on another, persistent and acknowledged', async () => {
    const prefix = uniquePrefix();
    const api = open(prefix);
    const worker = open(prefix);
    try {
      await Promise.all([api.whenConnected(), worker.whenConnected()]);
      const received: Job[] = [];
      worker.consume('work', async (job) => { received.push(job); });
      for (let i = 0; i < 5; i += 1) await api.publish({ kind: 'work', payload: { n: i } });
      await until(() => received.length === 5, 'five jobs on the worker');
      assert.deepEqual(received.map((job) => (job.payload as { n: number }).n).sort(), [0, 1, 2, 3, 4]);
      await sleep(100);
      assert.deepEqual(await drain(api.workQueue('work')), [], 'every job was acknowledged');
    } finally {
      await api.close();
      await worker.close();
      await deleteQueues(prefix, kinds);
    }
  });

  it('retries a failing job with its attempt count, then dead-letters it with the error', async () => {
    const prefix = uniquePrefix();
    const queue = open(prefix, { maxAttempts: 3, retryDelayMs: 50 });
    try {
      await queue.whenConnected();
      const attempts = new Map<string, number>();
      queue.consume('work', async (job) => {
        const id = String(job.payload);
        attempts.set(id, (attempts.get(id) ?? 0) + 1);
        if (id === 'always' || attempts.get(id)! < 2) throw new Error(`failed ${id}`);
        return 1;
      });
      await queue.publish({ kind: 'work', payload: 'always' });
      await queue.publish({ kind: 'work', payload: 'once' });
      await until(() => attempts.get('always') === 3 && attempts.get('once') === 2, 'three attempts and two');
      let dead: Awaited<ReturnType<typeof drain>> = [];
      await until(async () => (dead = dead.concat(await drain(queue.deadLetterQueue))).length > 0, 'the dead letter');
      await sleep(300);
      dead = dead.concat(await drain(queue.deadLetterQueue));
      assert.equal(dead.length, 1);
      assert.deepEqual(dead[0]!.body, { kind: 'work', payload: 'always' });
      assert.equal(dead[0]!.headers['x-ferry-attempt'], 3);
      assert.equal(dead[0]!.headers['x-ferry-kind'], 'work');
      assert.equal(dead[0]!.headers['x-ferry-error'], 'failed always');
      assert.equal(attempts.get('always'), 3, 'no attempt after the last');
      assert.equal(attempts.get('once'), 2, 'a job that succeeds on retry is done');
    } finally {
      await queue.close();
      await deleteQueues(prefix, kinds);
    }
  });

  it('schedules periodic jobs from one node only, and another takes over when it goes', async () => {
    const prefix = uniquePrefix();
    const nodes = [open(prefix, { leaderCheckMs: 100 }), open(prefix, { leaderCheckMs: 100 })];
    let runs = 0;
    try {
      await Promise.all(nodes.map((node) => node.whenConnected()));
      for (const node of nodes) {
        node.consume('pass', async () => { runs += 1; });
        node.schedule('pass', 100);
      }
      await until(() => nodes.some((node) => node.leader), 'a leader');
      await sleep(300);
      assert.equal(nodes.filter((node) => node.leader).length, 1);
      runs = 0;
      await sleep(1_000);
      // Ten ticks a second from the one scheduler; two schedulers would make about twenty.
      assert.ok(runs >= 6 && runs <= 13, `runs in a second: ${runs}`);
      const [leader, other] = nodes[0]!.leader ? [nodes[0]!, nodes[1]!] : [nodes[1]!, nodes[0]!];
      await leader.close();
      await until(() => other.leader, 'the other node to lead', 3_000);
      runs = 0;
      await sleep(500);
      assert.ok(runs >= 2, `runs after the takeover: ${runs}`);
    } finally {
      for (const node of nodes) await node.close();
      await deleteQueues(prefix, kinds);
    }
  });

  it('reconnects after its connection is cut or closed, consuming and publishing again, and sends what was held meanwhile', async () => {
    const prefix = uniquePrefix();
    const log = new TestLog();
    const queue = open(prefix, { log });
    try {
      await queue.whenConnected();
      const received: unknown[] = [];
      queue.consume('work', async (job) => { received.push(job.payload); });
      await queue.publish({ kind: 'work', payload: 'before' });
      await until(() => received.length === 1, 'the first job');

      const first = queue.connection;
      cutConnection(queue);
      // Published as the connection goes: held, and sent on the next one.
      await queue.publish({ kind: 'work', payload: 'while away' });
      await until(() => queue.connected && queue.connection !== first, 'a new connection');
      await queue.publish({ kind: 'work', payload: 'after a cut' });
      await until(() => received.length === 3, 'the held job and the next one');

      // The client side closing its connection (as an operator's close_all_connections would).
      const second = queue.connection!;
      await second.close();
      await until(() => queue.connected && queue.connection !== second, 'a new connection');
      await queue.publish({ kind: 'work', payload: 'after a close' });
      await until(() => received.length === 4, 'a job after the close');
      assert.deepEqual(received, ['before', 'while away', 'after a cut', 'after a close']);
      assert.ok(log.lines.some((line) => line.msg === 'lost the job broker; reconnecting'));
    } finally {
      await queue.close();
      await deleteQueues(prefix, kinds);
    }
  });

  it('starts without a broker, holds jobs, and never throws', async () => {
    const log = new TestLog();
    const queue = AmqpJobQueue.start({ url: `amqp://guest:guest@127.0.0.1:${await freePort()}`, prefix: uniquePrefix(), log, reconnectMinMs: 20, reconnectMaxMs: 50 });
    queue.consume('work', async () => undefined);
    queue.schedule('pass', 20);
    await queue.publish({ kind: 'work' });
    await sleep(300);
    assert.equal(queue.connected, false);
    assert.ok(log.lines.filter((line) => line.msg === 'job broker unavailable').length >= 3, 'it kept trying');
    await queue.close();
  });
});
