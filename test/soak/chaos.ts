/**
 * The soak's chaos: at random intervals, SIGKILL one node (api or worker) and start it again after
 * a moment, or cut one service (PostgreSQL, Redis, RabbitMQ, and the S3 store when there is one) at
 * its relay for a few seconds, as if it were restarted. One disruption at a time, so every one of them is survivable by design.
 */
import { sleep } from '../helpers/e2e.js';
import type { ProcessServer } from '../helpers/process-server.js';
import type { SoakCluster, Service } from './cluster.js';
import type { Random } from './random.js';

export interface ChaosCounts {
  kills: number;
  cuts: Partial<Record<Service, number>>;
}

export interface ChaosOptions {
  /** Pause between two disruptions, in ms, drawn uniformly from [min, max]. */
  readonly gapMs: readonly [number, number];
  readonly log: (line: string) => void;
  readonly violation: (what: string) => void;
}

export class Chaos {
  readonly counts: ChaosCounts = { kills: 0, cuts: {} };
  private running: Promise<void> | null = null;
  private stopping = false;

  constructor(private readonly soak: SoakCluster, private readonly rng: Random, private readonly options: ChaosOptions) {}

  start(): void {
    this.running = this.loop();
  }

  /** Ends the current disruption (node back up, relay restored) and stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    const [min, max] = this.options.gapMs;
    while (!this.stopping) {
      await this.pause(this.rng.int(min, max));
      if (this.stopping) break;
      try {
        await reviveCrashed(this.soak, this.options.violation);
        if (this.rng.chance(0.5)) await this.killOne();
        else await this.cutOne();
      } catch (err) {
        this.options.violation(`chaos could not go on: ${(err as Error).stack ?? String(err)}`);
      }
    }
  }

  /** Sleeps up to `ms`, waking early when stopping. */
  private async pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) await sleep(Math.min(200, until - Date.now()));
  }

  private async killOne(): Promise<void> {
    const nodes = this.soak.nodes;
    const node = this.rng.pick(nodes);
    const name = nameOf(this.soak, node);
    const down = this.rng.int(200, 3_000);
    this.options.log(`chaos: SIGKILL ${name} (port ${node.port}), back in ${down} ms`);
    await node.kill('SIGKILL');
    this.counts.kills += 1;
    await sleep(down);
    await restart(node, name, this.options.violation);
  }

  private async cutOne(): Promise<void> {
    const service = this.rng.pick(Object.keys(this.soak.relays).sort() as Service[]);
    const relay = this.soak.relays[service]!;
    const down = this.rng.int(1_000, 5_000);
    this.options.log(`chaos: cut ${service} for ${down} ms`);
    await relay.cut();
    this.counts.cuts[service] = (this.counts.cuts[service] ?? 0) + 1;
    await this.pause(down);
    await relay.restore();
  }
}

function nameOf(soak: SoakCluster, node: ProcessServer): string {
  return node === soak.worker ? 'worker' : `api ${soak.api.indexOf(node)}`;
}

async function restart(node: ProcessServer, name: string, violation: (what: string) => void): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await node.restart();
      return;
    } catch (err) {
      if (attempt === 3) {
        violation(`${name} did not start again: ${(err as Error).message.slice(0, 2_000)}`);
        return;
      }
    }
  }
}

/**
 * Nodes are only ever down between the chaos's SIGKILL and its restart: one found down otherwise
 * exited on its own, which is a finding (with the end of its output); it is started again.
 */
export async function reviveCrashed(soak: SoakCluster, violation: (what: string) => void): Promise<void> {
  for (const node of soak.nodes) {
    if (node.running) continue;
    const name = nameOf(soak, node);
    violation(`${name} (port ${node.port}) exited on its own; the end of its output:\n${node.output().slice(-3_000)}`);
    await restart(node, name, violation);
  }
}
