/**
 * Properties of flow.js / resumable.js chunk parameters (src/http/flow/params.ts): every chunk the
 * two libraries cut is accepted as they describe it, anything else is a 4xx, and through the
 * server neither the test request nor a chunk ever answers 5xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseFlowChunk } from '../../src/http/flow/params.js';
import { send } from '../helpers/http-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { OVER_HTTP, PURE, REQUEST_TIMEOUT_MS, anyText, assertJsonError, assertNotServerError, isSafeCount, numberish, resultOrClientError } from './support.js';

const FIELDS = ['ChunkNumber', 'ChunkSize', 'CurrentChunkSize', 'TotalSize', 'TotalChunks', 'Identifier', 'Filename', 'RelativePath', 'Type'] as const;

/**
 * A chunk as flow.js 2.x cuts a file (flow-readme: chunks of chunkSize, the last one taking the
 * remainder, or with forceChunkSize every chunk at most chunkSize), with its request parameters.
 */
const flowChunk = fc.record({
  dialect: fc.constantFrom('flow', 'resumable'),
  totalSize: fc.oneof(fc.nat(5000), fc.maxSafeNat()),
  chunkSize: fc.oneof(fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 1, max: 2 ** 40 })),
  forceChunkSize: fc.boolean(),
  pick: fc.double({ min: 0, max: 1, noNaN: true }),
  identifier: fc.stringMatching(/^[0-9]+-[A-Za-z0-9_.-]{1,20}$/),
  filename: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
}).map(({ dialect, totalSize, chunkSize, forceChunkSize, pick, identifier, filename }) => {
  const totalChunks = forceChunkSize ? Math.max(1, Math.ceil(totalSize / chunkSize)) : Math.max(1, Math.floor(totalSize / chunkSize));
  const chunkNumber = 1 + Math.min(totalChunks - 1, Math.floor(pick * totalChunks));
  const start = (chunkNumber - 1) * chunkSize;
  const end = chunkNumber === totalChunks ? totalSize : Math.min(totalSize, start + chunkSize);
  const values: Record<string, string> = {
    ChunkNumber: String(chunkNumber), ChunkSize: String(chunkSize), CurrentChunkSize: String(end - start),
    TotalSize: String(totalSize), TotalChunks: String(totalChunks), Identifier: identifier, Filename: filename, RelativePath: filename,
  };
  const params = Object.fromEntries(Object.entries(values).map(([field, value]) => [`${dialect}${field}`, value]));
  return { dialect, chunkNumber, chunkSize, totalSize, totalChunks, current: end - start, params };
});

/** Parameters of any kind: each field missing, a number-like string or any text. */
const anyParams = fc.tuple(fc.constantFrom('flow', 'resumable', 'other'), fc.array(fc.oneof(numberish, anyText), { minLength: FIELDS.length, maxLength: FIELDS.length }), fc.array(fc.boolean(), { minLength: FIELDS.length, maxLength: FIELDS.length }))
  .map(([dialect, values, present]) => Object.fromEntries(FIELDS.flatMap((field, i) => (present[i] ? [[`${dialect}${field}`, values[i]!]] : []))));

describe('property: flow.js / resumable.js parameters', () => {
  it('accepts every chunk the clients cut, as they describe it', () => {
    fc.assert(fc.property(flowChunk, ({ dialect, chunkNumber, chunkSize, totalSize, totalChunks, current, params }) => {
      const chunk = parseFlowChunk(params);
      assert.deepEqual(
        [chunk.dialect, chunk.chunkNumber, chunk.chunkSize, chunk.totalSize, chunk.totalChunks, chunk.currentChunkSize],
        [dialect, chunkNumber, chunkSize, totalSize, totalChunks, current],
      );
    }), PURE);
  });

  it('answers anything else with a 4xx, and never yields a number out of range', () => {
    fc.assert(fc.property(anyParams, (params) => {
      const outcome = resultOrClientError(() => parseFlowChunk(params));
      if (!outcome.ok) return;
      const chunk = outcome.value;
      for (const value of [chunk.chunkNumber, chunk.chunkSize, chunk.totalSize, chunk.totalChunks, chunk.currentChunkSize]) assert.ok(isSafeCount(value));
      assert.ok(chunk.chunkNumber >= 1 && chunk.chunkNumber <= chunk.totalChunks);
      assert.ok(chunk.currentChunkSize <= chunk.totalSize);
    }), PURE);
  });
});

describe('property: /api/v1/flow through the server', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const query = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const params = fc.oneof(anyParams, flowChunk.map(({ params: p }) => p));

  it('the test request (GET) answers 200, 204 or a JSON 4xx for any parameters', async () => {
    await fc.assert(fc.asyncProperty(params, async (p) => {
      const res = await send(`${server.url}/api/v1/flow?${query(p)}`, { timeoutMs: REQUEST_TIMEOUT_MS });
      assertNotServerError(res, `GET ${query(p).slice(0, 200)}`);
      if (res.status >= 400) assertJsonError(res);
      else assert.ok([200, 204].includes(res.status));
    }), OVER_HTTP);
  });

  it('a chunk (octet mode) with any parameters is stored or answered with a JSON 4xx', async () => {
    const small = flowChunk.filter(({ current }) => current <= 4096).map(({ params: p, current }) => ({ p, body: Buffer.alloc(current, 1) }));
    await fc.assert(fc.asyncProperty(fc.oneof(small, anyParams.map((p) => ({ p, body: Buffer.from('chunk') }))), async ({ p, body }) => {
      const res = await send(`${server.url}/api/v1/flow?${query(p)}`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body, timeoutMs: REQUEST_TIMEOUT_MS });
      assertNotServerError(res, `POST ${query(p).slice(0, 200)}`);
      if (res.status >= 400) return assertJsonError(res);
      const answer = res.json() as { chunk: number; receivedChunks: number; totalChunks: number };
      assert.ok(answer.receivedChunks >= 1 && answer.receivedChunks <= answer.totalChunks);
    }), OVER_HTTP);
  });

  it('a multipart chunk with any fields is stored or answered with a JSON 4xx', async () => {
    await fc.assert(fc.asyncProperty(params, fc.constantFrom('file', 'other'), async (p, fileField) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(p)) form.append(name, value);
      form.append(fileField, new Blob([Buffer.from('chunk') as unknown as Uint8Array<ArrayBuffer>]), 'blob');
      const request = new Request(`${server.url}/api/v1/flow`, { method: 'POST', body: form });
      const res = await send(request.url, {
        method: 'POST', headers: { 'Content-Type': request.headers.get('content-type')! }, body: Buffer.from(await request.arrayBuffer()), timeoutMs: REQUEST_TIMEOUT_MS,
      });
      assertNotServerError(res, `multipart ${JSON.stringify(p).slice(0, 200)}`);
      if (res.status >= 400) assertJsonError(res);
    }), OVER_HTTP);
  });
});
