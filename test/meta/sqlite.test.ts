import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { SqliteMetaStore } from '../../src/meta/sqlite/index.js';
import { runMetaStoreConformance, sampleUpload } from './conformance.js';

runMetaStoreConformance('SQLite (in memory)', { create: async () => new SqliteMetaStore(':memory:') });

it('SQLite keeps records across reopening the file, and migrates once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sqlite-'));
  try {
    const path = join(dir, 'nested', 'ferry.db');
    const upload = sampleUpload();
    const first = new SqliteMetaStore(path);
    await first.uploads.insert(upload);
    await first.uploads.update(upload.id, { offset: 77 });
    await first.close();
    const second = new SqliteMetaStore(path);
    assert.equal((await second.uploads.get(upload.id))?.offset, 77);
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
