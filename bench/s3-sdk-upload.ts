// The s3 case's baseline, run as its own process: the source file sent
// straight to S3 with the AWS SDK's own multipart upload (@aws-sdk/lib-storage
// Upload), read as a stream, with Ferry's part size and parts in flight. It
// reports its wall time and its own CPU and peak RSS (a client's figures: they
// include reading the file and are not comparable to a server's), then reads
// the object back and hashes it (after the figures are taken).
// Input: one JSON argument (SdkJob). Output: one JSON line (SdkResult).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

export interface SdkJob {
  endpoint: string;
  bucket: string;
  key: string;
  accessKey: string;
  secretKey: string;
  region: string;
  file: string;
  size: number;
  partSize: number;
  queueSize: number;
}

export type SdkResult =
  | { ok: true; wallMs: number; cpuSec: number; sysSec: number; peakRssBytes: number; parts: number; stored: { sha256: string; bytes: number } }
  | { ok: false; error: string };

async function main(): Promise<SdkResult> {
  const arg = process.argv[2];
  if (arg === undefined) throw new Error('usage: s3-sdk-upload.js <json job>');
  const job = JSON.parse(arg) as SdkJob;
  // The same client settings as Ferry's (src/storage/s3/aws.ts): checksums only where required.
  const client = new S3Client({
    endpoint: job.endpoint,
    region: job.region,
    forcePathStyle: true,
    credentials: { accessKeyId: job.accessKey, secretAccessKey: job.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    let parts = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const upload = new Upload({
      client,
      params: { Bucket: job.bucket, Key: job.key, Body: fs.createReadStream(job.file, { start: 0, end: job.size - 1 }), ContentLength: job.size },
      partSize: job.partSize,
      queueSize: job.queueSize,
      leavePartsOnError: false,
    });
    upload.on('httpUploadProgress', (p) => (parts = Math.max(parts, p.part ?? 0)));
    await upload.done();
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;

    const got = await client.send(new GetObjectCommand({ Bucket: job.bucket, Key: job.key }));
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of got.Body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return {
      ok: true,
      wallMs,
      cpuSec: (cpu.user + cpu.system) / 1e6,
      sysSec: cpu.system / 1e6,
      peakRssBytes,
      parts,
      stored: { sha256: hash.digest('hex'), bytes },
    };
  } finally {
    client.destroy();
  }
}

main()
  .catch((err: unknown): SdkResult => ({ ok: false, error: err instanceof Error ? err.message : String(err) }))
  .then((result) => {
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
  });
