/**
 * Tiering from local disk to a real Ceph RGW: completed blobs are copied, verified and repointed by
 * BlobTiering, downloads follow them, and nothing is lost whatever fails or races with a transfer:
 * a copy cut part-way, a copy that reads back wrong, a damaged source, a file deleted mid-copy, two
 * transfers at once, a sweep during a transfer. The last part runs a whole server with the jobs
 * going through RabbitMQ.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { BlobStores } from '../../src/core/blob-stores.js';
import { UPLOAD_STORE, type StoredFile } from '../../src/core/file.js';
import { LibraryService } from '../../src/core/library.js';
import { BlobTiering, type BlobTransfer } from '../../src/core/tiering.js';
import { FERRY_JOB_KINDS } from '../../src/jobs/ferry-jobs.js';
import { MemoryLocker } from '../../src/locks/memory.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/index.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { S3BlobStore } from '../../src/storage/s3/store.js';
import type { BlobWriter } from '../../src/storage/types.js';
import { downloadSha256, sleep } from '../helpers/e2e.js';
import { send } from '../helpers/http-client.js';
import { tusUpload } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { AMQP_URL, deleteQueues, uniquePrefix } from '../jobs/amqp-helpers.js';
import { completionOf, insertUser, sampleFile, sampleUpload } from '../meta/conformance-fixtures.js';
import { appendBlob } from './blob-io.js';
import { cephS3, type CephS3 } from './s3-ceph.js';

const MiB = 1024 * 1024;
const TIER = 's3';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let s3: CephS3;
before(async () => { s3 = await cephS3(); });
after(async () => { await s3?.dispose(); });

type WriterHook = (writer: BlobWriter, chunks: readonly Buffer[], written: number) => Promise<readonly Buffer[]>;

/** The real S3 store, with a hook between the copy and each write (to cut, damage or pause it). */
class HookedS3 extends S3BlobStore {
  hook: WriterHook | null = null;

  override async openWriter(id: string, offset: number): Promise<BlobWriter> {
    const writer = await super.openWriter(id, offset);
    let written = 0;
    return {
      write: async (chunks) => {
        const passed = this.hook ? await this.hook(writer, chunks, written) : chunks;
        written += chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        return writer.write(passed);
      },
      sync: () => writer.sync(),
      close: () => writer.close(),
      ...(writer.flushAhead ? { flushAhead: () => writer.flushAhead!() } : {}),
    };
  }
}

describe('BlobTiering: local disk to Ceph S3', () => {
  let dir: string;
  let meta: SqliteMetaStore;
  let local: LocalBlobStore;
  let tier: HookedS3;
  let library: LibraryService;
  let tiering: BlobTiering;
  let prefix: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-tiering-'));
    meta = new SqliteMetaStore(join(dir, 'ferry.db'));
    local = new LocalBlobStore(join(dir, 'blobs'));
    prefix = `tiering-${randomBytes(4).toString('hex')}/`;
    tier = new HookedS3(s3.api, { prefix });
    const stores = new BlobStores(local, { [TIER]: tier });
    const locker = new MemoryLocker();
    library = new LibraryService({ stores, meta, locker });
    // No grace for the old copy: the sweep may remove it as soon as the move commits.
    tiering = new BlobTiering({ meta, stores, locker, policy: { to: TIER, afterMs: 0 }, sourceGraceMs: 0 });
  });

  afterEach(async () => {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A completed upload whose bytes are on local disk, as the upload path leaves it. */
  async function storedFile(content: Buffer): Promise<{ file: StoredFile; key: string }> {
    const owner = await insertUser(meta);
    const file = sampleFile(owner.id, { size: content.length, sha256: sha256(content) });
    const upload = sampleUpload({ ownerId: owner.id, size: content.length });
    await meta.uploads.insert(upload);
    await local.create(upload.id);
    await appendBlob(local, upload.id, 0, content);
    assert.ok(await meta.library.completeUpload(completionOf(upload, file)));
    return { file, key: upload.id };
  }

  async function contentOf(file: StoredFile, range?: { start: number; end: number }): Promise<Buffer> {
    const { body } = await library.openContent({ userId: file.ownerId, tenant: 'acme' }, file.id, range);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  const onLocalDisk = (key: string) => access(join(dir, 'blobs', key.slice(0, 2), key)).then(() => true, () => false);
  const inBucket = async (key: string) => s3.leftovers(`${prefix}blobs/${key}`);

  async function onlyTransfer(): Promise<BlobTransfer> {
    const transfers = await tiering.planDue();
    assert.equal(transfers.length, 1);
    return transfers[0]!;
  }

  it('copies a completed blob, points it at the copy, serves it from there and then removes the local bytes', async () => {
    const content = randomBytes(13 * MiB + 7);
    const { file, key } = await storedFile(content);
    const transfer = await onlyTransfer();
    assert.deepEqual(transfer, { sha256: file.sha256, storageKey: key, from: UPLOAD_STORE, to: TIER });
    assert.deepEqual(await tiering.planDue(), [], 'a planned blob is not planned twice');

    assert.equal(await tiering.transfer(transfer), true);
    assert.equal((await meta.library.getBlob(file.sha256))?.store, TIER);
    assert.equal((await inBucket(key)).objects.length, 1);
    assert.deepEqual((await inBucket(key)).uploads, [], 'the multipart upload was completed');
    assert.equal(sha256(await contentOf(file)), file.sha256);
    assert.deepEqual(await contentOf(file, { start: 8 * MiB - 3, end: 8 * MiB + 2 }), content.subarray(8 * MiB - 3, 8 * MiB + 3));

    assert.equal(await onLocalDisk(key), true, 'the old copy stays until the sweep');
    assert.equal(await library.sweepUnreferenced(), 1);
    assert.equal(await onLocalDisk(key), false);
    assert.equal(sha256(await contentOf(file)), file.sha256);
    assert.deepEqual(await tiering.planDue(), []);
  });

  it('is idempotent: a transfer delivered again, or naming other bytes, changes nothing', async () => {
    const { file } = await storedFile(randomBytes(MiB));
    const transfer = await onlyTransfer();
    assert.equal(await tiering.transfer(transfer), true);
    const moved = await meta.library.getBlob(file.sha256);
    assert.equal(await tiering.transfer(transfer), false);
    assert.equal(await tiering.transfer({ ...transfer, storageKey: 'f'.repeat(32) }), false);
    assert.deepEqual(await meta.library.getBlob(file.sha256), moved);
    assert.equal(sha256(await contentOf(file)), file.sha256);
  });

  it('keeps a blob where it is when its copy is cut part-way; the sweep removes the partial copy and a retry moves it', async () => {
    const { file, key } = await storedFile(randomBytes(12 * MiB));
    const transfer = await onlyTransfer();
    tier.hook = async (_writer, chunks, written) => {
      if (written > 9 * MiB) throw new Error('connection to S3 lost');
      return chunks;
    };
    await assert.rejects(tiering.transfer(transfer), /connection to S3 lost/);
    assert.equal((await meta.library.getBlob(file.sha256))?.store, UPLOAD_STORE);
    assert.equal(sha256(await contentOf(file)), file.sha256);

    assert.equal(await library.sweepUnreferenced(), 1, 'the partial copy is dead');
    assert.deepEqual(await inBucket(key), { uploads: [], objects: [] });
    assert.equal(await onLocalDisk(key), true);

    tier.hook = null;
    assert.equal(await tiering.transfer(await onlyTransfer()), true);
    assert.equal(sha256(await contentOf(file)), file.sha256);
  });

  it('does not move a blob whose copy reads back differently', async () => {
    const { file, key } = await storedFile(randomBytes(6 * MiB));
    tier.hook = async (_writer, chunks, written) => (written === 0 ? [Buffer.concat([Buffer.from([chunks[0]![0]! ^ 1]), chunks[0]!.subarray(1)]), ...chunks.slice(1)] : chunks);
    await assert.rejects(tiering.transfer(await onlyTransfer()), /reads back differently/);
    assert.equal((await meta.library.getBlob(file.sha256))?.store, UPLOAD_STORE);
    await library.sweepUnreferenced();
    assert.deepEqual(await inBucket(key), { uploads: [], objects: [] });
    assert.equal(sha256(await contentOf(file)), file.sha256);
  });

  it('does not copy bytes that were damaged on local disk', async () => {
    const content = randomBytes(MiB);
    const { file, key } = await storedFile(content);
    const damaged = Buffer.from(content);
    damaged[1000] ^= 0xff;
    await writeFile(join(dir, 'blobs', key.slice(0, 2), key), damaged);
    await assert.rejects(tiering.transfer(await onlyTransfer()), /does not hold its content/);
    assert.equal((await meta.library.getBlob(file.sha256))?.store, UPLOAD_STORE);
  });

  it('drops the copy of a file deleted while it was copied, and the sweep removes both copies', async () => {
    const { file, key } = await storedFile(randomBytes(7 * MiB));
    const transfer = await onlyTransfer();
    tier.hook = async (_writer, chunks, written) => {
      if (written === 0) assert.equal(await meta.library.deleteFile(file.ownerId, file.id), true);
      return chunks;
    };
    assert.equal(await tiering.transfer(transfer), false);
    assert.equal(await meta.library.getBlob(file.sha256), null);
    assert.equal(await library.sweepUnreferenced(), 2);
    assert.equal(await onLocalDisk(key), false);
    assert.deepEqual(await inBucket(key), { uploads: [], objects: [] });
  });

  it('runs one copy when two transfers of a blob race, and the sweep leaves a copy in progress alone', async () => {
    const { file, key } = await storedFile(randomBytes(3 * MiB));
    const transfer = await onlyTransfer();
    let release!: () => void;
    const paused = new Promise<void>((resolve) => { release = resolve; });
    let reached!: () => void;
    const inCopy = new Promise<void>((resolve) => { reached = resolve; });
    tier.hook = async (_writer, chunks, written) => {
      if (written === 0) {
        reached();
        await paused;
      }
      return chunks;
    };
    const first = tiering.transfer(transfer);
    await inCopy;
    // The planned copy is due (the failed-copy rule), but its transfer holds the lock.
    await meta.library.planBlobCopy({ store: TIER, storageKey: key }, new Date(0));
    assert.equal(await library.sweepUnreferenced(), 0);
    assert.equal(await tiering.transfer(transfer), false, 'a second transfer does not wait for or repeat the first');
    release();
    assert.equal(await first, true);
    assert.equal((await meta.library.getBlob(file.sha256))?.store, TIER);
    assert.equal(sha256(await contentOf(file)), file.sha256);
  });
});

describe('Ferry with FERRY_TIER_STORAGE=s3 and jobs over RabbitMQ', () => {
  let server: TestServer;
  const amqpPrefix = uniquePrefix();

  before(async () => {
    const { storage: _uploadsStayLocal, ...s3Settings } = s3.config();
    server = await startTestServer({ ...s3Settings, tierStorage: 's3', tierAfterSeconds: 0, expirySweepSeconds: 1, amqpUrl: AMQP_URL, amqpPrefix });
  });
  after(async () => {
    await server?.stop();
    await deleteQueues(amqpPrefix, Object.keys(FERRY_JOB_KINDS));
  });

  it('moves completed uploads to S3 in the background and keeps serving them', async () => {
    const contents = [randomBytes(9 * MiB + 1), randomBytes(200_000)];
    const created = [];
    for (const [i, content] of contents.entries()) created.push(await tusUpload(server, content, { filename: `f${i}.bin` }));
    // The same content again: one blob, two files.
    created.push(await tusUpload(server, contents[1]!, { filename: 'again.bin' }));

    for (let waited = 0; ; waited += 200) {
      const blobs = await Promise.all(contents.map((content) => server.meta.library.getBlob(sha256(content))));
      if (blobs.every((blob) => blob?.store === TIER)) break;
      assert.ok(waited < 60_000, `blobs still not moved to S3: ${JSON.stringify(blobs.map((blob) => blob?.store))}`);
      await sleep(200);
    }
    for (const [i, upload] of created.entries()) {
      const download = await downloadSha256(upload.location);
      assert.equal(download.status, 200);
      assert.equal(download.sha256, sha256(contents[Math.min(i, 1)]!));
    }
    const ranged = await send(created[0]!.location, { headers: { Range: 'bytes=100-199' } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(ranged.body, contents[0]!.subarray(100, 200));

    const ready = await send(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.match(ready.text(), /"tier"/);
  });
});
