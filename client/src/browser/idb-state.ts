import type { SavedUpload, StateStore } from '../state.js';

const DB = 'ferry';
const STORE = 'uploads';

/**
 * Upload state in IndexedDB, so a reloaded or reopened page continues its uploads. Keys are the
 * upload task's state keys (server, name, source key; see fileSource for the browser's source key).
 */
export class IndexedDbStateStore implements StateStore {
  private db: Promise<IDBDatabase> | undefined;

  constructor(private readonly name = DB) {}

  async get(key: string): Promise<SavedUpload | undefined> {
    return (await this.run('readonly', (store) => store.get(key))) as SavedUpload | undefined;
  }

  async set(key: string, value: SavedUpload): Promise<void> {
    await this.run('readwrite', (store) => store.put(value, key));
  }

  async delete(key: string): Promise<void> {
    await this.run('readwrite', (store) => store.delete(key));
  }

  /** Every saved upload, oldest first. */
  async entries(): Promise<{ key: string; value: SavedUpload }[]> {
    const [keys, values] = await Promise.all([
      this.run('readonly', (store) => store.getAllKeys()),
      this.run('readonly', (store) => store.getAll()),
    ]);
    return (keys as IDBValidKey[])
      .map((key, index) => ({ key: String(key), value: (values as SavedUpload[])[index]! }))
      .sort((a, b) => a.value.updatedAt.localeCompare(b.value.updatedAt));
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(this.name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
    });
    return this.db;
  }

  private async run(mode: IDBTransactionMode, action: (store: IDBObjectStore) => IDBRequest): Promise<unknown> {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = action(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
      transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
    });
  }
}
