import { concat, fromBase64Url, hmacSha256, sha256, toBase64, toHex } from './crypto.js';
import type { SavedUpload } from './state.js';
import type { Challenge, UploadStatus } from './types.js';
import { UploadTask, type StateHandle, type UploadResult } from './upload-task.js';

export { UploadTask, type UploadContext, type UploadOptions, type UploadProtocol, type UploadResult } from './upload-task.js';

const API = '/api/v1/uploads';
const DEFAULT_PARALLEL = 4;

/**
 * One upload through the native chunk API: hash, declare (instant upload, answering a
 * proof-of-possession challenge), send the missing chunks several at a time, complete.
 */
export class NativeUpload extends UploadTask {
  protected async transfer({ saved, save }: StateHandle): Promise<UploadResult> {
    const name = this.name;
    let status: UploadStatus | undefined;
    let resumed = false;
    if (saved.uploadId) {
      status = await this.call<UploadStatus>(`${API}/${saved.uploadId}`, { accept: [404, 410] }, true);
      resumed = status !== undefined;
    }
    if (!status) {
      saved.uploadId = undefined;
      saved.sha256 ??= await this.hash();
      await save();
      const type = this.options.type ?? this.source.type;
      status = (await this.call<UploadStatus>(API, {
        method: 'POST',
        body: {
          name,
          size: this.source.size,
          ...(saved.sha256 ? { sha256: saved.sha256 } : {}),
          ...(this.options.chunkSize ? { chunkSize: this.options.chunkSize } : {}),
          ...(type ? { type } : {}),
        },
      }))!;
      saved.uploadId = status.id;
      saved.chunkSize = status.chunkSize;
      await save();
      if (status.state !== 'completed' && status.challenge) {
        this.report('proving');
        status = (await this.call<UploadStatus>(`${API}/${status.id}/proof`, { method: 'POST', body: { proof: await this.prove(status.challenge) } }))!;
      }
    }
    if (status.state === 'paused') {
      status = (await this.call<UploadStatus>(`${API}/${status.id}`, { method: 'PATCH', body: { state: 'open' } }))!;
    }

    let chunksSent = 0;
    let current: UploadStatus = status;
    for (let round = 0; current.state !== 'completed'; round += 1) {
      chunksSent += await this.sendChunks(current);
      this.report('completing');
      const completed: UploadStatus | undefined = await this.call<UploadStatus>(`${API}/${current.id}/complete`, { method: 'POST', accept: round < 2 ? [409] : [] }, true);
      // 409: chunks are missing after all (say, one was lost with a restarted server): send them.
      current = completed ?? (await this.call<UploadStatus>(`${API}/${current.id}`))!;
    }
    if (!current.file) throw new Error(`upload ${current.id} completed without a file`);
    return { file: current.file, uploadId: current.id, instant: current.instant, resumed, chunksSent, sentBytes: this.progress.sentBytes };
  }

  protected async discard(saved: SavedUpload): Promise<void> {
    if (saved.uploadId) await this.ctx.transport.request(`${API}/${saved.uploadId}`, { method: 'DELETE', accept: [404, 410] });
  }

  /** A JSON request under this upload's stop signal; with `maybe`, an accepted non-2xx status gives undefined. */
  private async call<T>(path: string, options: { method?: string; body?: unknown; accept?: number[] } = {}, maybe = false): Promise<T | undefined> {
    const response = await this.ctx.transport.request(path, { ...options, signal: this.stop.signal });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      if (maybe) return undefined;
    }
    return (await response.json()) as T;
  }

  /** The whole source's SHA-256, read as a stream; undefined when the platform gives no incremental hash. */
  private async hash(): Promise<string | undefined> {
    const crypto = this.ctx.crypto;
    if (!crypto) return undefined;
    const hash = crypto.createSha256();
    this.meter.reset();
    for await (const piece of this.source.stream(this.stop.signal)) {
      await this.checkpoint();
      await hash.update(piece);
      this.progress.hashedBytes += piece.length;
      this.report('hashing', this.progress.hashedBytes, this.source.size - this.progress.hashedBytes);
    }
    return await hash.digestHex();
  }

  /** The answer to a proof-of-possession challenge, reading only the challenged ranges. */
  private async prove(challenge: Challenge): Promise<string> {
    const parts: Uint8Array[] = [];
    for (const range of challenge.ranges) parts.push(await this.source.read(range.start, range.end + 1));
    return toHex(await hmacSha256(this.ctx.crypto, fromBase64Url(challenge.nonce), [concat(parts)]));
  }

  /** Sends the missing chunks, `parallel` at a time; returns how many were sent. */
  private async sendChunks(status: UploadStatus): Promise<number> {
    const { chunkSize, id } = status;
    const size = this.source.size;
    const length = (index: number) => Math.min(size, (index + 1) * chunkSize) - index * chunkSize;
    const queue = [...status.missing];
    this.progress.uploadedBytes = size - queue.reduce((sum, index) => sum + length(index), 0);
    this.meter.reset();
    this.report('uploading');
    let sent = 0;
    let failed = false;
    const worker = async () => {
      for (;;) {
        await this.checkpoint();
        if (failed) return;
        const index = queue.shift();
        if (index === undefined) return;
        const bytes = await this.source.read(index * chunkSize, index * chunkSize + length(index));
        const digest = `sha-256=:${toBase64(await sha256(this.ctx.crypto, bytes))}:`;
        const signal = this.requestSignal();
        try {
          const response = await this.ctx.transport.request(`${API}/${id}/chunks/${index}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/octet-stream', 'content-digest': digest },
            body: bytes,
            signal: signal.signal,
          });
          await response.body?.cancel().catch(() => undefined);
        } catch (err) {
          if (this.pausedRequest(err, signal.signal)) {
            queue.unshift(index);
            continue;
          }
          failed = true;
          throw this.stop.signal.aborted ? this.stop.signal.reason : err;
        } finally {
          signal.dispose();
        }
        sent += 1;
        this.progress.sentBytes += bytes.length;
        this.progress.uploadedBytes += bytes.length;
        this.report('uploading', this.progress.sentBytes, size - this.progress.uploadedBytes);
      }
    };
    const workers = Array.from({ length: Math.max(1, this.options.parallel ?? DEFAULT_PARALLEL) }, worker);
    const results = await Promise.allSettled(workers);
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;
    return sent;
  }
}
