import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { LOCAL_USER } from '../../src/core/principal.js';
import { MIGRATIONS } from '../../src/meta/sqlite/migrations.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/index.js';
import type { MetaStore } from '../../src/meta/types.js';
import { runMetaStoreConformance, sampleUpload } from './conformance.js';
import { fileQuery, insertUser, storeFile } from './conformance-fixtures.js';

runMetaStoreConformance('SQLite (in memory)', { create: async () => new SqliteMetaStore(':memory:') });

// On a file, every write also waits for its WAL flush: the path a server runs.
const directories = new WeakMap<MetaStore, string>();
runMetaStoreConformance('SQLite (file)', {
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-sqlite-'));
    const store = new SqliteMetaStore(join(dir, 'ferry.db'));
    directories.set(store, dir);
    return store;
  },
  async dispose(store) {
    const dir = directories.get(store);
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});

async function withDirectory(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sqlite-'));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

it('SQLite keeps records across reopening the file, and migrates once', async () => {
  await withDirectory(async (dir) => {
    const path = join(dir, 'nested', 'ferry.db');
    const first = new SqliteMetaStore(path);
    const user = await insertUser(first);
    const upload = sampleUpload({ ownerId: user.id });
    await first.uploads.insert(upload);
    await first.uploads.update(upload.id, { offset: 77 });
    await first.uploads.addChunk(upload.id, 2);
    const { file } = await storeFile(first, user.id);
    await first.close();

    const second = new SqliteMetaStore(path);
    assert.equal((await second.uploads.get(upload.id))?.offset, 77);
    assert.deepEqual(await second.uploads.listChunks(upload.id), [2]);
    assert.deepEqual(await second.accounts.getUser(user.id), user);
    assert.deepEqual(await second.library.listFiles(user.id, fileQuery()), { files: [file], total: 1 });
    assert.equal((await second.library.getBlob(file.sha256))?.refs, 1);
    await second.close();
  });
});

/** The store's database, to fail its WAL flushes (a disk error) from outside. */
function walFlushOf(store: SqliteMetaStore): { syncWal: () => Promise<void> } {
  return (store as unknown as { sqlite: { syncWal: () => Promise<void> } }).sqlite;
}

it('SQLite: progress resolves before its flush, is kept across reopening, and a failed flush fails the next write', async () => {
  await withDirectory(async (dir) => {
    const path = join(dir, 'ferry.db');
    const first = new SqliteMetaStore(path);
    const upload = sampleUpload();
    await first.uploads.insert(upload);
    const database = walFlushOf(first);
    const realFlush = database.syncWal.bind(database);
    let release!: () => void;
    const flushing = new Promise<void>((resolve) => (release = resolve));
    database.syncWal = () => flushing.then(realFlush);
    // The WAL flush is held back, yet progress is recorded and read back.
    assert.equal((await first.uploads.recordProgress(upload.id, { offset: 300 }))?.offset, 300);
    release();
    await first.close(); // waits for the flush started by the progress
    const second = new SqliteMetaStore(path);
    assert.equal((await second.uploads.get(upload.id))?.offset, 300);

    walFlushOf(second).syncWal = () => Promise.reject(Object.assign(new Error('flush failed'), { code: 'EIO' }));
    assert.equal((await second.uploads.recordProgress(upload.id, { offset: 400 }))?.offset, 400);
    delete (walFlushOf(second) as Partial<{ syncWal: unknown }>).syncWal; // the prototype's again
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(second.uploads.update(upload.id, { offset: 500 }), /flush failed/);
    // Reported once: the writes after it are durable again.
    assert.equal((await second.uploads.update(upload.id, { offset: 600 }))?.offset, 600);
    await second.close();
  });
});

it('SQLite gives uploads from before owners to the local user', async () => {
  await withDirectory(async (dir) => {
    const path = join(dir, 'ferry.db');
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)');
    old.exec(MIGRATIONS[0]!);
    old.prepare('INSERT INTO schema_migrations (version) VALUES (1)').run();
    const upload = sampleUpload({ sha256: 'cd'.repeat(32), state: 'completed', offset: 1000, completedAt: new Date(0), expiresAt: null });
    old.prepare('INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      upload.id, upload.size, upload.offset, JSON.stringify(upload.metadata), upload.state, null,
      upload.createdAt.getTime(), null, 0, upload.sha256,
    );
    old.close();

    const store = new SqliteMetaStore(path);
    try {
      assert.deepEqual(await store.uploads.get(upload.id), { ...upload, ownerId: LOCAL_USER.userId });
      assert.equal((await store.accounts.getUser(LOCAL_USER.userId))?.username, 'local');
    } finally {
      await store.close();
    }
  });
});
