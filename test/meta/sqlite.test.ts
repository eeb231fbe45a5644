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
