import type { ClientCrypto } from './crypto.js';
import { isAbort, UploadCancelledError } from './errors.js';
import type { Transport } from './http.js';
import { eta, SpeedMeter, type UploadProgress } from './progress.js';
import type { UploadSource } from './source.js';
import type { SavedUpload, StateStore } from './state.js';
import type { FerryFile } from './types.js';

/** `native`: Ferry's chunk API (parallel chunks, instant upload). `tus`: tus 1.0, one PATCH at a time. */
export type UploadProtocol = 'native' | 'tus';

export interface UploadOptions {
  /** The file's name in the library (`/` separates folders). Default: the source's name. */
  name?: string;
  /** Media type. Default: the source's type, if any. */
  type?: string;
  /** Default `native`. */
  protocol?: UploadProtocol;
  /** Native: bytes per chunk (at least 64 KiB; default: the server's choice). tus: bytes per PATCH (default 8 MiB). */
  chunkSize?: number;
  /** Native: chunks in flight at once (default 4). tus sends one PATCH at a time. */
  parallel?: number;
  /** tus: the creation endpoint (default `/files/`, on the client's server). */
  tusEndpoint?: string;
  /** tus: send `Upload-Checksum: sha256` with each PATCH when the server offers it (default true). */
  tusChecksum?: boolean;
  /** Aborting stops the upload and keeps its state, so a later upload of the same source resumes. */
  signal?: AbortSignal;
  onProgress?: (progress: UploadProgress) => void;
}

export interface UploadResult {
  file: FerryFile;
  /** The upload's id (tus: the last segment of its URL). */
  uploadId: string;
  /** Completed from content the server already had: no bytes were sent, by this run or any earlier one. */
  instant: boolean;
  /** Whether this run continued an upload started earlier. */
  resumed: boolean;
  /** Chunks (tus: PATCH requests) and bytes this run sent and the server stored. */
  chunksSent: number;
  sentBytes: number;
}

/** What an upload needs of its client. */
export interface UploadContext {
  transport: Transport;
  crypto: ClientCrypto | undefined;
  state: StateStore;
}

/** An upload's saved state, and how to write it back (a source without a key keeps nothing). */
export interface StateHandle {
  readonly saved: SavedUpload;
  save(): Promise<void>;
}

/**
 * One upload, whatever the protocol: `start()` runs it; `pause()`, `resume()` and `cancel()`
 * control it while it runs; progress goes to `options.onProgress`. A protocol (upload.ts for the
 * native chunk API, tus.ts for tus) supplies the transfer and how to discard a cancelled upload.
 */
export abstract class UploadTask {
  private running: Promise<UploadResult> | undefined;
  /** Aborted by the caller's signal or by cancel(): ends the run. */
  protected readonly stop = new AbortController();
  /** Aborted by pause(): ends the requests in flight, which are sent again on resume(). */
  private inflight = new AbortController();
  private paused: { promise: Promise<void>; release: () => void } | undefined;
  private cancelled = false;
  protected readonly meter = new SpeedMeter();
  protected readonly progress: UploadProgress;

  constructor(
    protected readonly ctx: UploadContext,
    protected readonly source: UploadSource,
    protected readonly options: UploadOptions = {},
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

  /** Stops sending after aborting the requests in flight; resume() continues. */
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

  /** Sends the file; `state` is remembered across runs when the source has a key. */
  protected abstract transfer(state: StateHandle): Promise<UploadResult>;

  /** Deletes the cancelled upload on the server, if it got that far. */
  protected abstract discard(saved: SavedUpload): Promise<void>;

  /** Where this upload's state is kept: the server (or endpoint), the name and the source's key. */
  protected stateKey(sourceKey: string): string {
    return JSON.stringify([this.ctx.transport.baseUrl, this.name, sourceKey]);
  }

  private async run(): Promise<UploadResult> {
    const key = this.source.key === undefined ? undefined : this.stateKey(this.source.key);
    const saved: SavedUpload = (key === undefined ? undefined : await this.ctx.state.get(key)) ?? { updatedAt: new Date().toISOString() };
    const save = async () => {
      if (key === undefined) return;
      saved.updatedAt = new Date().toISOString();
      await this.ctx.state.set(key, saved);
    };
    try {
      const result = await this.transfer({ saved, save });
      if (key !== undefined) await this.ctx.state.delete(key);
      this.progress.uploadedBytes = this.source.size;
      this.report('done');
      return result;
    } catch (err) {
      if (!this.cancelled) throw err;
      await this.discard(saved).catch(() => undefined);
      if (key !== undefined) await this.ctx.state.delete(key);
      throw new UploadCancelledError();
    }
  }

  /** Waits while paused; throws once the upload is stopped. */
  protected async checkpoint(): Promise<void> {
    await this.paused?.promise;
    if (this.stop.signal.aborted) throw this.stop.signal.reason;
  }

  /** A signal for one request: aborted by stop and by pause. */
  protected requestSignal(): { signal: AbortSignal; dispose(): void } {
    return anySignal([this.stop.signal, this.inflight.signal]);
  }

  /** Whether `err` ended a request because of pause() (send it again after resume), not a failure or stop. */
  protected pausedRequest(err: unknown, signal: AbortSignal): boolean {
    return isAbort(err) && signal.aborted && !this.stop.signal.aborted;
  }

  protected report(phase: UploadProgress['phase'], measured?: number, remaining?: number): void {
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
