import { FerryApiError, FerryNetworkError } from '../../client/src/node.js';

/** 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function bar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** A failure in one line, in words a person can act on. */
export function describeError(err: unknown): string {
  if (err instanceof FerryNetworkError) return `${err.message} (is the server running?)`;
  if (err instanceof FerryApiError) {
    if (err.code === 'invalid_credentials') return 'wrong username or password';
    if (err.status === 401) return `the server refused the token (${err.message}): run \`ferry login\` again`;
    return `${err.message} (${err.status} ${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Live lines on a terminal: a block redrawn in place (at most every 100 ms), with finished lines
 * printed above it for good. Off a terminal nothing live is drawn; only `print` lines appear.
 */
export class LiveBlock {
  private shown = 0;
  private lines: string[] = [];
  private last = 0;

  constructor(private readonly out: NodeJS.WriteStream, readonly live: boolean) {}

  update(lines: string[], force = false): void {
    this.lines = lines;
    if (!this.live) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    this.redraw();
  }

  /** A permanent line above the live block. */
  print(line: string): void {
    if (!this.live) {
      this.out.write(`${line}\n`);
      return;
    }
    this.clear();
    this.out.write(`${line}\n`);
    this.redraw();
  }

  /** Removes the live block (before the final output). */
  end(): void {
    if (this.live) this.clear();
    this.lines = [];
  }

  private clear(): void {
    if (this.shown > 0) this.out.write(`\x1b[${this.shown}A`);
    for (let i = 0; i < this.shown; i += 1) this.out.write('\x1b[2K\n');
    if (this.shown > 0) this.out.write(`\x1b[${this.shown}A`);
    this.shown = 0;
  }

  private redraw(): void {
    this.clear();
    const width = this.out.columns ?? 100;
    for (const line of this.lines) this.out.write(`\x1b[2K${line.slice(0, width - 1)}\n`);
    this.shown = this.lines.length;
  }
}
