import type { UploadService } from '../core/uploads.js';

export interface Logger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Sweeps expired uploads on an interval, in this process (the embedded default). */
export function startExpirySweep(uploads: UploadService, everyMs: number, log: Logger): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    uploads
      .sweepExpired()
      .then((swept) => { if (swept > 0) log.info({ swept }, 'expired uploads removed'); })
      .catch((err: unknown) => log.error({ err }, 'expiry sweep failed'))
      .finally(() => { running = false; });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
