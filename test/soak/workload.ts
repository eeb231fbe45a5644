/**
 * The soak's clients: each worker loops, starting uploads of random sizes through a random protocol
 * and driving each one, attempt after attempt, until it completes, the soak ends (it is then
 * "incomplete" and resumed by the audit) or the worker gives it up on purpose (abandoned: its bytes
 * must be swept once it expires). Some uploads carry content another upload already sent, so
 * instant uploads and deduplicated completions happen under chaos too, and some completed files
 * are deleted again, so blobs lose their last reference while others gain one.
 */
import { sha256Hex, sleep } from '../helpers/e2e.js';
import { Gone, Transient, Unexpected, call, type Step } from './attempt.js';
import type { Plan, Protocol, Session, Storage, UploadRef } from './protocol.js';
import { Random, contentBytes } from './random.js';

export type UploadState = 'running' | 'completed' | 'incomplete' | 'abandoned' | 'expired' | 'lost' | 'failed';

/** What the soak remembers of an upload: no bytes (they are regenerated from the seed when needed). */
export interface UploadRecord {
  readonly label: string;
  readonly protocol: string;
  /** The label whose content this upload carries (its own, or an earlier upload's). */
  readonly contentLabel: string;
  readonly size: number;
  readonly sha256: string;
  state: UploadState;
  ref: UploadRef | null;
  attempts: number;
  /** Attempts that failed or were cut: each later attempt resumed the upload. */
  interrupted: number;
  lastProgressAt: number;
  downloadPath: string | null;
  /** Kept only while the upload can still be driven (running, or incomplete at the end). */
  session: Session | null;
  /** Completed in the audit's resume pass, after the soak ended. */
  resumedAfterEnd: boolean;
  /** Its library file was deleted after it completed. */
  deleted: boolean;
}

export interface WorkloadOptions {
  readonly seed: string;
  readonly storage: Storage;
  readonly protocols: readonly Protocol[];
  readonly maxSize: number;
  readonly expirySeconds: number;
  /** Chance that an attempt drops one of its requests mid-body. */
  readonly cutRate: number;
  /** Chance that an upload is given up after one or two attempts. */
  readonly abandonRate: number;
  /** Chance that an upload carries an earlier upload's content. */
  readonly duplicateRate: number;
  /** Chance that a completed upload's file is deleted (protocols that name the file). */
  readonly deleteRate: number;
  /** Base URL of a random api node, for each request. */
  readonly base: (rng: Random) => string;
  readonly violation: (record: UploadRecord | null, what: string) => void;
}

const MIN_SIZE = 1024;

export class Workload {
  readonly records: UploadRecord[] = [];
  private stopped = false;

  constructor(private readonly options: WorkloadOptions) {}

  /** Ends every upload's driving at its next attempt, as if the deadline had come. */
  stop(): void {
    this.stopped = true;
  }

  /** Runs `workers` clients until `deadline` (ms since the epoch). */
  async run(workers: number, deadline: number): Promise<void> {
    await Promise.all(Array.from({ length: workers }, (_, index) => this.worker(index, deadline)));
  }

  private async worker(index: number, deadline: number): Promise<void> {
    const { seed, protocols, maxSize } = this.options;
    const rng = Random.derive(seed, `worker-${index}`);
    const sent: UploadRecord[] = [];
    for (let n = 0; Date.now() < deadline && !this.stopped; n += 1) {
      const protocol = rng.pick(protocols);
      const earlier = sent.length > 0 && rng.chance(this.options.duplicateRate) ? rng.pick(sent) : null;
      const label = `w${index}-${n}`;
      const contentLabel = earlier?.contentLabel ?? label;
      const size = earlier?.size ?? rng.logInt(MIN_SIZE, maxSize);
      const data = contentBytes(seed, contentLabel, size);
      const plan: Plan = { label, protocol: protocol.name, name: `soak-${label}.bin`, data, sha256: earlier?.sha256 ?? sha256Hex(data) };
      const record: UploadRecord = {
        label, protocol: protocol.name, contentLabel, size, sha256: plan.sha256, state: 'running', ref: null, attempts: 0, interrupted: 0,
        lastProgressAt: Date.now(), downloadPath: null, session: null, resumedAfterEnd: false, deleted: false,
      };
      this.records.push(record);
      sent.push(record);
      const abandonAfter = rng.chance(this.options.abandonRate) ? rng.int(1, 2) : Infinity;
      await this.drive(record, protocol, plan, rng, { deadline, abandonAfter, cutRate: this.options.cutRate });
      if (record.state === 'completed' && rng.chance(this.options.deleteRate)) await this.deleteFile(record, rng, deadline);
    }
  }

  /** Deletes a completed upload's library file, retrying through the chaos until it is gone. */
  private async deleteFile(record: UploadRecord, rng: Random, deadline: number): Promise<void> {
    const fileId = /^\/api\/v1\/files\/([^/]+)\/content$/.exec(record.downloadPath ?? '')?.[1];
    while (fileId && Date.now() < deadline && !this.stopped) {
      try {
        await call(`${this.options.base(rng)}/api/v1/files/${fileId}`, 'delete file', { method: 'DELETE', expect: [200, 204] });
        record.deleted = true;
        return;
      } catch (err) {
        // An earlier attempt whose answer was lost may have deleted it.
        if (err instanceof Gone) {
          record.deleted = true;
          return;
        }
        if (err instanceof Unexpected || (err instanceof Transient && err.violation)) this.options.violation(record, err.message);
        if (err instanceof Unexpected) return;
        await sleep(rng.int(50, 1_000));
      }
    }
  }

  /**
   * Drives one upload until it completes or stops for one of the reasons in UploadState. Also
   * used by the audit to resume uploads left incomplete (no deadline pressure, no cuts).
   */
  async drive(record: UploadRecord, protocol: Protocol, plan: Plan, rng: Random, limits: { deadline: number; abandonAfter: number; cutRate: number }): Promise<void> {
    const { expirySeconds, storage } = this.options;
    while (record.state === 'running' || record.state === 'incomplete') {
      if (Date.now() >= limits.deadline || this.stopped) {
        record.state = 'incomplete';
        return;
      }
      const step: Step = {
        base: () => this.options.base(rng), rng, cut: rng.chance(limits.cutRate), progress: () => { record.lastProgressAt = Date.now(); },
      };
      try {
        if (!record.session) {
          record.session = await protocol.begin(plan, step, storage);
          record.ref = record.session.ref;
          record.lastProgressAt = Date.now();
          continue;
        }
        if (record.attempts >= limits.abandonAfter) {
          record.state = 'abandoned';
          record.session = null;
          return;
        }
        record.attempts += 1;
        const done = await record.session.advance(step);
        record.ref = record.session.ref;
        if (done) {
          record.state = 'completed';
          record.downloadPath = record.session.downloadPath();
          record.session = null;
        }
      } catch (err) {
        if (record.session) record.ref = record.session.ref;
        if (err instanceof Transient) {
          record.interrupted += 1;
          if (err.violation) this.options.violation(record, err.violation);
          await sleep(rng.int(50, 1_000));
          continue;
        }
        if (err instanceof Gone) {
          record.session = null;
          const idle = Date.now() - record.lastProgressAt;
          // Idle past its expiry (e.g. every attempt failed for that long): gone by the rules.
          if (idle >= expirySeconds * 1000 - 1_000) {
            record.state = 'expired';
            return;
          }
          record.state = 'lost';
          this.options.violation(record, `the upload vanished ${idle} ms after its last progress (expiry ${expirySeconds} s): ${err.message}`);
          return;
        }
        // The session stays: the audit tries once more whether the upload can still be finished.
        record.state = 'failed';
        this.options.violation(record, err instanceof Unexpected ? err.message : `soak driver error: ${(err as Error).stack ?? String(err)}`);
        return;
      }
    }
  }

  /** The bytes of an upload again, for resuming it. */
  planOf(record: UploadRecord): Plan {
    return { label: record.label, protocol: record.protocol, name: `soak-${record.label}.bin`, data: contentBytes(this.options.seed, record.contentLabel, record.size), sha256: record.sha256 };
  }
}
