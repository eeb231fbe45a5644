/** One progress report of an upload. */
export interface UploadProgress {
  phase: 'hashing' | 'proving' | 'uploading' | 'completing' | 'done';
  /** The file's size. */
  totalBytes: number;
  /** Bytes read for the SHA-256 so far (hashing phase). */
  hashedBytes: number;
  /** Bytes the server holds, including chunks stored by earlier runs. */
  uploadedBytes: number;
  /** Bytes this run has sent and the server has stored. */
  sentBytes: number;
  /** Bytes per second over the last few seconds (of hashing, then of sending). */
  speed: number;
  /** Seconds left at the current speed, or null when unknown. */
  etaSeconds: number | null;
}

/** Speed over a sliding window of samples. */
export class SpeedMeter {
  private samples: { at: number; bytes: number }[] = [];
  constructor(private readonly windowMs = 5_000, private readonly now: () => number = Date.now) {}

  reset(): void {
    this.samples = [];
  }

  /** Records the running total `bytes`; returns bytes per second. */
  record(bytes: number): number {
    const at = this.now();
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[0]!.at > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const elapsed = (at - first.at) / 1000;
    return elapsed > 0 ? (bytes - first.bytes) / elapsed : 0;
  }
}

export function eta(remaining: number, speed: number): number | null {
  if (remaining <= 0) return 0;
  return speed > 0 ? remaining / speed : null;
}
