import type { JobHandler, JobKindOptions, JobQueue } from './queue.js';

/** The background jobs Ferry has: the periodic passes, and one job per blob to move to another store. */
export const FERRY_JOBS = {
  expiredUploads: 'expired-uploads',
  unreferencedBytes: 'unreferenced-bytes',
  digests: 'digests',
  expiredTokens: 'expired-tokens',
  deliveries: 'deliveries',
  tiering: 'tiering',
  blobTransfer: 'blob-transfer',
} as const;

export type FerryJobKind = (typeof FERRY_JOBS)[keyof typeof FERRY_JOBS];
/** Jobs that each carry one item to handle (in their payload) rather than meaning "do a pass". */
export type FerryItemKind = typeof FERRY_JOBS.blobTransfer;
export type FerryPassKind = Exclude<FerryJobKind, FerryItemKind>;

/** A pass is "do what is due": one pending pass stands for any number. Item jobs are each their own. */
export const FERRY_JOB_KINDS: Readonly<Record<FerryJobKind, JobKindOptions>> = {
  'expired-uploads': { coalesce: true },
  'unreferenced-bytes': { coalesce: true },
  digests: { coalesce: true },
  'expired-tokens': { coalesce: true },
  deliveries: { coalesce: true },
  tiering: { coalesce: true },
  'blob-transfer': {},
};

export interface FerryJobSchedule {
  /** The sweeps (expired uploads and tokens, unreferenced bytes, digests, blobs due to move). */
  readonly sweepEveryMs: number;
  /** Failed deliveries come due on their own schedule: the outbox is looked at often, and cheaply. */
  readonly deliveryEveryMs: number;
}

/** Makes this node run Ferry's jobs: consumes every kind and schedules the periodic passes. */
export function runFerryJobs(
  queue: JobQueue,
  passes: Readonly<Record<FerryPassKind, () => Promise<number>>>,
  items: Readonly<Record<FerryItemKind, JobHandler>>,
  schedule: FerryJobSchedule,
): void {
  for (const kind of Object.keys(passes) as FerryPassKind[]) {
    queue.consume(kind, () => passes[kind]());
    queue.schedule(kind, kind === FERRY_JOBS.deliveries ? schedule.deliveryEveryMs : schedule.sweepEveryMs);
  }
  for (const kind of Object.keys(items) as FerryItemKind[]) queue.consume(kind, items[kind]);
}
