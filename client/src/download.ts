import type { Transport } from './http.js';
import { backoff, sleep } from './http.js';
import { isAbort } from './errors.js';
import { eta, SpeedMeter } from './progress.js';
import type { FerryFile } from './types.js';

/** Where a download goes: Node writes a `.part` file beside the target (node/file-target.ts). */
export interface DownloadTarget {
  /** Bytes kept from an earlier, interrupted download of this file (0 for none). */
  existingBytes(file: FerryFile): Promise<number>;
  /** Starts writing at `offset`; 0 discards what was there. */
  open(offset: number): Promise<DownloadSink>;
  /** All bytes are written: check them against `file.sha256` and put them in place. */
  finish(file: FerryFile): Promise<void>;
}

export interface DownloadSink {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface DownloadProgress {
  totalBytes: number;
  receivedBytes: number;
  speed: number;
  etaSeconds: number | null;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadResult {
  file: FerryFile;
  /** Bytes taken from an earlier, interrupted download. */
  resumedFrom: number;
  /** Bytes this call received. */
  receivedBytes: number;
}

/**
 * Downloads a library file to a target, continuing a partial one with `Range` (guarded by
 * `If-Range` on the SHA-256 ETag, so changed content starts over), retrying broken transfers.
 */
export async function download(transport: Transport, id: string, target: DownloadTarget, options: DownloadOptions = {}): Promise<DownloadResult> {
  const path = `/api/v1/files/${encodeURIComponent(id)}`;
  const file = await transport.json<FerryFile>(path, { signal: options.signal });
  let offset = await target.existingBytes(file);
  if (offset > file.size) offset = 0;
  const resumedFrom = offset;
  let received = 0;
  const meter = new SpeedMeter();
  for (let attempt = 0; offset < file.size; ) {
    const response = await transport.request(`${path}/content`, {
      headers: offset > 0 ? { range: `bytes=${offset}-`, 'if-range': `"${file.sha256}"` } : {},
      signal: options.signal,
    });
    if (response.status !== 206) offset = 0;
    const sink = await target.open(offset);
    try {
      const reader = response.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await sink.write(value);
        offset += value.length;
        received += value.length;
        const speed = meter.record(received);
        options.onProgress?.({ totalBytes: file.size, receivedBytes: offset, speed, etaSeconds: eta(file.size - offset, speed) });
      }
    } catch (err) {
      if (isAbort(err) || options.signal?.aborted || attempt >= transport.retry.retries) throw err;
      await sleep(backoff(transport.retry, attempt), options.signal);
      attempt += 1;
      continue;
    } finally {
      await sink.close();
    }
    if (offset < file.size) {
      // The answer ended early without an error: ask for the rest.
      if (attempt >= transport.retry.retries) throw new Error(`the download of ${file.name} ended after ${offset} of ${file.size} bytes`);
      attempt += 1;
    }
  }
  if (file.size === 0) await (await target.open(0)).close();
  await target.finish(file);
  return { file, resumedFrom, receivedBytes: received };
}
