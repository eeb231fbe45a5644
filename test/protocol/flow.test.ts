import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/users.js';

const CHUNK = 64 * 1024;

interface FlowFile {
  readonly identifier: string;
  readonly name: string;
  readonly data: Buffer;
  readonly chunkSize: number;
  /** flow.js by default: floor(size / chunkSize) chunks, the last one longer; with forceChunkSize: ceil. */
  readonly force?: boolean;
  readonly prefix?: 'flow' | 'resumable';
}

function totalChunks(file: FlowFile): number {
  const { data, chunkSize } = file;
  return file.force ? Math.ceil(data.length / chunkSize) : Math.max(1, Math.floor(data.length / chunkSize));
}

function chunkBytes(file: FlowFile, number: number): Buffer {
  const start = (number - 1) * file.chunkSize;
  const end = number === totalChunks(file) ? file.data.length : start + file.chunkSize;
  return file.data.subarray(start, end);
}

function params(file: FlowFile, number: number): Record<string, string> {
  const p = file.prefix ?? 'flow';
  return {
    [`${p}ChunkNumber`]: String(number),
    [`${p}ChunkSize`]: String(file.chunkSize),
    [`${p}CurrentChunkSize`]: String(chunkBytes(file, number).length),
    [`${p}TotalSize`]: String(file.data.length),
    [`${p}Identifier`]: file.identifier,
    [`${p}Filename`]: file.name.split('/').pop()!,
    [`${p}RelativePath`]: file.name,
    [`${p}TotalChunks`]: String(totalChunks(file)),
  };
}

class FlowClient {
  constructor(readonly server: TestServer, readonly user: TestUser) {}

  async test(file: FlowFile, number: number): Promise<number> {
    const query = new URLSearchParams(params(file, number));
    return (await fetch(`${this.server.url}/api/v1/flow?${query}`, { headers: this.user.auth })).status;
  }

  /** The default mode: the parameters as form fields, then the chunk in `file`. */
  async multipart(file: FlowFile, number: number, overrides: Record<string, string> = {}, bytes = chunkBytes(file, number)) {
    const form = new FormData();
    for (const [key, value] of Object.entries({ ...params(file, number), ...overrides })) form.append(key, value);
    form.append('file', new Blob([bytes as unknown as Uint8Array<ArrayBuffer>]), 'blob');
    const response = await fetch(`${this.server.url}/api/v1/flow`, { method: 'POST', headers: this.user.auth, body: form });
    return { status: response.status, body: (await response.json()) as { done?: boolean; file?: { id: string; name: string; sha256: string }; error?: { code: string } } };
  }

  /** The octet mode: the raw chunk as the body, the parameters in the query. */
  async octet(file: FlowFile, number: number, bytes = chunkBytes(file, number)) {
    const query = new URLSearchParams(params(file, number));
    const response = await fetch(`${this.server.url}/api/v1/flow?${query}`, {
      method: 'POST', headers: { ...this.user.auth, 'content-type': 'application/octet-stream' }, body: bytes as unknown as Uint8Array<ArrayBuffer>,
    });
    return { status: response.status, body: (await response.json()) as { done?: boolean; file?: { id: string; sha256: string } } };
  }

  async content(fileId: string): Promise<Buffer> {
    const response = await fetch(`${this.server.url}/api/v1/files/${fileId}/content`, { headers: this.user.auth });
    return Buffer.from(await response.arrayBuffer());
  }
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('flow.js / resumable.js protocol', () => {
  let server: TestServer;
  let alice: FlowClient;
  let bob: FlowClient;
  before(async () => {
    server = await startTestServer({ auth: 'required' });
    alice = new FlowClient(server, await createUser(server, 'alice'));
    bob = new FlowClient(server, await createUser(server, 'bob'));
  });
  after(async () => server.stop());

  it('takes multipart chunks in parallel and out of order; the last, longer chunk completes the file', async () => {
    const file: FlowFile = { identifier: '2654321-photosholidayjpg', name: 'photos/holiday.jpg', data: randomBytes(CHUNK * 5 + CHUNK / 2), chunkSize: CHUNK };
    assert.equal(totalChunks(file), 5);
    assert.equal(await alice.test(file, 1), 204, 'absent chunks answer 204, never 404');
    const first = await Promise.all([3, 1, 4].map((n) => alice.multipart(file, n)));
    for (const answer of first) assert.deepEqual([answer.status, answer.body.done], [200, false]);
    assert.equal(await alice.test(file, 3), 200);
    assert.equal(await alice.test(file, 2), 204);
    const rest = await Promise.all([5, 2].map((n) => alice.multipart(file, n)));
    const done = rest.find((answer) => answer.body.done);
    assert.ok(done?.body.file, 'the answer that completes the file carries it');
    assert.equal(done.body.file.name, 'photos/holiday.jpg');
    assert.equal(done.body.file.sha256, sha256(file.data));
    assert.ok((await alice.content(done.body.file.id)).equals(file.data));
    assert.equal(await alice.test(file, 2), 200, 'a finished file answers 200 for every chunk');
  });

  it('takes resumable.js parameters in octet mode with forceChunkSize', async () => {
    const file: FlowFile = { identifier: 'r-1', name: 'notes.txt', data: randomBytes(CHUNK * 2 + 100), chunkSize: CHUNK, force: true, prefix: 'resumable' };
    const answers = [];
    for (const n of [3, 2, 1]) answers.push(await alice.octet(file, n));
    const last = answers.at(-1)!;
    assert.equal(last.body.done, true);
    assert.ok((await alice.content(last.body.file!.id)).equals(file.data));
  });

  it('stores an empty file sent as one empty chunk', async () => {
    const file: FlowFile = { identifier: 'empty', name: 'empty.txt', data: Buffer.alloc(0), chunkSize: CHUNK };
    const answer = await alice.multipart(file, 1);
    assert.equal(answer.body.done, true);
    assert.equal(answer.body.file?.sha256, sha256(Buffer.alloc(0)));
  });

  it("scopes identifiers to their user: another user's identical identifier is a different upload", async () => {
    const file: FlowFile = { identifier: 'same-id', name: 'a.bin', data: randomBytes(CHUNK * 2), chunkSize: CHUNK };
    await alice.multipart(file, 1);
    assert.equal(await bob.test(file, 1), 204, "bob does not see alice's chunk");
    const bobs: FlowFile = { ...file, data: randomBytes(CHUNK * 2) };
    await bob.multipart(bobs, 1);
    const done = await bob.multipart(bobs, 2);
    assert.ok((await bob.content(done.body.file!.id)).equals(bobs.data));
    const alices = await alice.multipart(file, 2);
    assert.ok((await alice.content(alices.body.file!.id)).equals(file.data), "alice's upload was not disturbed");
  });

  it('starts over under the same identifier once the file was deleted', async () => {
    const file: FlowFile = { identifier: 'again', name: 'again.bin', data: randomBytes(CHUNK), chunkSize: CHUNK };
    const done = await alice.multipart(file, 1);
    await fetch(`${server.url}/api/v1/files/${done.body.file!.id}`, { method: 'DELETE', headers: alice.user.auth });
    assert.equal(await alice.test(file, 1), 204);
    const again = await alice.multipart(file, 1);
    assert.equal(again.body.done, true);
    assert.notEqual(again.body.file!.id, done.body.file!.id);
  });

  it('gives up on a client that goes away mid-chunk: nothing counts, and the chunk can be sent again at once', async () => {
    const file: FlowFile = { identifier: 'vanishing', name: 'v.bin', data: randomBytes(CHUNK * 2), chunkSize: CHUNK };
    const boundary = 'ferry-test-boundary';
    const head = Object.entries(params(file, 1)).map(([key, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${key}"\r\n\r\n${value}\r\n`).join('')
      + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST /api/v1/flow HTTP/1.1\r\nHost: x\r\nAuthorization: ${alice.user.auth.Authorization}\r\n`
      + `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${head.length + CHUNK + 100}\r\n\r\n${head}`);
    socket.write(chunkBytes(file, 1).subarray(0, 1000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await alice.test(file, 1), 204, 'the broken chunk does not count');
    const started = Date.now();
    assert.equal((await alice.multipart(file, 1)).status, 200);
    assert.ok(Date.now() - started < 700, `nothing was left holding the chunk (${Date.now() - started} ms)`);
    assert.ok((await alice.content((await alice.multipart(file, 2)).body.file!.id)).equals(file.data));
  });

  it('two files racing to be first under one identifier: one gets it, the other is refused, and no byte of one goes into the other', async () => {
    for (let trial = 0; trial < 12; trial += 1) {
      const identifier = `race-${trial}`;
      const small: FlowFile = { identifier, name: 'small.bin', data: randomBytes(CHUNK * 3 + 500), chunkSize: CHUNK };
      const large: FlowFile = { identifier, name: 'large.bin', data: randomBytes(CHUNK * 10), chunkSize: CHUNK };
      const [first, second] = await Promise.all([alice.octet(small, 1), alice.octet(large, 2)]);
      assert.deepEqual([first.status, second.status].sort(), [200, 400], `trial ${trial}: ${first.status} ${second.status}`);
      const [winner, loser] = first.status === 200 ? [small, large] : [large, small];
      // The test request for the loser's chunks is refused too, not answered "stored".
      assert.equal(await alice.test(loser, first.status === 200 ? 2 : 1), 400);
      for (let n = 1; n <= totalChunks(winner); n += 1) {
        if (await alice.test(winner, n) === 204) assert.equal((await alice.octet(winner, n)).status, 200);
      }
      const finished = await alice.octet(winner, totalChunks(winner));
      assert.equal(finished.body.file?.sha256, sha256(winner.data), `trial ${trial}: the stored file is the winner's`);
    }
  });

  it('answers bad chunk requests with 4xx JSON and keeps the upload consistent', async () => {
    const file: FlowFile = { identifier: 'bad', name: 'bad.bin', data: randomBytes(CHUNK * 3), chunkSize: CHUNK };
    const cases: [string, Record<string, string>, Buffer | undefined, number, string?][] = [
      ['no chunk number', { flowChunkNumber: '' }, undefined, 400],
      ['chunk 0', { flowChunkNumber: '0' }, undefined, 400],
      ['past the last chunk', { flowChunkNumber: '4' }, undefined, 400],
      ['total chunks that do not fit', { flowTotalChunks: '7' }, undefined, 400],
      ['a current size that is not the layout', { flowCurrentChunkSize: '10' }, undefined, 400],
      ['a chunk shorter than it says', {}, chunkBytes(file, 1).subarray(1), 400, 'chunk_length_mismatch'],
      ['a chunk longer than it says', {}, Buffer.concat([chunkBytes(file, 1), Buffer.from('x')]), 400, 'chunk_length_mismatch'],
      ['an identifier with a control character', { flowIdentifier: 'a\u0001b' }, undefined, 400],
      ['an identifier too long', { flowIdentifier: 'x'.repeat(300) }, undefined, 400],
      ['a negative size', { flowTotalSize: '-5' }, undefined, 400],
    ];
    for (const [label, overrides, bytes, status, code] of cases) {
      const answer = await alice.multipart(file, 1, overrides, bytes);
      assert.equal(answer.status, status, label);
      assert.equal(typeof answer.body.error?.code, 'string', label);
      if (code) assert.equal(answer.body.error?.code, code, label);
    }
    assert.equal(await alice.test(file, 1), 204, 'no bad request stored chunk 1');
    const short = await alice.multipart(file, 2, {}, chunkBytes(file, 2).subarray(1));
    assert.match(JSON.stringify(short.body.error), /"chunk 2 has/, 'errors name chunks as flow.js numbers them, from 1');
    const other: FlowFile = { ...file, data: randomBytes(CHUNK * 4) };
    await alice.multipart(file, 2);
    assert.equal((await alice.multipart(other, 1)).status, 400, 'an identifier in use for another size is refused');
    const twice = await fetch(`${server.url}/api/v1/flow?${new URLSearchParams(params(file, 1))}&flowChunkNumber=2`, {
      method: 'POST', headers: { ...alice.user.auth, 'content-type': 'application/octet-stream' }, body: chunkBytes(file, 1) as unknown as Uint8Array<ArrayBuffer>,
    });
    assert.equal(twice.status, 400, 'a parameter given twice with different values is refused');
    const noFile = await fetch(`${server.url}/api/v1/flow`, { method: 'POST', headers: alice.user.auth, body: (() => { const f = new FormData(); f.append('flowChunkNumber', '1'); return f; })() });
    assert.equal(noFile.status, 400);
    const garbage = await fetch(`${server.url}/api/v1/flow`, { method: 'POST', headers: { ...alice.user.auth, 'content-type': 'multipart/form-data; boundary=x' }, body: 'not multipart at all' });
    assert.equal(garbage.status, 400);
  });
});
