import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { UploadSink } from '../../src/core/sink.js';
import type { BlobWriter } from '../../src/storage/types.js';

/** A writer that keeps nothing and counts the syncs it is asked for. */
function countingWriter(syncAhead?: boolean): BlobWriter & { syncs: number } {
  const writer = {
    syncs: 0,
    syncAhead,
    write: async () => undefined,
    sync: async () => { writer.syncs += 1; },
    close: async () => undefined,
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
  await sink.settled();
  return commits;
}

describe('UploadSink', () => {
  it('flushes ahead while a body streams in, for writers where that pays', async () => {
    const writer = countingWriter();
    await stream(writer, 64, null);
    assert.ok(writer.syncs >= 4, `${writer.syncs} background syncs`);
  });

  it('syncs a writer that does not want it ahead only at checkpoints', async () => {
    const none = countingWriter(false);
    assert.deepEqual(await stream(none, 64, null), []);
    assert.equal(none.syncs, 0);
    const checkpoints = countingWriter(false);
    const commits = await stream(checkpoints, 64, 16 * 1024 * 1024);
    assert.ok(commits.length >= 2 && commits.length <= 4, `commits at ${commits.join(', ')}`);
    assert.equal(checkpoints.syncs, commits.length, 'every sync was a checkpoint');
  });
});
