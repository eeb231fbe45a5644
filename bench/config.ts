// Shared settings and paths for the benchmark harness.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Repository root; this file runs from <root>/dist/bench/. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT_DIR = path.join(ROOT, 'bench', 'out');
export const DIST_BENCH = path.join(ROOT, 'dist', 'bench');
export const FERRY_MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export const SERVER_NAMES = ['raw', 'raw-fsync', 'tus-server', 'ferry'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export const CASE_NAMES = ['single', 'chunked', 'concurrent', 'native', 'instant', 's3'] as const;
export type CaseName = (typeof CASE_NAMES)[number];
/** Cases that upload through tus-js-client, which every server takes. */
export const TUS_CASES = ['single', 'chunked', 'concurrent'] as const satisfies readonly CaseName[];

export const CHUNKED_CHUNK = 8 * MiB;
export const CONCURRENT_UPLOADS = 64;
export const CONCURRENT_EACH_MAX = 16 * MiB;

/** native: Ferry's chunk API, chunks of this size from a shared queue over this many connections. */
export const NATIVE_CHUNK = 8 * MiB;
export const NATIVE_CONNECTIONS = 4;

/** instant: timed requests per path (after the warm-ups), the small file's size, the target. */
export const INSTANT_SAMPLES = 20;
export const INSTANT_WARMUPS = 3;
export const INSTANT_SMALL = 1 * MiB;
export const INSTANT_TARGET_MS = 50;

/**
 * s3: Ferry on S3 (Ceph RGW) against the AWS SDK's own multipart upload (@aws-sdk/lib-storage).
 * The SDK gets Ferry's part size for a declared size up to 78 GiB (src/storage/s3/plan.ts) and
 * Ferry's parts in flight (S3BlobStore's default partsInFlight) as its queueSize.
 */
export const S3_PART_SIZE = 8 * MiB;
export const S3_QUEUE_SIZE = 3;
export const S3_TARGET_RATIO = 0.8;
export const CEPH_SCRIPT = path.join(ROOT, 'scripts', 'ceph-rgw.sh');
/** `ceph-rgw.sh up` may install packages and build a cluster. */
export const CEPH_UP_TIMEOUT_MS = 10 * 60_000;

/** Upper bounds so that nothing can hang forever. */
export const READY_TIMEOUT_MS = 20_000;
export const CLIENT_TIMEOUT_MS = 30 * 60_000;
export const STOP_TIMEOUT_MS = 5_000;

export interface Settings {
  fileBytes: number;
  servers: ServerName[];
  cases: CaseName[];
  /** Rounds over all (server, case) pairs; figures are reported as medians. */
  repeat: number;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

function pickList<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...all];
  const wanted = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const w of wanted) {
    if (!(all as readonly string[]).includes(w)) throw new Error(`${name}: unknown entry "${w}" (known: ${all.join(', ')})`);
  }
  return all.filter((x) => wanted.includes(x));
}

/** Reads BENCH_FILE_MIB, BENCH_SERVERS, BENCH_CASES and BENCH_REPEAT from the environment. */
export function readSettings(): Settings {
  return {
    fileBytes: positiveInt('BENCH_FILE_MIB', 1024) * MiB,
    servers: pickList('BENCH_SERVERS', SERVER_NAMES),
    cases: pickList('BENCH_CASES', CASE_NAMES),
    repeat: Math.min(positiveInt('BENCH_REPEAT', 3), 20),
  };
}

/** Per-upload size of the concurrent case: 16 MiB, or less when the file is too small for 64 of them. */
export function concurrentEach(fileBytes: number): number {
  return Math.min(CONCURRENT_EACH_MAX, Math.floor(fileBytes / CONCURRENT_UPLOADS));
}
