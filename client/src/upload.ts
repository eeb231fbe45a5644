import { concat, fromBase64Url, hmacSha256, sha256, toBase64, toHex, type ClientCrypto } from './crypto.js';
import { isAbort, UploadCancelledError } from './errors.js';
import type { Transport } from './http.js';
import { eta, SpeedMeter, type UploadProgress } from './progress.js';
import type { UploadSource } from './source.js';
import type { SavedUpload, StateStore } from './state.js';
import type { Challenge, FerryFile, UploadStatus } from './types.js';

export interface UploadOptions {
  /** The file's name in the library (`/` separates folders). Default: the source's name. */
  name?: string;
  /** Media type. Default: the source's type, if any. */
  type?: string;
  /** Bytes per chunk (at least 64 KiB). Default: the server's choice. */
  chunkSize?: number;
  /** Chunks in flight at once (default 4). */
  parallel?: number;
  /** Aborting stops the upload and keeps its state, so a later upload of the same source resumes. */
  signal?: AbortSignal;
  onProgress?: (progress: UploadProgress) => void;
}

export interface UploadResult {
  file: FerryFile;
  uploadId: string;
  /** Completed from content the server already had: no bytes were sent, by this run or any earlier one. */
  instant: boolean;
  /** Whether this run continued an upload started earlier. */
  resumed: boolean;
  /** Chunks and bytes this run sent. */
  chunksSent: number;
  sentBytes: number;
}

/** What an upload needs of its client. */
export interface UploadContext {
  transport: Transport;
  crypto: ClientCrypto | undefined;
  state: StateStore;
}

const API = '/api/v1/uploads';
const DEFAULT_PARALLEL = 4;

/**
 * One upload through the native chunk API: hash, declare (instant upload, answering a
 * proof-of-possession challenge), send the missing chunks several at a time, complete. Start it
 * with `start()`; `pause()`, `resume()` and `cancel()` control it while it runs.
 */
export class UploadTask {
  private running: Promise<UploadResult> | undefined;
  /** Aborted by the caller's signal or by cancel(): ends the run. */
  private readonly stop = new AbortController();
  /** Aborted by pause(): ends the requests in flight, which are sent again on resume(). */
  private inflight = new AbortController();
  private paused: { promise: Promise<void>; release: () => void } | undefined;
  private cancelled = false;
  private uploadId: string | undefined;
  private readonly meter = new SpeedMeter();
  private readonly progress: UploadProgress;

  constructor(
    private readonly ctx: UploadContext,
    private readonly source: UploadSource,
    private readonly options: UploadOptions = {},
  ) {
    this.progress = { phase: 'hashing', totalBytes: source.size, hashedBytes: 0, uploadedBytes: 0, sentBytes: 0, speed: 0, etaSeconds: null };
  }

  get name(): string {
    const name = this.options.name ?? this.source.name;
    if (!name) throw new TypeError('an upload needs a name: pass options.name');
    return name;
  }

  /** Runs the upload (once; later calls return the same promise). */
  start(): Promise<UploadResult> {
    if (!this.running) {
      const signal = this.options.signal;
      if (signal) {
        if (signal.aborted) this.stop.abort(signal.reason);
        else signal.addEventListener('abort', () => this.stop.abort(signal.reason), { once: true });
      }
      this.running = this.run();
    }
    return this.running;
  }

  /** Stops sending after aborting the chunks in flight; resume() continues. */
  pause(): void {
    if (this.paused) return;
    let release!: () => void;
    const promise = new Promise<void>((resolve) => { release = resolve; });
    this.paused = { promise, release };
    this.inflight.abort(new DOMException('paused', 'AbortError'));
  }

  resume(): void {
    const paused = this.paused;
    if (!paused) return;
    this.inflight = new AbortController();
    this.paused = undefined;
    paused.release();
  }

  get isPaused(): boolean {
    return this.paused !== undefined;
  }

  /** Stops the upload, deletes it on the server and forgets its state; start() rejects with UploadCancelledError. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.stop.abort(new UploadCancelledError());
    this.resume();
    if (!this.running) this.running = Promise.reject(new UploadCancelledError());
    await this.running.catch(() => undefined);
  }

  private async run(): Promise<UploadResult> {
    const name = this.name;
    const key = this.source.key === undefined ? undefined : JSON.stringify([this.ctx.transport.baseUrl, name, this.source.key]);
    try {
      return await this.upload(name, key);
    } catch (err) {
      if (!this.cancelled) throw err;
      if (this.uploadId) {
        await this.ctx.transport.request(`${API}/${this.uploadId}`, { method: 'DELETE', accept: [404, 410] }).catch(() => undefined);
      }
      if (key !== undefined) await this.ctx.state.delete(key);
      throw new UploadCancelledError();
    }
  }

  private async upload(name: string, key: string | undefined): Promise<UploadResult> {
    const saved: SavedUpload = (key === undefined ? undefined : await this.ctx.state.get(key)) ?? { updatedAt: new Date().toISOString() };
    const save = async () => {
      if (key === undefined) return;
      saved.updatedAt = new Date().toISOString();
      await this.ctx.state.set(key, saved);
    };

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
    this.uploadId = status.id;
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
    status = current;
    if (key !== undefined) await this.ctx.state.delete(key);
    this.progress.uploadedBytes = this.source.size;
    this.report('done');
    if (!status.file) throw new Error(`upload ${status.id} completed without a file`);
    return { file: status.file, uploadId: status.id, instant: status.instant, resumed, chunksSent, sentBytes: this.progress.sentBytes };
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
      if (this.stop.signal.aborted) throw this.stop.signal.reason;
      await this.paused?.promise;
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
        await this.paused?.promise;
        if (this.stop.signal.aborted) throw this.stop.signal.reason;
        if (failed) return;
        const index = queue.shift();
        if (index === undefined) return;
        const bytes = await this.source.read(index * chunkSize, index * chunkSize + length(index));
        const digest = `sha-256=:${toBase64(await sha256(this.ctx.crypto, bytes))}:`;
        const signal = anySignal([this.stop.signal, this.inflight.signal]);
        try {
          const response = await this.ctx.transport.request(`${API}/${id}/chunks/${index}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/octet-stream', 'content-digest': digest },
            body: bytes,
            signal: signal.signal,
          });
          await response.body?.cancel().catch(() => undefined);
        } catch (err) {
          if (isAbort(err) && !this.stop.signal.aborted && this.paused) {
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

  private report(phase: UploadProgress['phase'], measured?: number, remaining?: number): void {
    this.progress.phase = phase;
    if (measured !== undefined) {
      this.progress.speed = this.meter.record(measured);
      this.progress.etaSeconds = eta(remaining ?? 0, this.progress.speed);
    }
    if (phase === 'done') this.progress.etaSeconds = 0;
    this.options.onProgress?.({ ...this.progress });
  }
}

/** A signal aborted when any of `signals` is, with a way to stop listening. */
function anySignal(signals: readonly AbortSignal[]): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const listeners = signals.map((signal) => {
    const listener = () => controller.abort(signal.reason);
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener('abort', listener, { once: true });
    return () => signal.removeEventListener('abort', listener);
  });
  return { signal: controller.signal, dispose: () => listeners.forEach((remove) => remove()) };
}

