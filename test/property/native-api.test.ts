/**
 * Properties of the native chunk API's inputs: the chunk digest headers (RFC 9530 Content-Digest,
 * Content-MD5), the chunk index in the URL and the JSON bodies the API validates.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { newChallenge } from '../../src/core/proof.js';
import { chunkDigests } from '../../src/http/api/digest-headers.js';
import type { HttpRequest } from '../../src/http/exchange.js';
import { send } from '../helpers/http-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { OVER_HTTP, PURE, REQUEST_TIMEOUT_MS, anyHeaderValue, anyText, assertJsonError, assertNotServerError, numberish, resultOrClientError } from './support.js';

/** chunkDigests reads only the request's headers. */
const withHeaders = (headers: Record<string, string | undefined>) => ({ headers }) as unknown as HttpRequest;
const base64Of = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
/** RFC 9530 algorithm keys are sf-keys; some of them name properties every object has. */
const unknownAlgorithm = fc.oneof(
  fc.stringMatching(/^[a-z*][a-z0-9_.*-]{0,10}$/).filter((key) => key !== 'sha-256'),
  fc.constantFrom('sha-512', 'md5', 'crc32c', 'constructor', 'tostring', 'valueof'),
);

describe('property: Content-Digest and Content-MD5 of a chunk', () => {
  it('reads sha-256 wherever it stands in the list, and skips algorithms it does not know (RFC 9530 §2)', () => {
    const member = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => ({ key: 'sha-256', bytes })),
      fc.tuple(unknownAlgorithm, fc.uint8Array({ maxLength: 64 })).map(([key, bytes]) => ({ key, bytes })),
    );
    fc.assert(fc.property(fc.array(member, { minLength: 1, maxLength: 4 }), fc.constantFrom(',', ', ', ' , '), (members, separator) => {
      const header = members.map(({ key, bytes }) => `${key}=:${base64Of(bytes)}:`).join(separator);
      const digests = chunkDigests(withHeaders({ 'content-digest': header }));
      const expected = members.filter(({ key }) => key === 'sha-256').map(({ bytes }) => ({ algorithm: 'sha256', digest: Buffer.from(bytes) }));
      assert.deepEqual(digests, expected);
    }), PURE);
  });

  it('reads every Content-MD5', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      assert.deepEqual(chunkDigests(withHeaders({ 'content-md5': base64Of(bytes) })), [{ algorithm: 'md5', digest: Buffer.from(bytes) }]);
    }), PURE);
  });

  it('answers anything else with invalid_digest, and never yields a digest of the wrong length', () => {
    fc.assert(fc.property(fc.option(anyHeaderValue, { nil: undefined }), fc.option(anyHeaderValue, { nil: undefined }), (contentDigest, md5) => {
      const outcome = resultOrClientError(() => chunkDigests(withHeaders({ 'content-digest': contentDigest, 'content-md5': md5 })));
      if (!outcome.ok) return assert.equal(outcome.error.code, 'invalid_digest');
      for (const { algorithm, digest } of outcome.value) assert.equal(digest.length, algorithm === 'sha256' ? 32 : 16);
    }), PURE);
  });
});

describe('property: proof-of-possession challenges', () => {
  it('for any size a client may declare, challenge four ranges of min(64 KiB, size) bytes inside the file', () => {
    const size = fc.oneof(fc.maxSafeNat(), fc.integer({ min: 2 ** 48 - 70_000, max: 2 ** 48 + 70_000 }), fc.constant(Number.MAX_SAFE_INTEGER));
    fc.assert(fc.property(size, (n) => {
      const { ranges } = newChallenge(n, new Date());
      assert.equal(ranges.length, n === 0 ? 0 : 4);
      for (const { start, end } of ranges) {
        assert.ok(Number.isSafeInteger(start) && start >= 0 && end < n, `${start}-${end} of ${n}`);
        assert.equal(end - start + 1, Math.min(64 * 1024, n));
      }
    }), PURE);
  });
});

describe('property: the native chunk API through the server', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const create = async (size: number) => {
    const res = await send(`${server.url}/api/v1/uploads`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'p.bin', size }) });
    assert.equal(res.status, 201, res.text());
    return (res.json() as { id: string }).id;
  };

  it('a chunk with any index and digest headers is stored when they are right, and a JSON 4xx otherwise', async () => {
    const chunk = Buffer.from('property');
    const right = { 'content-digest': `sha-256=:${createHash('sha256').update(chunk).digest('base64')}:` };
    await fc.assert(fc.asyncProperty(
      fc.oneof(numberish.map(encodeURIComponent), fc.constant('0')),
      fc.oneof(fc.constant(right), fc.record({ 'content-digest': anyHeaderValue, 'content-md5': anyHeaderValue }, { requiredKeys: [], noNullPrototype: true })),
      async (index, headers) => {
        const id = await create(chunk.length);
        const res = await send(`${server.url}/api/v1/uploads/${id}/chunks/${index}`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream', ...headers }, body: chunk, timeoutMs: REQUEST_TIMEOUT_MS });
        assertNotServerError(res, `PUT chunk ${index} ${JSON.stringify(headers)}`);
        if (res.status >= 400) return assertJsonError(res);
        assert.equal(Number(decodeURIComponent(index)), 0, index);
        assert.deepEqual((res.json() as { missing: number[] }).missing, []);
      },
    ), OVER_HTTP);
  });

  it('creation with any JSON body is a 201 with a clean name, or a JSON 4xx', async () => {
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
      fc.record({
        name: fc.oneof(anyText, fc.constant('a.bin')),
        size: fc.oneof(fc.integer(), fc.double(), fc.maxSafeNat(), fc.constantFrom(2 ** 48 + 65_536, Number.MAX_SAFE_INTEGER, 2 ** 53), fc.string()),
        chunkSize: fc.option(fc.oneof(fc.integer(), fc.maxSafeNat()), { nil: undefined }),
        sha256: fc.option(fc.oneof(anyText, fc.constant('0'.repeat(64))), { nil: undefined }),
      }, { requiredKeys: ['name', 'size'], noNullPrototype: true }).map((value) => JSON.stringify(value)),
      anyText,
    );
    await fc.assert(fc.asyncProperty(body, async (text) => {
      const res = await send(`${server.url}/api/v1/uploads`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: text, timeoutMs: REQUEST_TIMEOUT_MS });
      assertNotServerError(res, `POST /api/v1/uploads ${text.slice(0, 200)}`);
      if (res.status >= 400) return assertJsonError(res);
      const created = res.json() as { name: string; size: number };
      assert.ok(Number.isSafeInteger(created.size) && created.size >= 0);
      assert.ok(!/\p{Cs}/u.test(created.name) && !created.name.split('/').includes('..'), created.name);
    }), OVER_HTTP);
  });
});
