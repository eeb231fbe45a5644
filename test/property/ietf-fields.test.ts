/**
 * Properties of the IETF draft's fields: the RFC 8941 structured fields Ferry reads
 * (Upload-Offset, Upload-Length, Upload-Complete, Upload-Draft-Interop-Version) and writes
 * (Upload-Limit), checked against an independent RFC 8941 implementation (structured-headers);
 * the Content-Disposition file name of a creation; and the draft's requests through a server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseDictionary, parseItem } from 'structured-headers';
import { filenameFromDisposition } from '../../src/http/ietf/disposition.js';
import { sfBoolean, sfIntegerDictionary, sfNonNegativeInteger } from '../../src/http/ietf/fields.js';
import { send, type HttpResult } from '../helpers/http-client.js';
import { PARTIAL } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { OVER_HTTP, PURE, REQUEST_TIMEOUT_MS, anyHeaderValue, anyText, assertNotServerError, assertProblem, numberish } from './support.js';

/** The largest sf-integer: 15 decimal digits (RFC 8941 §3.3.1). */
const SF_INTEGER_MAX = 999_999_999_999_999;

/** What the strict parser makes of a field as an Item, or undefined when it is not one. */
function strictItem(raw: string): unknown {
  try {
    return parseItem(raw)[0];
  } catch {
    return undefined;
  }
}

const parameters = fc.array(fc.tuple(fc.stringMatching(/^[a-z*][a-z0-9_.*-]{0,6}$/), fc.integer({ min: 0, max: 99 })), { maxLength: 2 })
  .map((pairs) => pairs.map(([key, value]) => `;${key}=${value}`).join(''));
const fieldValue = fc.oneof(anyHeaderValue, numberish, fc.constantFrom('?1', '?0', '?1;a', '?2', '?', 'true', '1', '-0', '-1'));

describe('property: structured fields the draft sends to the server', () => {
  it('Upload-Offset / Upload-Length: every sf-integer from 0 to the sf maximum, with or without parameters, reads as itself', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: SF_INTEGER_MAX }), parameters, (n, params) => {
      assert.equal(sfNonNegativeInteger(`${n}${params}`), n);
    }), PURE);
  });

  it('an integer reads as what RFC 8941 says it is, and never as a negative, unsafe or non-number', () => {
    fc.assert(fc.property(fieldValue, (raw) => {
      const ours = sfNonNegativeInteger(raw);
      const strict = strictItem(raw);
      // structured-headers gives sf-decimals (1.0) as numbers too: only a bare run of digits is an sf-integer.
      const isInteger = typeof strict === 'number' && /^\s*\d+\s*(;|$)/.test(raw);
      if (isInteger && (strict as number) >= 0) assert.equal(ours, strict, `${JSON.stringify(raw)}`);
      if (ours === undefined) return;
      assert.ok(Number.isSafeInteger(ours) && ours >= 0 && ours <= SF_INTEGER_MAX);
      assert.equal(strictItem(raw.split(';')[0]!.trim()), ours, `${JSON.stringify(raw)} is not the sf-integer ${ours}`);
    }), PURE);
  });

  it('Upload-Complete: an sf-boolean reads as what RFC 8941 says, and anything else as absent', () => {
    fc.assert(fc.property(fieldValue, (raw) => {
      const ours = sfBoolean(raw);
      const strict = strictItem(raw);
      if (typeof strict === 'boolean') assert.equal(ours, strict, JSON.stringify(raw));
      if (ours !== undefined) assert.equal(strictItem(raw.split(';')[0]!.trim()), ours);
    }), PURE);
  });
});

describe('property: Upload-Limit as the server writes it', () => {
  const limitKey = fc.constantFrom('max-size', 'min-size', 'max-append-size', 'min-append-size', 'max-age', 'expires');
  const limits = fc.dictionary(limitKey, fc.oneof(fc.double({ min: -1e6, max: 2 ** 53, noNaN: true }), fc.maxSafeNat()), { minKeys: 1, noNullPrototype: true });

  it('is always a valid sf-dictionary of non-negative integers, each the floor of its limit (capped at the sf maximum)', () => {
    fc.assert(fc.property(limits, (entries) => {
      const parsed = parseDictionary(sfIntegerDictionary(entries));
      assert.deepEqual([...parsed.keys()].sort(), Object.keys(entries).sort());
      for (const [key, value] of Object.entries(entries)) {
        const [item] = parsed.get(key) as [unknown, unknown];
        assert.equal(item, Math.min(SF_INTEGER_MAX, Math.max(0, Math.floor(value))), key);
      }
    }), PURE);
  });
});

describe('property: the file name of a creation request (Content-Disposition)', () => {
  const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });

  it('round-trips the RFC 8187 filename* form', () => {
    fc.assert(fc.property(name, (n) => {
      assert.equal(filenameFromDisposition(`attachment; filename*=UTF-8''${encodeURIComponent(n)}`), n);
    }), PURE);
  });

  it('round-trips the quoted filename form', () => {
    fc.assert(fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 }), (n) => {
      assert.equal(filenameFromDisposition(`attachment; filename="${n.replace(/["\\]/g, '\\$&')}"`), n);
    }), PURE);
  });

  it('never throws, whatever the header', () => {
    fc.assert(fc.property(fc.oneof(anyHeaderValue, anyText, anyHeaderValue.map((v) => `attachment; filename*=UTF-8''${v}`)), (raw) => {
      const result = filenameFromDisposition(raw);
      assert.ok(result === null || typeof result === 'string');
    }), PURE);
  });
});

describe('property: the draft through the server', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ maxUploadSize: 10_000_000 }); });
  after(async () => { await server?.stop(); });

  /** A success carries the draft's fields as valid structured fields; an error is a problem document. */
  const draftAnswer = (res: HttpResult, what: string) => {
    assertNotServerError(res, what);
    if (res.status >= 400) return assertProblem(res);
    const offset = res.header('upload-offset');
    if (offset !== undefined) assert.equal(typeof strictItem(offset), 'number', `${what}: Upload-Offset ${offset}`);
    const complete = res.header('upload-complete');
    if (complete !== undefined) assert.equal(typeof strictItem(complete), 'boolean', `${what}: Upload-Complete ${complete}`);
    const limit = res.header('upload-limit');
    if (limit !== undefined) assert.doesNotThrow(() => parseDictionary(limit), `${what}: Upload-Limit ${limit}`);
  };
  const draftHeaders = fc.record({
    'Upload-Draft-Interop-Version': fc.oneof(fc.constantFrom('5', '6', '7', '8', '8;x', ' 7 '), fieldValue),
    'Upload-Complete': fc.option(fieldValue, { nil: undefined }),
    'Upload-Length': fc.option(fc.oneof(fieldValue, fc.constantFrom('3', '4')), { nil: undefined }),
    'Upload-Metadata': fc.option(anyHeaderValue, { nil: undefined }),
    'Content-Disposition': fc.option(fc.oneof(anyHeaderValue, anyHeaderValue.map((v) => `attachment; filename*=UTF-8''${v}`)), { nil: undefined }),
  }, { requiredKeys: ['Upload-Draft-Interop-Version'], noNullPrototype: true });

  it('a creation with any draft fields is answered in the draft\'s terms, never a 5xx', async () => {
    await fc.assert(fc.asyncProperty(draftHeaders, fc.constantFrom('', 'abc'), async (headers, body) => {
      const res = await send(server.endpoint, { method: 'POST', headers, body, timeoutMs: REQUEST_TIMEOUT_MS });
      draftAnswer(res, `POST ${JSON.stringify(headers)}`);
    }), OVER_HTTP);
  });

  it('an append with any Upload-Offset and Upload-Complete stores the bytes at the offset or is a problem document', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fieldValue, fc.constant('0')), fc.option(fieldValue, { nil: undefined }), async (offset, complete) => {
      const created = await send(server.endpoint, { method: 'POST', headers: { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?0', 'Upload-Length': '3' } });
      assert.equal(created.status, 201);
      const res = await send(created.header('location')!, {
        method: 'PATCH', body: 'abc', timeoutMs: REQUEST_TIMEOUT_MS,
        headers: { 'Upload-Draft-Interop-Version': '8', 'Content-Type': PARTIAL, 'Upload-Offset': offset, 'Upload-Complete': complete },
      });
      draftAnswer(res, `PATCH offset ${JSON.stringify(offset)} complete ${JSON.stringify(complete)}`);
      if (res.status < 300) assert.equal(res.header('upload-offset'), '3');
    }), OVER_HTTP);
  });

  it('offset retrieval (HEAD, GET) and OPTIONS with any interop version answer in the draft\'s terms', async () => {
    const created = await send(server.endpoint, { method: 'POST', headers: { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?0' } });
    assert.equal(created.status, 201);
    const location = created.header('location')!;
    await fc.assert(fc.asyncProperty(fc.constantFrom('HEAD', 'GET', 'OPTIONS'), fc.oneof(fc.constantFrom('5', '6', '7', '8'), fieldValue), async (method, version) => {
      const res = await send(location, { method, headers: { 'Upload-Draft-Interop-Version': version }, timeoutMs: REQUEST_TIMEOUT_MS });
      if (method === 'HEAD') return assertNotServerError(res, `HEAD with version ${JSON.stringify(version)}`);
      draftAnswer(res, `${method} with version ${JSON.stringify(version)}`);
    }), OVER_HTTP);
  });

  it('the server\'s Upload-Limit is a valid sf-dictionary for every interop version that sends it', async () => {
    for (const version of ['6', '7', '8']) {
      const res = await send(server.endpoint, { method: 'OPTIONS', headers: { 'Upload-Draft-Interop-Version': version } });
      const created = await send(server.endpoint, { method: 'POST', headers: { 'Upload-Draft-Interop-Version': version, 'Upload-Complete': '?0' } });
      assert.ok(created.header('upload-limit'), `version ${version}: no Upload-Limit on an incomplete upload`);
      for (const limit of [res.header('upload-limit'), created.header('upload-limit')].filter((value) => value !== undefined)) {
        assert.equal((parseDictionary(limit!).get('max-size') as unknown as [unknown])?.[0], 10_000_000, limit);
      }
    }
  });
});
