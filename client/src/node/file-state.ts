import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SavedUpload, StateStore } from '../state.js';

/**
 * Upload state in one small JSON file (an object of key -> state), rewritten whole through a
 * temporary file and a rename, so a crash leaves the old or the new version. Writes from one
 * process are serialized; entries older than a week are dropped (the server expires them anyway).
 */
export class FileStateStore implements StateStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string, private readonly maxAgeMs = 7 * 24 * 60 * 60 * 1000) {}

  async get(key: string): Promise<SavedUpload | undefined> {
    return (await this.read())[key];
  }

  set(key: string, value: SavedUpload): Promise<void> {
    return this.change((entries) => { entries[key] = value; });
  }

  delete(key: string): Promise<void> {
    return this.change((entries) => { delete entries[key]; });
  }

  private change(edit: (entries: Record<string, SavedUpload>) => void): Promise<void> {
    const next = this.queue.then(async () => {
      const entries = await this.read();
      edit(entries);
      const cutoff = Date.now() - this.maxAgeMs;
      for (const [key, value] of Object.entries(entries)) if (Date.parse(value.updatedAt) < cutoff) delete entries[key];
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const temporary = `${this.path}.${process.pid}.tmp`;
      await writeFile(temporary, `${JSON.stringify(entries, null, 1)}\n`, { mode: 0o600 });
      await rename(temporary, this.path);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<Record<string, SavedUpload>> {
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, SavedUpload>) : {};
    } catch {
      return {}; // absent or unreadable: start afresh, the server still has the uploads
    }
  }
}

/** `$XDG_STATE_HOME/ferry/uploads.json`, else `~/.local/state/ferry/uploads.json`. */
export function defaultStatePath(env: Readonly<Record<string, string | undefined>>, home: string): string {
  return join(env.XDG_STATE_HOME || join(home, '.local', 'state'), 'ferry', 'uploads.json');
}
