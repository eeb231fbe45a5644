/**
 * A model-based property of fuploadServer blocks over block uploads (src/core/block-uploads.ts):
 * a file cut anywhere and sent in any order, with overlapping, out-of-range and corrupted blocks
 * mixed in, is stored exactly: each answer is what a model of the stored ranges predicts, and the
 * completed upload has the file's SHA-256.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { send } from '../helpers/http-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { REQUEST_TIMEOUT_MS, runs } from './support.js';

const TOKEN = 'property-blocks-token';
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

interface Block {
  readonly start: number;
  /** Inclusive, as the protocol counts. */
  readonly end: number;
  readonly corrupt: boolean;
  /** Not part of the cut: sent only where it must be refused, so the cut can still complete the file. */
  readonly stray: boolean;
}

/** A file, a cut of it into blocks sent in a shuffled order, and stray blocks slipped in between. */
const scenario = fc.integer({ min: 1, max: 48 }).chain((size) => fc.record({
  data: fc.uint8Array({ minLength: size, maxLength: size }).map((bytes) => Buffer.from(bytes)),
  cuts: fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, size - 1) }), { maxLength: Math.min(6, size - 1) }),
  strays: fc.array(fc.record({ start: fc.nat(size + 2), length: fc.integer({ min: 1, max: size + 2 }), corrupt: fc.boolean(), at: fc.nat(10) }), { maxLength: 4 }),
  seed: fc.nat(),
}).map(({ data, cuts, strays, seed }) => {
  const bounds = [0, ...cuts.filter((cut) => cut < size).sort((a, b) => a - b), size];
  const blocks: Block[] = bounds.slice(1).map((end, i) => ({ start: bounds[i]!, end: end - 1, corrupt: false, stray: false }));
  const order = blocks.map((block, i) => ({ block, key: (seed * (i + 7)) % 101 })).sort((a, b) => a.key - b.key).map(({ block }) => block);
  for (const stray of strays) order.splice(Math.min(stray.at, order.length - 1), 0, { start: stray.start, end: stray.start + stray.length - 1, corrupt: stray.corrupt, stray: true });
  return { data, order };
}));

/** What the server must answer for a block, given the ranges stored so far (half-open). */
function predict(stored: [number, number][], size: number, block: Block): 'out_of_range' | 'bad_md5' | 'stored' {
  if (block.end >= size) return 'out_of_range';
  if (stored.some(([start, end]) => start <= block.end && end > block.start)) return 'out_of_range';
  return block.corrupt ? 'bad_md5' : 'stored';
}

describe('property: fuploadServer blocks against a model of the stored ranges', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ fuploadClients: { [TOKEN]: 'http://127.0.0.1:9/notify' } }); });
  after(async () => { await server?.stop(); });
  let tasks = 0;

  it('every block answers as predicted, and the completed file is exactly the file', async () => {
    await fc.assert(fc.asyncProperty(scenario, async ({ data, order }) => {
      tasks += 1;
      const created = await send(`${server.url}/api/upload/new/task`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: TOKEN, userId: `u${tasks}`, storePath: '/', fileName: 'f.bin', fileSize: data.length, fileMd5: md5(data) }),
      });
      assert.equal(created.status, 200, created.text());
      const { uploadUrl, taskId } = (created.json() as { data: { uploadUrl: string; taskId: number } }).data;
      const stored: [number, number][] = [];
      let completed = false;
      for (const block of order) {
        if (completed) break;
        const expected = predict(stored, data.length, block);
        if (block.stray && expected === 'stored') continue;
        const bytes = Buffer.alloc(block.end - block.start + 1);
        if (block.start < data.length) data.copy(bytes, 0, block.start, Math.min(block.end + 1, data.length));
        const form = new FormData();
        form.append('startByte', String(block.start));
        form.append('endByte', String(block.end));
        form.append('partMd5', block.corrupt ? md5(Buffer.concat([bytes, Buffer.from('x')])) : md5(bytes));
        form.append('file', new Blob([bytes as unknown as Uint8Array<ArrayBuffer>]), 'part');
        const request = new Request(uploadUrl, { method: 'POST', body: form });
        const res = await send(uploadUrl, { method: 'POST', headers: { 'Content-Type': request.headers.get('content-type')! }, body: Buffer.from(await request.arrayBuffer()), timeoutMs: REQUEST_TIMEOUT_MS });
        const answer = res.json() as { retCode: string };
        const label = `block ${block.start}-${block.end}${block.corrupt ? ' (corrupt)' : ''} after ${JSON.stringify(stored)}`;
        if (expected === 'out_of_range') assert.deepEqual([res.status, answer.retCode], [400, '8'], label);
        else if (expected === 'bad_md5') assert.deepEqual([res.status, answer.retCode], [400, '7'], label);
        else {
          assert.equal(res.status, 200, `${label}: ${res.text()}`);
          stored.push([block.start, block.end + 1]);
          completed = stored.reduce((sum, [start, end]) => sum + end - start, 0) === data.length;
          if (completed) assert.equal(answer.retCode, '0', label);
        }
      }
      assert.ok(completed, 'the cut blocks cover the file');
      const uploadId = await server.meta.uploads.findAlias('fupload', 'task', String(taskId));
      const upload = await server.meta.uploads.get(uploadId!);
      assert.equal(upload?.state, 'completed');
      assert.equal(upload?.sha256, createHash('sha256').update(data).digest('hex'));
    }), runs(25));
  });
});
