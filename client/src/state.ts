/** What is remembered of an unfinished upload, so that a rerun or a reload continues it. */
export interface SavedUpload {
  uploadId?: string;
  /** The whole file's SHA-256, once computed: a rerun need not hash again. */
  sha256?: string;
  chunkSize?: number;
  /** A tus upload's URL (its Location). */
  tusUrl?: string;
  updatedAt: string;
}

/** Where upload state lives: a JSON file in Node, IndexedDB or localStorage in a browser. */
export interface StateStore {
  get(key: string): Promise<SavedUpload | undefined>;
  set(key: string, value: SavedUpload): Promise<void>;
  delete(key: string): Promise<void>;
}

/** State kept for this process only. */
export class MemoryStateStore implements StateStore {
  readonly entries = new Map<string, SavedUpload>();
  async get(key: string) { return this.entries.get(key); }
  async set(key: string, value: SavedUpload) { this.entries.set(key, value); }
  async delete(key: string) { this.entries.delete(key); }
}
