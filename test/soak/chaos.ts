/**
 * The soak's chaos: at random intervals, SIGKILL one node (api or worker) and start it again after
 * a moment, or cut one service (PostgreSQL, Redis or RabbitMQ) at its relay for a few seconds, as
 * if it were restarted. One disruption at a time, so every one of them is survivable by design.
 */
import { sleep } from '../helpers/e2e.js';
import type { SoakCluster, Service } from './cluster.js';
import type { Random } from './random.js';

export interface ChaosCounts {
  kills: number;
  cuts: Record<Service, number>;
}

export interface ChaosOptions {
  /** Pause between two disruptions, in ms, drawn uniformly from [min, max]. */
  readonly gapMs: readonly [number, number];
  readonly log: (line: string) => void;
  readonly violation: (what: string) => void;
}

export class Chaos {
  readonly counts: ChaosCounts = { kills: 0, cuts: { postgres: 0, redis: 0, rabbitmq: 0 } };
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
      if (this.rng.chance(0.5)) await this.killOne();
      else await this.cutOne();
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
    const name = node === this.soak.worker ? 'worker' : `api ${this.soak.api.indexOf(node)}`;
    const down = this.rng.int(200, 3_000);
    this.options.log(`chaos: SIGKILL ${name} (port ${node.port}), back in ${down} ms`);
    await node.kill('SIGKILL');
    this.counts.kills += 1;
    await sleep(down);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await node.restart();
        return;
      } catch (err) {
        if (attempt === 3) {
          this.options.violation(`${name} did not start again after SIGKILL: ${(err as Error).message.slice(0, 2_000)}`);
          return;
        }
      }
    }
  }

  private async cutOne(): Promise<void> {
    const service = this.rng.pick(['postgres', 'redis', 'rabbitmq'] as const);
    const down = this.rng.int(1_000, 5_000);
    this.options.log(`chaos: cut ${service} for ${down} ms`);
    await this.soak.relays[service].cut();
    this.counts.cuts[service] += 1;
    await this.pause(down);
    await this.soak.relays[service].restore();
  }
}
