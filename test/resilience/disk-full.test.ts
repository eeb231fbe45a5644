/**
 * The data disk filling up for real: Ferry runs on a small tmpfs. Requests that hit the full disk
 * answer 507 in their protocol's format; the offset claims only bytes that are on disk and equal
 * the client's; once space is freed (a file deleted through the API, its bytes removed by the
 * maintenance job) the uploads resume and complete with the right SHA-256. SQLite on a full disk
 * answers 507 too, and nothing it held before is lost.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { send, type HttpResult } from '../helpers/http-client.js';
import { draft, metadataHeader, TUS, tusCreate, tusOffset, tusPatch, tusUpload } from '../helpers/http-tus.js';
import { NativeClient, chunkOf, sha256Hex } from '../helpers/native-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
const DATABASE_URL = process.env.FERRY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A tmpfs of `size` mounted on a fresh directory; null with the reason when mounting is refused. */
async function mountTmpfs(size: string): Promise<{ dir: string; unmount(): Promise<void> } | { refused: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    await rmdir(dir);
    return { refused: `cannot mount a tmpfs (needs root): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
  }
  return {
    dir,
    unmount: async () => {
      execFileSync('umount', [dir]);
      await rmdir(dir);
    },
  };
}

function assertFull(res: HttpResult, label: string): void {
  assert.equal(res.status, 507, `${label}: ${res.status} ${res.text()}`);
  assert.equal((res.json() as { error: { code: string } }).error.code, 'storage_full', label);
}

/** Fills the file system holding `path` to the last page with a file of its own. */
async function fill(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (const size of [MiB, 4096]) {
      const block = Buffer.alloc(size, 0xab);
      for (;;) {
        try {
          await handle.write(block);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    await handle.close();
  }
}

function skipUnless(mount: Awaited<ReturnType<typeof mountTmpfs>> | undefined, t: TestContext): mount is { dir: string; unmount(): Promise<void> } {
  if (mount && 'dir' in mount) return true;
  t.skip(mount?.refused ?? 'no tmpfs');
  return false;
}

describe('the blob disk fills up (local storage on a 16 MiB tmpfs, records in PostgreSQL)', () => {
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  const schema = `ferry_full_${randomBytes(6).toString('hex')}`;
  let mount: Awaited<ReturnType<typeof mountTmpfs>> | undefined;
  let server: TestServer | undefined;

  before(async () => {
    mount = await mountTmpfs('16m');
    if (!('dir' in mount)) return;
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    server = await startTestServer({ dataDir: join(mount.dir, 'data'), databaseUrl: url.toString() });
  });
  after(async () => {
    try {
      await server?.stop();
    } finally {
      if (mount && 'dir' in mount) await mount.unmount();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('answers 507 in every protocol, keeps exactly the bytes on disk, and resumes once a deleted file frees space', async (t) => {
    if (!skipUnless(mount, t) || !server) return;
    const other = await tusUpload(server, randomBytes(5 * MiB), { filename: 'other.bin' });

    // tus: one PATCH of more than the disk has left.
    const big = randomBytes(14 * MiB);
    const upload = await tusCreate(server, { 'Upload-Length': big.length, 'Upload-Metadata': metadataHeader({ filename: 'big.bin' }) });
    const cut = await tusPatch(upload.location, 0, big);
    assertFull(cut, 'tus PATCH');
    assert.equal(cut.header('tus-resumable'), '1.0.0');
    const offset = await tusOffset(upload.location);
    assert.ok(offset > 0 && offset < big.length, `offset ${offset}`);
    const onDisk = await readFile(join(server.dataDir, 'blobs', upload.id.slice(0, 2), upload.id));
    assert.ok(onDisk.length >= offset, `the offset ${offset} claims more than the ${onDisk.length} bytes on disk`);
    assert.ok(onDisk.subarray(0, offset).equals(big.subarray(0, offset)), 'the stored prefix is the client\'s bytes');

    // The IETF draft: problem+json.
    const ietf = await send(server.endpoint, { method: 'POST', headers: draft(8, { 'Upload-Complete': '?1' }), body: randomBytes(MiB) });
    assert.equal(ietf.status, 507, ietf.text());
    assert.match(ietf.header('content-type') ?? '', /^application\/problem\+json/);
    assert.equal((ietf.json() as { code: string }).code, 'storage_full');
    const ietfLocation = new URL(ietf.header('location')!, server.endpoint).toString();
    assert.equal((await send(ietfLocation, { method: 'DELETE', headers: draft(8) })).status, 204);

    // The native chunk API: the chunk is not recorded.
    const native = new NativeClient(server.url);
    const small = randomBytes(MiB + 1000);
    const created = await native.create({ name: 'small.bin', size: small.length, chunkSize: 512 * 1024 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const chunk = await native.putChunk(created.body.id, 0, chunkOf(small, 512 * 1024, 0)) as unknown as { status: number; body: { error: { code: string } } };
    assert.equal(chunk.status, 507, JSON.stringify(chunk.body));
    assert.equal(chunk.body.error.code, 'storage_full');
    assert.deepEqual((await native.json('GET', `/api/v1/uploads/${created.body.id}`)).body.missing, [0, 1, 2]);

    // Free space the way a user would: delete a file; the maintenance job removes its bytes.
    const files = (await send(`${server.url}/api/v1/files`)).json() as { files: { id: string; name: string }[] };
    const otherFile = files.files.find((file) => file.name === 'other.bin');
    assert.ok(otherFile, `other.bin in ${JSON.stringify(files)} (upload ${other.id})`);
    assert.equal((await send(`${server.url}/api/v1/files/${otherFile.id}`, { method: 'DELETE' })).status, 204);
    assert.ok((await server.library.sweepUnreferenced()) >= 1, 'the deleted file\'s bytes are removed');

    const resumed = await tusPatch(upload.location, offset, big.subarray(offset));
    assert.equal(resumed.status, 204, resumed.text());
    const download = await send(upload.location);
    assert.equal(sha256(download.body), sha256(big));

    await native.sendChunks(created.body, small, 2, [0, 1, 2]);
    const completed = await native.complete(created.body.id);
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    assert.equal(completed.body.file?.sha256, sha256Hex(small));
  });
});

describe('SQLite on a full disk (everything on a 4 MiB tmpfs)', () => {
  let mount: Awaited<ReturnType<typeof mountTmpfs>> | undefined;
  let server: TestServer | undefined;

  before(async () => {
    mount = await mountTmpfs('4m');
    if ('dir' in mount) server = await startTestServer({ dataDir: join(mount.dir, 'data') });
  });
  after(async () => {
    try {
      await server?.stop();
    } finally {
      if (mount && 'dir' in mount) await mount.unmount();
    }
  });

  it('answers 507, never 500, while the database cannot grow, and works again with space freed', async (t) => {
    if (!skipUnless(mount, t) || !server) return;
    const kept = randomBytes(100_000);
    const keptUpload = await tusUpload(server, kept, { filename: 'kept.bin' });
    const filler = join(mount.dir, 'filler');
    await fill(filler);

    // Each creation adds a row with a few KiB of metadata; sooner or later the database must grow.
    const name = 'n'.repeat(3000);
    let full: HttpResult | null = null;
    for (let attempt = 0; attempt < 2000 && !full; attempt++) {
      const res = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': 10, 'Upload-Metadata': metadataHeader({ filename: `${name}${attempt}` }) } });
      assert.ok(res.status === 201 || res.status === 507, `attempt ${attempt}: ${res.status} ${res.text()}`);
      if (res.status === 507) full = res;
    }
    assert.ok(full, 'the database never ran out of space');
    assertFull(full, 'tus POST on a full database');

    await rm(filler);
    const after = randomBytes(50_000);
    const upload = await tusUpload(server, after, { filename: 'after.bin' });
    assert.equal(sha256((await send(upload.location)).body), sha256(after));
    assert.equal(sha256((await send(keptUpload.location)).body), sha256(kept), 'what was stored before is intact');
  });
});
