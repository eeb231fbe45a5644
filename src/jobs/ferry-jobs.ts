import type { JobKindOptions, JobQueue } from './queue.js';

/** The background jobs Ferry has: four sweeps and the outbox delivery pass. */
export const FERRY_JOBS = {
  expiredUploads: 'expired-uploads',
  unreferencedBytes: 'unreferenced-bytes',
  digests: 'digests',
  expiredTokens: 'expired-tokens',
  deliveries: 'deliveries',
} as const;

export type FerryJobKind = (typeof FERRY_JOBS)[keyof typeof FERRY_JOBS];

/** Each of them is "do a pass over what is due": one pending pass stands for any number. */
export const FERRY_JOB_KINDS: Readonly<Record<FerryJobKind, JobKindOptions>> = {
  'expired-uploads': { coalesce: true },
  'unreferenced-bytes': { coalesce: true },
  digests: { coalesce: true },
  'expired-tokens': { coalesce: true },
  deliveries: { coalesce: true },
};

export interface FerryJobSchedule {
  /** The sweeps (expired uploads and tokens, unreferenced bytes, digests). */
  readonly sweepEveryMs: number;
  /** Failed deliveries come due on their own schedule: the outbox is looked at often, and cheaply. */
  readonly deliveryEveryMs: number;
}

/** Makes this node run Ferry's jobs: consumes every kind and schedules the periodic passes. */
export function runFerryJobs(queue: JobQueue, passes: Readonly<Record<FerryJobKind, () => Promise<number>>>, schedule: FerryJobSchedule): void {
  for (const kind of Object.keys(passes) as FerryJobKind[]) {
    queue.consume(kind, () => passes[kind]());
    queue.schedule(kind, kind === FERRY_JOBS.deliveries ? schedule.deliveryEveryMs : schedule.sweepEveryMs);
  }
}
