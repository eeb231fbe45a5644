import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { HashFrontiers, type ChunkSource } from '../../src/core/frontier.js';

const CHUNK = 1000;

/** Chunks of `data`, of which `stored` are readable; counts the reads, like storage would see them. */
function source(data: Buffer, stored: Set<number>): ChunkSource & { reads: number[] } {
  const reads: number[] = [];
  return {
    reads,
    count: Math.ceil(data.length / CHUNK),
    isStored: async (index) => stored.has(index),
    read: async function* (index) {
      reads.push(index);
      yield data.subarray(index * CHUNK, (index + 1) * CHUNK);
    },
  };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('HashFrontiers', () => {
  it('hashes in-order chunks live and never reads them back', async () => {
    const data = randomBytes(CHUNK * 3 + 10);
    const frontiers = new HashFrontiers(10);
    const stored = new Set<number>();
    const src = source(data, stored);
    for (let index = 0; index < 4; index += 1) {
      const live = frontiers.claim('u', index);
      assert.ok(live, `chunk ${index} is at the frontier`);
      live.hash.update(data.subarray(index * CHUNK, (index + 1) * CHUNK));
      live.commit();
      stored.add(index);
    }
    assert.equal(await frontiers.digest('u', src), sha256(data));
    assert.deepEqual(src.reads, []);
  });

  it('reads back only the chunks that landed beyond the frontier, once the gap closes', async () => {
    const data = randomBytes(CHUNK * 4);
    const frontiers = new HashFrontiers(10);
    const stored = new Set([2, 3]);
    const src = source(data, stored);
    assert.equal(frontiers.claim('u', 2), null, 'chunk 2 is not next');
    assert.equal(await frontiers.advance('u', src), 0, 'chunk 0 is missing: nothing to hash yet');
    const live = frontiers.claim('u', 0)!;
    live.hash.update(data.subarray(0, CHUNK));
    live.commit();
    stored.add(0);
    assert.equal(await frontiers.advance('u', src), 1);
    stored.add(1);
    assert.equal(await frontiers.digest('u', src), sha256(data));
    assert.deepEqual(src.reads, [1, 2, 3]);
  });

  it('an abandoned live chunk leaves the hash as it was', async () => {
    const data = randomBytes(CHUNK * 2);
    const frontiers = new HashFrontiers(10);
    const stored = new Set<number>();
    const first = frontiers.claim('u', 0)!;
    first.hash.update(Buffer.from('garbage that never got stored'));
    first.abandon();
    const second = frontiers.claim('u', 0)!;
    second.hash.update(data.subarray(0, CHUNK));
    second.commit();
    stored.add(0).add(1);
    assert.equal(await frontiers.digest('u', source(data, stored)), sha256(data));
  });

  it('lets only one feeder at a time: a claim fails while the frontier is being advanced', async () => {
    const data = randomBytes(CHUNK * 2);
    const frontiers = new HashFrontiers(10);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const slow: ChunkSource = {
      count: 2,
      isStored: async () => true,
      read: async function* (index) {
        await gate;
        yield data.subarray(index * CHUNK, (index + 1) * CHUNK);
      },
    };
    const advancing = frontiers.advance('u', slow);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(frontiers.claim('u', 0), null);
    release();
    assert.equal(await advancing, 2);
    assert.equal(await frontiers.digest('u', slow), sha256(data));
  });

  it('starts over from storage after eviction or a failed read', async () => {
    const data = randomBytes(CHUNK * 2);
    const frontiers = new HashFrontiers(1);
    const live = frontiers.claim('a', 0)!;
    live.hash.update(data.subarray(0, CHUNK));
    live.commit();
    frontiers.claim('b', 0)?.abandon();
    const src = source(data, new Set([0, 1]));
    assert.equal(await frontiers.digest('a', src), sha256(data));
    assert.deepEqual(src.reads, [0, 1], 'evicted: re-read from the start');

    const broken: ChunkSource = {
      count: 1,
      isStored: async () => true,
      read: async function* () {
        yield Buffer.from('partial');
        throw new Error('disk went away');
      },
    };
    await assert.rejects(frontiers.advance('c', broken), /disk went away/);
    const good = source(data.subarray(0, CHUNK), new Set([0]));
    assert.equal(await frontiers.digest('c', good), sha256(data.subarray(0, CHUNK)));
  });
});
