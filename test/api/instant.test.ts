import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/users.js';
import { answerChallenge, NativeClient, sha256Hex, type UploadJson } from '../helpers/native-client.js';

const CHUNK = 64 * 1024;

interface Scene {
  server: TestServer;
  alice: NativeClient;
  bob: NativeClient;
}

async function scene(overrides: Partial<Config> = {}, bobTenant = 'default'): Promise<Scene> {
  const server = await startTestServer({ auth: 'required', ...overrides });
  const alice = new NativeClient(server.url, (await createUser(server, 'alice')).auth);
  const bob = new NativeClient(server.url, (await createUser(server, 'bob', bobTenant)).auth);
  return { server, alice, bob };
}

/** Uploads `data` completely through the chunk API; returns the finished upload. */
async function upload(client: NativeClient, name: string, data: Buffer): Promise<UploadJson> {
  const { body } = await client.create({ name, size: data.length, chunkSize: CHUNK, sha256: sha256Hex(data) });
  if (body.state === 'completed') return body;
  await client.sendChunks(body, data, 3);
  return (await client.complete(body.id)).body;
}

async function blobFiles(server: TestServer): Promise<number> {
  let count = 0;
  for (const shard of await readdir(join(server.dataDir, 'blobs')).catch((): string[] => [])) {
    count += (await readdir(join(server.dataDir, 'blobs', shard))).length;
  }
  return count;
}

/** The parts of an answer a client could compare to learn something. */
function visible(answer: { status: number; body: UploadJson }) {
  const { status, body } = answer;
  return { status, state: body.state, instant: body.instant, missing: body.missing.length, challenge: body.challenge !== undefined, file: body.file !== undefined };
}

describe('instant upload', () => {
  let s: Scene;
  before(async () => { s = await scene(); });
  after(async () => s.server.stop());

  it('completes a re-upload of the same user with zero bytes sent', async () => {
    const data = randomBytes(CHUNK * 3 + 7);
    const first = await upload(s.alice, 'a/original.bin', data);
    assert.equal(first.state, 'completed');
    const again = await s.alice.create({ name: 'b/copy.bin', size: data.length, sha256: sha256Hex(data) });
    assert.equal(again.status, 201);
    assert.equal(again.body.state, 'completed');
    assert.equal(again.body.instant, true);
    assert.equal(again.body.challenge, undefined);
    assert.equal(again.body.file?.name, 'b/copy.bin');
    assert.notEqual(again.body.file?.id, first.file?.id);
    const content = await fetch(`${s.server.url}/api/v1/files/${again.body.file!.id}/content`, { headers: s.alice.headers });
    assert.ok(Buffer.from(await content.arrayBuffer()).equals(data));
  });

  it('makes another user prove possession, then completes without the bytes', async () => {
    const data = randomBytes(CHUNK * 5);
    await upload(s.alice, 'shared.bin', data);
    await s.server.library.sweepUnreferenced();
    const blobsBefore = await blobFiles(s.server);
    const created = await s.bob.create({ name: 'mine.bin', size: data.length, sha256: sha256Hex(data) });
    assert.equal(created.body.state, 'open');
    assert.equal(created.body.instant, false);
    const challenge = created.body.challenge!;
    assert.equal(challenge.algorithm, 'hmac-sha256');
    assert.ok(challenge.ranges.length > 0);
    const proved = await s.bob.prove(created.body.id, answerChallenge(challenge, data));
    assert.equal(proved.status, 200);
    assert.equal(proved.body.state, 'completed');
    assert.equal(proved.body.instant, true);
    const content = await fetch(`${s.server.url}/api/v1/files/${proved.body.file!.id}/content`, { headers: s.bob.headers });
    assert.ok(Buffer.from(await content.arrayBuffer()).equals(data));
    await s.server.library.sweepUnreferenced();
    assert.equal(await blobFiles(s.server), blobsBefore, 'the content is still stored once');
  });

  it('never gives the file to a client that knows only the hash, and answers as if nothing were stored', async () => {
    const secret = randomBytes(CHUNK * 2);
    await upload(s.alice, 'secret.bin', secret);
    const stored = await s.bob.create({ name: 'guess.bin', size: secret.length, sha256: sha256Hex(secret) });
    const nothing = randomBytes(CHUNK * 2);
    const absent = await s.bob.create({ name: 'absent.bin', size: nothing.length, sha256: sha256Hex(nothing) });
    assert.deepEqual(visible(stored), visible(absent), 'creation reveals nothing');

    const guess = randomBytes(32).toString('hex');
    const wrongStored = await s.bob.prove(stored.body.id, guess);
    const wrongAbsent = await s.bob.prove(absent.body.id, answerChallenge(absent.body.challenge!, nothing));
    assert.deepEqual(visible(wrongStored), visible(wrongAbsent), 'stored or not, the answer looks the same');
    assert.equal(wrongStored.body.state, 'open', 'a wrong answer falls back to a normal upload');
    assert.equal(wrongStored.body.missing.length, stored.body.chunkCount);

    const replay = await s.bob.prove(stored.body.id, answerChallenge(stored.body.challenge!, secret));
    assert.equal(replay.status, 400, 'a challenge can be answered once');
    assert.equal((await s.bob.complete(stored.body.id)).status, 409, 'it cannot complete without the chunks');
    const files = await s.bob.json<{ files: unknown[] }>('GET', '/api/v1/files?q=guess');
    assert.deepEqual(files.body.files, []);
  });

  it('lets the user who only had the hash upload the bytes normally afterwards', async () => {
    const data = randomBytes(CHUNK + 1);
    await upload(s.alice, 'fallback.bin', data);
    const created = await s.bob.create({ name: 'fallback.bin', size: data.length, chunkSize: CHUNK, sha256: sha256Hex(data) });
    await s.bob.prove(created.body.id, 'ff'.repeat(32));
    await s.bob.sendChunks(created.body, data, 2);
    const done = await s.bob.complete(created.body.id);
    assert.equal(done.body.state, 'completed');
    assert.equal(done.body.instant, false);
    assert.equal(done.body.file?.sha256, sha256Hex(data));
  });

  it('never loses content when its last owner deletes it while another user instant-uploads it', async () => {
    for (let round = 0; round < 12; round += 1) {
      const data = randomBytes(CHUNK + round);
      const original = await upload(s.alice, `race-${round}.bin`, data);
      const created = await s.bob.create({ name: `race-${round}.bin`, size: data.length, sha256: sha256Hex(data) });
      const [, proved] = await Promise.all([
        s.alice.json('DELETE', `/api/v1/files/${original.file!.id}`),
        s.bob.prove(created.body.id, answerChallenge(created.body.challenge!, data)),
      ]);
      await s.server.library.sweepUnreferenced();
      if (proved.body.state === 'completed') {
        const content = await fetch(`${s.server.url}/api/v1/files/${proved.body.file!.id}/content`, { headers: s.bob.headers });
        assert.equal(content.status, 200, `round ${round}`);
        assert.ok(Buffer.from(await content.arrayBuffer()).equals(data), `round ${round}: bytes intact`);
      } else {
        assert.equal(proved.body.state, 'open', `round ${round}: falls back to a normal upload`);
        await s.bob.sendChunks(proved.body, data, 2);
        assert.equal((await s.bob.complete(created.body.id)).body.file?.sha256, sha256Hex(data));
      }
    }
  });
});

describe('instant upload scopes', () => {
  it('user scope: no challenge for content stored by someone else', async () => {
    const s = await scene({ dedupScope: 'user' });
    try {
      const data = randomBytes(CHUNK);
      await upload(s.alice, 'x.bin', data);
      const created = await s.bob.create({ name: 'x.bin', size: data.length, sha256: sha256Hex(data) });
      assert.equal(created.body.state, 'open');
      assert.equal(created.body.challenge, undefined);
      const own = await s.alice.create({ name: 'y.bin', size: data.length, sha256: sha256Hex(data) });
      assert.equal(own.body.instant, true, "a user's own content still completes at once");
    } finally {
      await s.server.stop();
    }
  });

  it('tenant scope: a right proof only reaches content stored within the tenant', async () => {
    const s = await scene({ dedupScope: 'tenant' }, 'other-tenant');
    try {
      const data = randomBytes(CHUNK);
      await upload(s.alice, 'x.bin', data);
      const created = await s.bob.create({ name: 'x.bin', size: data.length, sha256: sha256Hex(data) });
      const proved = await s.bob.prove(created.body.id, answerChallenge(created.body.challenge!, data));
      assert.equal(proved.body.state, 'open');
      const carol = new NativeClient(s.server.url, (await createUser(s.server, 'carol')).auth);
      const same = await carol.create({ name: 'x.bin', size: data.length, sha256: sha256Hex(data) });
      assert.equal((await carol.prove(same.body.id, answerChallenge(same.body.challenge!, data))).body.state, 'completed');
    } finally {
      await s.server.stop();
    }
  });
});
