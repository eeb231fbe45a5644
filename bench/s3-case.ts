// The s3 case: the source file uploaded to a real S3 (a single-node Ceph RGW
// from scripts/ceph-rgw.sh, objects in RAM) two ways in the same round:
//   - through Ferry (FERRY_STORAGE=s3): tus-js-client, one upload, one PATCH, as the single case;
//     server CPU and peak RSS as for every other case, checked by downloading it through Ferry;
//   - the baseline: the same bytes sent by the AWS SDK's own multipart upload (@aws-sdk/lib-storage
//     Upload) with Ferry's part size and parts in flight, from a separate process; checked by a
//     GetObject of what it stored.
// Each measurement gets a bucket of its own, emptied and deleted right after (memstore keeps
// every object in RAM). If Ceph cannot start the case is skipped with the reason.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListMultipartUploadsCommand,
  ListObjectsV2Command, S3Client,
} from '@aws-sdk/client-s3';
import { measureCase, runClient } from './case.js';
import type { ClientJob, ClientResult } from './client.js';
import { CEPH_SCRIPT, CEPH_UP_TIMEOUT_MS, GiB, MiB, S3_PART_SIZE, S3_QUEUE_SIZE, S3_TARGET_RATIO } from './config.js';
import type { Metrics, Row } from './report.js';
import type { SdkJob, SdkResult } from './s3-sdk-upload.js';
import type { SourceFile } from './source.js';
import { checkUpload } from './verify.js';

const run = promisify(execFile);

interface CephEnv {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** ceph.conf of the cluster, for `radosgw-admin gc process` after deletes; null if unknown. */
  conf: string | null;
}

/** One measurement of the SDK baseline: the client process's own figures. */
export interface SdkMetrics extends Metrics {
  parts: number;
}

export interface S3Result {
  /** Set when Ceph could not start: why. Nothing else is then set. */
  skipped: string | null;
  ferry: Row | null;
  sdk: { metrics: SdkMetrics | null; error: string | null } | null;
  /** Problems deleting the buckets afterwards (reported, not fatal). */
  cleanup: string | null;
  /** Ferry/SDK throughput of each round where both succeeded, in round order. */
  ratios: number[];
}

/** Ferry/SDK throughput of one round (the same bytes, so the inverse ratio of wall times). */
function ratioOf(r: S3Result): number | null {
  const f = r.ferry;
  const s = r.sdk;
  if (f === null || f.error !== null || f.metrics === null || s === null || s.error !== null || s.metrics === null) return null;
  return s.metrics.wallMs / f.metrics.wallMs;
}

let ceph: Promise<CephEnv | string> | null = null;

/** Brings Ceph up once per run; a string is why it could not. */
function cephUp(): Promise<CephEnv | string> {
  ceph ??= run('bash', [CEPH_SCRIPT, 'up'], { timeout: CEPH_UP_TIMEOUT_MS, maxBuffer: 16 * MiB }).then(
    ({ stdout, stderr }) => {
      const env: Record<string, string> = {};
      for (const line of stdout.split('\n')) {
        const m = /^(S3_[A-Z_]+)=(.*)$/.exec(line);
        if (m !== null) env[m[1]] = m[2];
      }
      if (!env.S3_ENDPOINT || !env.S3_ACCESS_KEY || !env.S3_SECRET_KEY) return `ceph-rgw.sh up printed no S3 settings: ${stderr.trim().slice(-300)}`;
      // The script's own default, from the same environment.
      const dir = (process.env.FERRY_CEPH_DIR || `${process.env.TMPDIR || '/tmp'}/ferry-ceph`).replace(/\/$/, '');
      return {
        endpoint: env.S3_ENDPOINT,
        accessKey: env.S3_ACCESS_KEY,
        secretKey: env.S3_SECRET_KEY,
        region: env.S3_REGION ?? 'us-east-1',
        conf: `${dir}/ceph.conf`,
      };
    },
    (err: unknown) => {
      const e = err as { stderr?: string; message?: string };
      const detail = (e.stderr ?? '').trim().split('\n').slice(-3).join(' ') || e.message || String(err);
      return `Ceph RGW could not start (scripts/ceph-rgw.sh up): ${detail}`;
    },
  );
  return ceph;
}

function clientFor(env: CephEnv): S3Client {
  return new S3Client({
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: env.accessKey, secretAccessKey: env.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function newBucket(s3: S3Client, tag: string): Promise<string> {
  const bucket = `ferry-bench-${tag}-${randomBytes(5).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Aborts every multipart upload, deletes every object and then the bucket. */
async function dropBucket(s3: S3Client, bucket: string): Promise<void> {
  for (let pass = 0; pass < 100; pass++) {
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    const objects = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    if (!uploads.Uploads?.length && !objects.Contents?.length) break;
    for (const u of uploads.Uploads ?? []) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    }
    const keys = (objects.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** RGW leaves a deleted multipart object's data to its garbage collector; run it now to give the RAM back. */
async function collectGarbage(env: CephEnv): Promise<void> {
  if (env.conf === null) return;
  await run('radosgw-admin', ['-c', env.conf, 'gc', 'process', '--include-all'], { timeout: 120_000 }).catch(() => undefined);
}

async function ferryRound(env: CephEnv, s3: S3Client, src: SourceFile, runDir: string): Promise<{ row: Row; cleanup: string | null }> {
  const bucket = await newBucket(s3, 'ferry');
  const serverEnv = {
    FERRY_STORAGE: 's3',
    FERRY_S3_ENDPOINT: env.endpoint,
    FERRY_S3_BUCKET: bucket,
    FERRY_S3_ACCESS_KEY: env.accessKey,
    FERRY_S3_SECRET_KEY: env.secretKey,
    FERRY_S3_REGION: env.region,
    FERRY_S3_FORCE_PATH_STYLE: 'true',
    FERRY_AUTH: 'none',
  };
  let row: Row;
  let cleanup: string | null = null;
  try {
    row = await measureCase('ferry', 's3', src.size, runDir, async (running) => {
      const job: ClientJob = { endpoint: running.endpoint, file: src.path, parts: [{ start: 0, length: src.size }], chunkSize: null };
      const result = await runClient<ClientResult>('client.js', job);
      if (!result.ok) throw new Error(result.error);
      return {
        wallMs: result.wallMs,
        check: async () => {
          const problem = await checkUpload({ name: 'ferry', dataDir: '', endpoint: running.endpoint }, result.urls[0], { sha256: src.sha256, length: src.size });
          return { wrong: problem === null ? [] : [problem], total: 1 };
        },
      };
    }, serverEnv);
  } finally {
    cleanup = await dropBucket(s3, bucket).then(() => null, (err: unknown) => `bucket ${bucket}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { row, cleanup };
}

async function sdkRound(env: CephEnv, s3: S3Client, src: SourceFile): Promise<{ sdk: NonNullable<S3Result['sdk']>; cleanup: string | null }> {
  const bucket = await newBucket(s3, 'sdk');
  let sdk: NonNullable<S3Result['sdk']>;
  let cleanup: string | null = null;
  try {
    const job: SdkJob = {
      endpoint: env.endpoint,
      bucket,
      key: 'bench-sdk.bin',
      accessKey: env.accessKey,
      secretKey: env.secretKey,
      region: env.region,
      file: src.path,
      size: src.size,
      partSize: S3_PART_SIZE,
      queueSize: S3_QUEUE_SIZE,
    };
    const r = await runClient<SdkResult>('s3-sdk-upload.js', job);
    if (!r.ok) sdk = { metrics: null, error: r.error };
    else {
      const metrics: SdkMetrics = { wallMs: r.wallMs, cpuSec: r.cpuSec, sysSec: r.sysSec, peakRssBytes: r.peakRssBytes, parts: r.parts };
      const wrong = r.stored.bytes !== src.size
        ? `${r.stored.bytes} bytes stored, ${src.size} sent`
        : r.stored.sha256 !== src.sha256 ? 'SHA-256 mismatch' : null;
      sdk = { metrics, error: wrong };
    }
  } finally {
    cleanup = await dropBucket(s3, bucket).then(() => null, (err: unknown) => `bucket ${bucket}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { sdk, cleanup };
}

/**
 * One round: Ferry and the SDK baseline, in an order that alternates with `round` so that
 * neither always runs on a gateway the other has just filled.
 */
export async function runS3Case(src: SourceFile, runDir: string, round: number): Promise<S3Result> {
  const env = await cephUp();
  if (typeof env === 'string') return { skipped: env, ferry: null, sdk: null, cleanup: null, ratios: [] };
  const s3 = clientFor(env);
  const result: S3Result = { skipped: null, ferry: null, sdk: null, cleanup: null, ratios: [] };
  const cleanups: string[] = [];
  try {
    const steps = [
      async () => {
        const f = await ferryRound(env, s3, src, runDir);
        result.ferry = f.row;
        if (f.cleanup) cleanups.push(f.cleanup);
      },
      async () => {
        const s = await sdkRound(env, s3, src);
        result.sdk = s.sdk;
        if (s.cleanup) cleanups.push(s.cleanup);
      },
    ];
    if (round % 2 === 0) steps.reverse();
    for (const step of steps) {
      await step();
      await collectGarbage(env);
    }
  } catch (err) {
    // A bucket could not even be made: the gateway is there but not usable.
    const message = `S3 request failed: ${err instanceof Error ? err.message : String(err)}`;
    result.ferry ??= { server: 'ferry', caseName: 's3', bytes: src.size, metrics: null, error: message };
    result.sdk ??= { metrics: null, error: message };
  } finally {
    s3.destroy();
  }
  result.cleanup = cleanups.length > 0 ? cleanups.join('; ') : null;
  const ratio = ratioOf(result);
  if (ratio !== null) result.ratios = [ratio];
  return result;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Folds the rounds into one: per-figure medians, first error wins. */
export function combineS3(rounds: S3Result[], combineRow: (rows: Row[]) => Row): S3Result {
  const skipped = rounds.find((r) => r.skipped !== null)?.skipped ?? null;
  if (skipped !== null) return { skipped, ferry: null, sdk: null, cleanup: null, ratios: [] };
  const ferry = combineRow(rounds.map((r) => r.ferry).filter((r): r is Row => r !== null));
  const sdks = rounds.map((r) => r.sdk).filter((s): s is NonNullable<S3Result['sdk']> => s !== null);
  const measured = sdks.map((s) => s.metrics).filter((m): m is SdkMetrics => m !== null);
  const failed = sdks.findIndex((s) => s.error !== null);
  const pick = (f: (m: SdkMetrics) => number): number => median(measured.map(f));
  return {
    skipped: null,
    ferry,
    sdk: {
      metrics: measured.length === 0 ? null : {
        wallMs: pick((m) => m.wallMs), cpuSec: pick((m) => m.cpuSec), sysSec: pick((m) => m.sysSec),
        peakRssBytes: pick((m) => m.peakRssBytes), parts: pick((m) => m.parts),
      },
      error: failed < 0 ? null : rounds.length > 1 ? `round ${failed + 1}: ${sdks[failed].error}` : sdks[failed].error,
    },
    cleanup: rounds.map((r) => r.cleanup).filter((c) => c !== null).join('; ') || null,
    ratios: rounds.flatMap((r) => r.ratios),
  };
}

/** One-line summary of a round, for progress output. */
export function describeS3(r: S3Result): string {
  if (r.skipped !== null) return `skipped: ${r.skipped}`;
  const parts: string[] = [];
  const f = r.ferry;
  if (f !== null) {
    parts.push(f.metrics === null || f.error !== null
      ? `ferry ${f.error ?? 'no result'}`
      : `ferry ${(f.bytes / 1e6 / (f.metrics.wallMs / 1000)).toFixed(1)} MB/s, CPU ${f.metrics.cpuSec.toFixed(2)} s, peak RSS ${(f.metrics.peakRssBytes / MiB).toFixed(1)} MiB`);
  }
  const s = r.sdk;
  if (s !== null && f !== null) {
    parts.push(s.metrics === null || s.error !== null
      ? `sdk ${s.error ?? 'no result'}`
      : `sdk ${(f.bytes / 1e6 / (s.metrics.wallMs / 1000)).toFixed(1)} MB/s, client CPU ${s.metrics.cpuSec.toFixed(2)} s`);
  }
  const ratio = ratioOf(r);
  if (ratio !== null) parts.push(`ferry/sdk ${ratio.toFixed(2)}×`);
  if (r.cleanup !== null) parts.push(`cleanup: ${r.cleanup}`);
  return parts.join('; ');
}

function escape(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 300);
}

/** The s3 section of the report. */
export function renderS3(result: S3Result | null, notRun: string | null, repeat: number): string[] {
  const head = [
    '## S3 (Ceph RGW): Ferry vs the AWS SDK\'s multipart upload',
    '',
    `- Storage: single-node Ceph RGW on 127.0.0.1 (scripts/ceph-rgw.sh, memstore: objects in RAM), a fresh bucket per upload, deleted after it`,
    `- Ferry: FERRY_STORAGE=s3, FERRY_AUTH=none; tus-js-client from a separate process, one upload, one PATCH; ` +
      `Ferry sends ${S3_PART_SIZE / MiB} MiB parts, at most ${S3_QUEUE_SIZE} in flight; checked by downloading it through Ferry (SHA-256)`,
    `- SDK: @aws-sdk/lib-storage Upload of a file ReadStream from a separate process, partSize ${S3_PART_SIZE / MiB} MiB, ` +
      `queueSize ${S3_QUEUE_SIZE} (parts in flight); checked by GetObject (SHA-256). Its CPU and peak RSS are the client process's own ` +
      '(reading the file, signing, sending): not comparable with a server\'s figures',
    `- MB/s = 10^6 bytes / client wall time, create to complete${repeat > 1 ? '; each figure is the median over the rounds' : ''}`,
    '',
  ];
  if (notRun !== null) return [...head, `s3: n/a (${notRun})`, ''];
  if (result === null) return [...head, 's3: FAIL (no result)', ''];
  if (result.skipped !== null) return [...head, `s3: skipped: ${escape(result.skipped)}`, ''];
  const f = result.ferry;
  const s = result.sdk;
  const bytes = f?.bytes ?? 0;
  const mb = (wallMs: number): number => bytes / 1e6 / (wallMs / 1000);
  const lines = [
    ...head,
    '| Uploader | MB/s | CPU s | of which sys | CPU s/GiB | Peak RSS MiB | Measured in | Check |',
    '|---|--:|--:|--:|--:|--:|---|---|',
  ];
  const sdkMb = s?.metrics ? mb(s.metrics.wallMs) : undefined;
  if (f !== null) {
    const m = f.metrics;
    const figs = m === null ? ['—', '—', '—', '—', '—'] : [
      `${mb(m.wallMs).toFixed(1)}${sdkMb ? ` (${(mb(m.wallMs) / sdkMb).toFixed(2)}×)` : ''}`,
      m.cpuSec.toFixed(2), m.sysSec.toFixed(2), (m.cpuSec / (bytes / GiB)).toFixed(2), (m.peakRssBytes / MiB).toFixed(1),
    ];
    lines.push(`| Ferry (tus, one PATCH) → S3 | ${figs.join(' | ')} | Ferry server process | ${f.error === null ? 'ok' : `FAIL: ${escape(f.error)}`} |`);
  }
  if (s !== null) {
    const m = s.metrics;
    const figs = m === null ? ['—', '—', '—', '—', '—'] : [
      `${mb(m.wallMs).toFixed(1)} (1.00×)`, m.cpuSec.toFixed(2), m.sysSec.toFixed(2), (m.cpuSec / (bytes / GiB)).toFixed(2), (m.peakRssBytes / MiB).toFixed(1),
    ];
    lines.push(`| @aws-sdk/lib-storage Upload → S3${m ? ` (${m.parts} parts)` : ''} | ${figs.join(' | ')} | SDK client process (not comparable) | ${s.error === null ? 'ok' : `FAIL: ${escape(s.error)}`} |`);
  }
  const fm = f !== null && f.error === null ? f.metrics : null;
  const ratio = fm !== null && sdkMb !== undefined && s?.error === null ? mb(fm.wallMs) / sdkMb : undefined;
  lines.push(
    '',
    'S3 target:',
    '',
    `- Ferry throughput >= ${S3_TARGET_RATIO}× the SDK's multipart upload: ${ratio === undefined
      ? 'FAIL (no result: ferry or sdk missing)'
      : `${ratio >= S3_TARGET_RATIO ? 'PASS' : 'FAIL'} (${ratio.toFixed(2)}×${result.ratios.length > 1
        ? `, medians over the rounds; round by round: ${result.ratios.map((x) => `${x.toFixed(2)}×`).join(', ')}`
        : ''})`}`,
    ...(fm !== null ? [`- Ferry peak RSS: ${(fm.peakRssBytes / MiB).toFixed(1)} MiB (reported, no target)`] : []),
    ...(result.cleanup !== null ? [`- Cleanup problems: ${escape(result.cleanup)}`] : []),
    '',
  );
  return lines;
}
