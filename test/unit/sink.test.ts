import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { receiveBody, UploadSink } from '../../src/core/sink.js';
import type { BlobWriter } from '../../src/storage/types.js';

/** A writer that keeps nothing and counts the syncs and early flushes it is asked for. */
function countingWriter(flushesAhead: boolean): BlobWriter & { syncs: number; flushes: number } {
  const writer = {
    syncs: 0,
    flushes: 0,
    write: async () => undefined,
    sync: async () => { writer.syncs += 1; },
    close: async () => undefined,
    ...(flushesAhead ? { flushAhead: async () => { writer.flushes += 1; } } : {}),
  };
  return writer;
}

async function stream(writer: BlobWriter, megabytes: number, checkpointEvery: number | null): Promise<number[]> {
  const commits: number[] = [];
  const sink = new UploadSink({
    writer, start: 0, limit: Number.MAX_SAFE_INTEGER, digests: [], checkpointEvery,
    onCheckpoint: async (offset) => { commits.push(offset); },
  });
  const piece = Buffer.alloc(1024 * 1024);
  await pipeline(Readable.from(Array.from({ length: megabytes }, () => piece)), sink);
  await sink.finish();
  return commits;
}

/** A body streaming 1 KiB into a sink under a lock, to a writer that records what it is asked to do. */
async function streamingUnderLock() {
  const events: string[] = [];
  const writer: BlobWriter = {
    write: async () => { events.push('write'); },
    sync: async () => { events.push('sync'); },
    close: async () => { events.push('close'); },
  };
  const sink = new UploadSink({ writer, start: 0, limit: Infinity, digests: [], checkpointEvery: null, onCheckpoint: async () => undefined });
  const body = new PassThrough();
  const lock = new AbortController();
  const received = receiveBody(body, sink, lock.signal);
  body.write(Buffer.alloc(1024));
  await new Promise((resolve) => setImmediate(resolve));
  return { events, body, sink, lock, received };
}

describe('UploadSink', () => {
  it('flushes ahead while a body streams in, for writers where that pays', async () => {
    const writer = countingWriter(true);
    await stream(writer, 64, null);
    assert.ok(writer.flushes >= 4, `${writer.flushes} background flushes`);
    assert.equal(writer.syncs, 1, 'only the final sync: no checkpoint was asked for');
  });

  it('syncs at checkpoints even for writers that flush ahead', async () => {
    const writer = countingWriter(true);
    const commits = await stream(writer, 64, 16 * 1024 * 1024);
    assert.ok(commits.length >= 2 && commits.length <= 4, `commits at ${commits.join(', ')}`);
    assert.equal(writer.syncs, commits.length + 1, 'every checkpoint synced, then the end');
    assert.ok(writer.flushes >= 4, `${writer.flushes} background flushes`);
  });

  it('syncs a writer that does not want it ahead only at checkpoints', async () => {
    const none = countingWriter(false);
    assert.deepEqual(await stream(none, 64, null), []);
    assert.equal(none.syncs, 1, 'only the final sync');
    const checkpoints = countingWriter(false);
    const commits = await stream(checkpoints, 64, 16 * 1024 * 1024);
    assert.ok(commits.length >= 2 && commits.length <= 4, `commits at ${commits.join(', ')}`);
    assert.equal(checkpoints.syncs, commits.length + 1, 'every sync but the final one was a checkpoint');
  });

  it('finishes with a sync that overlaps a flush ahead in flight but follows an offset commit', async () => {
    const events: string[] = [];
    let releaseFlush = (): void => undefined;
    let releaseCommit = (): void => undefined;
    const writer: BlobWriter = {
      write: async () => undefined,
      sync: async () => { events.push('sync'); },
      close: async () => { events.push('close'); },
      flushAhead: () => {
        events.push('flush');
        return new Promise((resolve) => { releaseFlush = () => { events.push('flushed'); resolve(); }; });
      },
    };
    const piece = Buffer.alloc(1024 * 1024);
    const flushing = new UploadSink({ writer, start: 0, limit: Infinity, digests: [], checkpointEvery: null, onCheckpoint: async () => undefined });
    await pipeline(Readable.from([piece, piece]), flushing);
    const finished = flushing.finish();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, ['flush', 'sync'], 'the final sync did not wait for the flush ahead');
    releaseFlush();
    await finished;
    assert.deepEqual(events, ['flush', 'sync', 'flushed', 'close']);

    events.length = 0;
    const committing = new UploadSink({
      writer: { ...writer, flushAhead: undefined }, start: 0, limit: Infinity, digests: [], checkpointEvery: 1024 * 1024,
      onCheckpoint: (offset) => {
        events.push(`commit ${offset}`);
        return new Promise((resolve) => { releaseCommit = () => { events.push('committed'); resolve(); }; });
      },
    });
    await pipeline(Readable.from([piece, piece]), committing);
    const done = committing.finish();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, ['sync', `commit ${piece.length}`], 'the final sync waits for the commit');
    releaseCommit();
    await done;
    assert.deepEqual(events, ['sync', `commit ${piece.length}`, 'committed', 'sync', 'close']);
  });

  it('makes nothing more durable once the lock is lost: the body is cut off and the writer closed unsynced', async () => {
    const { events, sink, lock, received } = await streamingUnderLock();
    lock.abort(new FerryError('upload_locked', 'the lock expired before it was renewed'));
    assert.equal(await received, true, 'the body did not end cleanly');
    assert.deepEqual(events, ['write', 'close']);
    assert.equal(sink.stored, 1024);
  });

  it('still makes what arrived durable when asked to let go', async () => {
    const { events, body, lock, received } = await streamingUnderLock();
    lock.abort();
    assert.equal(await received, true);
    assert.deepEqual(events, ['write', 'sync', 'close']);
    assert.ok(body.destroyed, "a stalled client's body is destroyed with its connection");
  });
});
