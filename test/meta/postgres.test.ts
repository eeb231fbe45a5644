import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, it } from 'node:test';
import pg from 'pg';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { StoredFile } from '../../src/core/file.js';
import { LOCAL_USER } from '../../src/core/principal.js';
import { PostgresMetaStore } from '../../src/meta/postgres/index.js';
import { MIGRATIONS } from '../../src/meta/postgres/migrations.js';
import type { MetaStore } from '../../src/meta/types.js';
import { send } from '../helpers/http-client.js';
import { tusUpload } from '../helpers/http-tus.js';
import { startTestServer } from '../helpers/server.js';
import { runMetaStoreConformance, sampleUpload } from './conformance.js';
import { allDeadBlobs, completionOf, fileQuery, insertUser, sampleFile, sha256Of, storeFile, T0 } from './conformance-fixtures.js';

/** A database the tests may create schemas in; every store gets a schema of its own, dropped after. */
const DATABASE_URL = process.env.FERRY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
after(() => admin.end());

/** The database URL with a search_path, so everything the store creates lands in `schema`. */
function urlFor(schema: string, base = DATABASE_URL): string {
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function newSchema(): Promise<string> {
  const schema = `ferry_test_${randomBytes(8).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  return schema;
}

async function withSchema(work: (url: string, schema: string) => Promise<void>): Promise<void> {
  const schema = await newSchema();
  try {
    await work(urlFor(schema), schema);
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  }
}

const schemas = new WeakMap<MetaStore, string>();
runMetaStoreConformance('PostgreSQL', {
  async create() {
    const schema = await newSchema();
    const store = await PostgresMetaStore.open(urlFor(schema));
    schemas.set(store, schema);
    return store;
  },
  async dispose(store) {
    await admin.query(`DROP SCHEMA ${schemas.get(store)} CASCADE`);
  },
});

it('PostgreSQL migrates once when several nodes start on a fresh database at once', async () => {
  await withSchema(async (url, schema) => {
    const nodes = await Promise.all([1, 2, 3, 4].map(() => PostgresMetaStore.open(url)));
    try {
      const { rows } = await admin.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
      assert.deepEqual(rows.map((row) => row.version), MIGRATIONS.map((_, index) => index + 1));
      for (const node of nodes) assert.equal((await node.accounts.getUser(LOCAL_USER.userId))?.username, LOCAL_USER.username);
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
    }
  });
});

it('PostgreSQL keeps records across reopening, and migrates nothing twice', async () => {
  await withSchema(async (url) => {
    const first = await PostgresMetaStore.open(url);
    const user = await insertUser(first);
    const upload = sampleUpload({ ownerId: user.id, size: 2 ** 53 - 1, chunkSize: 1024 ** 3 });
    await first.uploads.insert(upload);
    await first.uploads.update(upload.id, { offset: 2 ** 52 });
    await first.uploads.addChunk(upload.id, 2);
    const { file } = await storeFile(first, user.id, { name: 'Ünïcode/😀.txt' });
    await first.close();

    const second = await PostgresMetaStore.open(url);
    try {
      assert.deepEqual(await second.uploads.get(upload.id), { ...upload, offset: 2 ** 52 });
      assert.deepEqual(await second.uploads.listChunks(upload.id), [2]);
      assert.deepEqual(await second.accounts.getUser(user.id), user);
      assert.deepEqual(await second.library.listFiles(user.id, fileQuery({ nameContains: 'üNÏ' })), { files: [file], total: 1 });
      assert.equal((await second.library.getBlob(file.sha256))?.refs, 1);
    } finally {
      await second.close();
    }
  });
});

/** A TCP relay to the database that the test can cut, as a network failure or a stopped server would. */
async function relay(): Promise<{ url: string; cut(): Promise<void> }> {
  const target = new URL(DATABASE_URL);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(DATABASE_URL);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    cut: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

it('PostgreSQL ping fails clearly once the server is unreachable, and opening fails the same way', async () => {
  await withSchema(async (_, schema) => {
    const link = await relay();
    const store = await PostgresMetaStore.open(urlFor(schema, link.url));
    try {
      await store.ping();
      await link.cut();
      // The first ping may still pick a pooled connection whose end it has not heard of yet; the
      // next one must find the port closed.
      await assert.rejects(store.ping(), /^Error: PostgreSQL did not answer: /);
      const port = new URL(link.url).port;
      await assert.rejects(store.ping(), { message: `PostgreSQL did not answer: connect ECONNREFUSED 127.0.0.1:${port}` });
      await assert.rejects(PostgresMetaStore.open(link.url), (err: Error) => err.message.includes('ECONNREFUSED'));
    } finally {
      await store.close();
    }
  });
});

it('PostgreSQL keeps refs consistent when two nodes complete and delete the same content at once', async () => {
  await withSchema(async (url, schema) => {
    const nodes = [await PostgresMetaStore.open(url), await PostgresMetaStore.open(url)];
    try {
      const content = sha256Of('shared by nodes');
      const owners = [await insertUser(nodes[0]!), await insertUser(nodes[1]!, { tenant: 'other' })];
      let live: StoredFile[] = [];
      const storedKeys: string[] = [];
      for (let round = 0; round < 40; round++) {
        // Each round deletes every live file while one to three new copies complete, over both
        // nodes, so the last reference often goes at the very moment another node takes one.
        const copies = [];
        for (let i = 0; i <= round % 3; i++) {
          const owner = owners[(i + round) % 2]!;
          const upload = sampleUpload({ ownerId: owner.id });
          await nodes[i % 2]!.uploads.insert(upload);
          copies.push({ upload, file: sampleFile(owner.id, { sha256: content }), instant: i === 2 });
        }
        const completions = copies.map(async ({ upload, file, instant }, i) => {
          const result = await nodes[(i + 1) % 2]!.library.completeUpload(completionOf(upload, file, instant));
          if (result && !instant) storedKeys.push(upload.id);
          return result?.file ?? null;
        });
        const deletions = live.map((file, i) => nodes[i % 2]!.library.deleteFile(file.ownerId, file.id));
        const [added, deleted] = await Promise.all([Promise.all(completions), Promise.all(deletions)]);
        assert.ok(deleted.every(Boolean), `round ${round}: every live file deletes once`);
        live = added.filter((file): file is StoredFile => file !== null);

        const { rows: [files] } = await admin.query<{ count: string }>(`SELECT count(*) FROM ${schema}.files WHERE sha256 = $1`, [content]);
        assert.equal(Number(files!.count), live.length, `round ${round}: files`);
        const blob = await nodes[round % 2]!.library.getBlob(content);
        assert.equal(blob?.refs ?? 0, live.length, `round ${round}: refs`);
        const dead = new Set(await allDeadBlobs(nodes[0]!));
        if (blob) assert.ok(!dead.has(blob.storageKey), `round ${round}: the live blob's bytes are queued for removal`);
        for (const key of storedKeys) assert.ok(dead.has(key) || blob?.storageKey === key, `round ${round}: bytes of ${key} lost track of`);
      }
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
    }
  });
});

it('PostgreSQL delivers one line of the outbox in order, one message at a time, whichever node enqueued', async () => {
  await withSchema(async (url) => {
    const nodes = [await PostgresMetaStore.open(url), await PostgresMetaStore.open(url)];
    try {
      const message = (n: number) => ({ id: `m${n}`, destination: 'https://hooks.example/x', orderingKey: 'upload-1', body: `{"n":${n}}`, createdAt: T0 });
      await Promise.all(Array.from({ length: 20 }, (_, n) => nodes[n % 2]!.outbox.enqueue([message(n)])));
      const delivered: number[] = [];
      for (;;) {
        const due = await nodes[delivered.length % 2]!.outbox.claimDue(T0, 10, 60_000);
        if (due.length === 0) break;
        assert.equal(due.length, 1, 'one message of a line at a time');
        delivered.push(due[0]!.seq);
        await nodes[delivered.length % 2]!.outbox.markDelivered(due[0]!.seq);
      }
      assert.equal(delivered.length, 20);
      assert.deepEqual(delivered, [...delivered].sort((a, b) => a - b));
      assert.deepEqual(await nodes[1]!.outbox.counts(), { pending: 0, dead: 0 });
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
    }
  });
});

it('a server with FERRY_DATABASE_URL keeps its records in PostgreSQL: a tus upload lands in the library', async () => {
  await withSchema(async (url) => {
    const server = await startTestServer({ databaseUrl: url });
    try {
      const data = randomBytes(200_000);
      await tusUpload(server, data, { filename: 'über.bin' });
      const res = await send(`${server.url}/api/v1/files?q=${encodeURIComponent('ÜBER')}`);
      assert.equal(res.status, 200, res.text());
      const list = res.json() as { files: { name: string; size: number; sha256: string }[]; total: number };
      assert.equal(list.total, 1);
      assert.deepEqual(
        list.files.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
        [{ name: 'über.bin', size: data.length, sha256: createHash('sha256').update(data).digest('hex') }],
      );
      await assert.rejects(access(join(server.dataDir, 'ferry.db')), 'no SQLite database beside the blobs');
    } finally {
      await server.stop();
    }
  });
});

it('FERRY_DATABASE_URL takes a postgres:// or postgresql:// URL, and never echoes its password', () => {
  assert.equal(loadConfig({}).databaseUrl, null);
  assert.equal(loadConfig({ FERRY_DATABASE_URL: '' }).databaseUrl, null);
  for (const url of ['postgres://ferry:secret@db:5432/ferry', 'postgresql:///ferry?host=/run/postgresql']) {
    assert.equal(loadConfig({ FERRY_DATABASE_URL: url }).databaseUrl, url);
  }
  for (const url of ['mysql://ferry:secret@db/ferry', 'db:5432', 'http://ferry:secret@db']) {
    assert.throws(
      () => loadConfig({ FERRY_DATABASE_URL: url }),
      (err: Error) => err instanceof ConfigError && err.message.includes('FERRY_DATABASE_URL') && !err.message.includes('secret'),
    );
  }
});
