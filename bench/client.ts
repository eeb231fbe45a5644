// Upload client, run as its own process so that its CPU and memory stay out
// of the server's figures. Input: one JSON argument (ClientJob). Output: one
// JSON line (ClientResult) on stdout; exit code 0 only if every upload succeeded.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as tus from 'tus-js-client';

export interface ClientJob {
  endpoint: string;
  file: string;
  /** Byte ranges of `file`, each uploaded as its own tus upload, all started at once. */
  parts: { start: number; length: number }[];
  /** Bytes per PATCH; null means the whole upload in one PATCH. */
  chunkSize: number | null;
}

export type ClientResult =
  | { ok: true; wallMs: number; urls: string[] }
  | { ok: false; error: string };

function uploadOne(job: ClientJob, start: number, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // A path-opened fs.ReadStream makes tus-js-client re-open the file per
    // PATCH (its FileSource), so no chunk is buffered in memory and
    // chunkSize may be Infinity. Its typings do not list ReadStream.
    const source = fs.createReadStream(job.file, { start, end: start + length - 1 });
    const upload: tus.Upload = new tus.Upload(source as unknown as Buffer, {
      endpoint: job.endpoint,
      chunkSize: job.chunkSize ?? Number.POSITIVE_INFINITY,
      uploadSize: length,
      metadata: { filename: `bench-${start}.bin` },
      retryDelays: null, // a retry would hide a failure and distort the timing
      storeFingerprintForResuming: false,
      onError: (err) => reject(err),
      onSuccess: () => {
        if (upload.url === null) reject(new Error('upload finished without a URL'));
        else resolve(upload.url);
      },
    });
    upload.start();
  });
}

async function main(): Promise<ClientResult> {
  const arg = process.argv[2];
  if (arg === undefined) throw new Error('usage: client.js <json job>');
  const job = JSON.parse(arg) as ClientJob;
  const t0 = performance.now();
  const urls = await Promise.all(job.parts.map((p) => uploadOne(job, p.start, p.length)));
  return { ok: true, wallMs: performance.now() - t0, urls };
}

main()
  .catch((err: unknown): ClientResult => ({ ok: false, error: err instanceof Error ? err.message : String(err) }))
  .then((result) => {
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
  });
