import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newUploadId } from '../../src/core/upload.js';
import { DIRECT_WRITERS_MAX, DirectWriter } from '../../src/storage/direct-io.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { randomData } from '../helpers/core.js';

/** Pieces of random sizes up to `max`, as request bodies arrive over a network. */
function pieces(data: Buffer, max: number, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < data.length;) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (state % max);
    out.push(data.subarray(at, at + size));
    at += size;
  }
  return out;
}

describe('local storage writing directly to the disk', () => {
  let root: string;
  let store: LocalBlobStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ferry-direct-'));
    store = new LocalBlobStore(root);
  });
  after(async () => { await rm(root, { recursive: true, force: true }); });

  it('is used on this machine\'s temporary directory (ext4 takes direct writes)', async () => {
    assert.equal(await store.writesDirectly(), true);
  });

  it('stores every byte, whatever the pieces, syncs, early flushes and resumptions at unaligned offsets', async () => {
    const id = newUploadId();
    const data = randomData(5 * 1024 * 1024 + 777);
    await store.create(id);
    // Requests end (sync + close) at offsets on no block boundary, then the next resumes there.
    const ends = [1, 4095, 4097, 300_001, 1_234_567, 1_234_567 + 262_144, data.length];
    let offset = 0;
    for (const [index, end] of ends.entries()) {
      const writer = await store.openWriter(id, offset);
      assert.ok(writer instanceof DirectWriter, 'a lone writer writes directly');
      const body = pieces(data.subarray(offset, end), 200_000, index + 1);
      const syncs: Promise<void>[] = [];
      for (const [at, piece] of body.entries()) {
        await writer.write([piece]);
        // As a checkpoint and a flush ahead do: they run while the next writes come.
        if (at % 7 === 3) syncs.push(writer.sync());
        if (at % 5 === 1) syncs.push(writer.flushAhead!());
      }
      await Promise.all(syncs);
      await writer.sync();
      await writer.close();
      assert.equal(await store.length(id), end);
      offset = end;
    }
    assert.deepEqual(await readFile(join(root, id.slice(0, 2), id)), data);
  });

  it('keeps neighbouring ranges written at the same time, the blocks they share included', async () => {
    const id = newUploadId();
    const data = randomData(3 * 1024 * 1024 + 5);
    await store.create(id);
    const bounds = [0, 1000, 300_001, 1_048_576, 1_800_123, data.length];
    const writers = await Promise.all(bounds.slice(0, -1).map((start) => store.openWriterAt(id, start)));
    // One writer more than write directly at once: the last goes through the page cache, beside them.
    assert.equal(writers.filter((writer) => writer instanceof DirectWriter).length, DIRECT_WRITERS_MAX);
    const bodies = writers.map((_, index) => pieces(data.subarray(bounds[index], bounds[index + 1]), 70_000, index + 11));
    // Interleave the ranges piece by piece, every writer with a write in flight at once.
    for (let step = 0; bodies.some((body) => step < body.length); step++) {
      await Promise.all(writers.map((writer, index) => (step < bodies[index]!.length ? writer.write([bodies[index]![step]!]) : undefined)));
    }
    await Promise.all(writers.map(async (writer) => { await writer.sync(); await writer.close(); }));
    assert.deepEqual(await readFile(join(root, id.slice(0, 2), id)), data);
  });

  it('never writes over the bytes before its offset, however its first block fills across syncs', async () => {
    const id = newUploadId();
    const data = randomData(3 * 1024 * 1024 + 77);
    await store.create(id);
    const neighbour = await store.openWriterAt(id, 0);
    await neighbour.write([data.subarray(0, 1000)]);
    await neighbour.sync();
    await neighbour.close();
    const writer = await store.openWriterAt(id, 1000);
    assert.ok(writer instanceof DirectWriter);
    // Its first block holds the neighbour's bytes: synced while it holds 500 bytes of its own, then
    // 3000 more (still in that block), then on past several batches.
    await writer.write([data.subarray(1000, 1500)]);
    await writer.sync();
    await writer.write([data.subarray(1500, 4500)]);
    await writer.sync();
    for (const piece of pieces(data.subarray(4500), 65_536, 7)) await writer.write([piece]);
    await writer.sync();
    await writer.close();
    assert.deepEqual(await readFile(join(root, id.slice(0, 2), id)), data);
  });

  it('discards what a new writer is opened past, direct blocks included', async () => {
    const id = newUploadId();
    const data = randomData(1024 * 1024);
    await store.create(id);
    const first = await store.openWriter(id, 0);
    await first.write([data]);
    await first.sync();
    await first.close();
    const second = await store.openWriter(id, 10_000);
    const tail = randomData(600_000);
    await second.write([tail]);
    await second.sync();
    await second.close();
    assert.deepEqual(await readFile(join(root, id.slice(0, 2), id)), Buffer.concat([data.subarray(0, 10_000), tail]));
  });
});
