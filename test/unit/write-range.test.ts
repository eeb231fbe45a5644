import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { FerryError, isFerryError } from '../../src/core/errors.js';
import { writeRange } from '../../src/core/write-range.js';
import type { BlobStore, BlobWriter, PositionalWrites } from '../../src/storage/types.js';

/** A store that writes in place and records what its writers are asked to do. */
function recordingStore(events: string[]): BlobStore & PositionalWrites {
  const writer: BlobWriter = {
    write: async () => { events.push('write'); },
    sync: async () => { events.push('sync'); },
    close: async () => { events.push('close'); },
  };
  return {
    create: async () => undefined,
    openWriter: async () => writer,
    openWriterAt: async () => writer,
    length: async () => 0,
    truncate: async () => undefined,
    ping: async () => undefined,
  };
}

/** A range of `length` bytes under a lock, its first 1 KiB already streaming into a recording store. */
async function rangeUnderLock(length: number) {
  const events: string[] = [];
  const body = new PassThrough();
  const lock = new AbortController();
  const writing = writeRange(recordingStore(events), 'u1', { start: 0, length, body, digests: [], letGo: lock.signal, label: 'chunk 0' });
  body.write(Buffer.alloc(1024));
  await new Promise((resolve) => setImmediate(resolve));
  return { events, body, lock, writing };
}

describe('writeRange', () => {
  it('stops at once when the lock is lost, flowing or not, and makes nothing durable', async () => {
    const { events, lock, writing } = await rangeUnderLock(4096);
    lock.abort(new FerryError('upload_locked', 'the lock could not be renewed before it would expire'));
    await assert.rejects(writing, (err: unknown) => isFerryError(err, 'upload_locked'));
    assert.deepEqual(events, ['write', 'close']);
  });

  it('lets a range that is still flowing finish when another request merely asks', async () => {
    const { events, body, lock, writing } = await rangeUnderLock(2048);
    lock.abort();
    body.end(Buffer.alloc(1024));
    await writing;
    assert.deepEqual(events, ['write', 'write', 'sync', 'close']);
  });
});
