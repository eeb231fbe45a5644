/**
 * Properties of the tus 1.0 header parsers (Upload-Metadata, Upload-Checksum, Upload-Concat and
 * the integer headers Upload-Length / Upload-Offset), on their own and through a real server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { isUploadId } from '../../src/core/upload.js';
import { parseLength } from '../../src/http/headers.js';
import { formatConcat, formatMetadata, parseChecksum, parseConcat, parseMetadata } from '../../src/http/tus/headers.js';
import { send } from '../helpers/http-client.js';
import { CHUNK, TUS, tusCreate } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { OVER_HTTP, PURE, REQUEST_TIMEOUT_MS, anyHeaderValue, anyText, assertJsonError, assertNotServerError, isSafeCount, numberish, resultOrClientError } from './support.js';

/** tus 1.0 §Upload-Metadata: a key is non-empty, without spaces or commas; Ferry keeps it to printable ASCII. */
const metadataKey = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x2c).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 20 }),
  // Names an object literal treats specially must still be plain keys.
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'filename', 'filetype'),
);
/**
 * A value is UTF-8 text (Ferry's rule: values become names and media types). The spec lets an
 * empty value drop its separating space, which makes "" and no value one and the same; the
 * generator uses null for it.
 */
const metadataValue = fc.option(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), { nil: null });
const metadata = fc.dictionary(metadataKey, metadataValue, { maxKeys: 8, noNullPrototype: true });

const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const uploadId = hex(32);
const DIGEST_BYTES = { sha1: 20, sha256: 32, md5: 16 } as const;

describe('property: tus Upload-Metadata', () => {
  it('round-trips: parse(format(m)) is m', () => {
    fc.assert(fc.property(metadata, (m) => {
      assert.deepEqual(parseMetadata(formatMetadata(m)), m);
    }), PURE);
  });

  it('accepts every header the spec allows: pairs with optional spaces around commas, keys without values', () => {
    fc.assert(fc.property(metadata, fc.constantFrom(',', ', ', ' ,', ' , '), fc.boolean(), (m, separator, trailingSpace) => {
      const raw = Object.entries(m)
        .map(([key, value]) => (value === null ? `${key}${trailingSpace ? ' ' : ''}` : `${key} ${Buffer.from(value).toString('base64')}`))
        .join(separator);
      assert.deepEqual(parseMetadata(raw), m);
    }), PURE);
  });

  it('takes a base64 value exactly when its bytes are UTF-8 text', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 30 }), (bytes) => {
      const buffer = Buffer.from(bytes);
      let text: string | null;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
      } catch {
        text = null;
      }
      const outcome = resultOrClientError(() => parseMetadata(`k ${buffer.toString('base64')}`));
      if (text === null) assert.equal(outcome.ok, false);
      else assert.deepEqual(outcome.ok && outcome.value, { k: text });
    }), PURE);
  });

  it('answers anything else with invalid_metadata, never another error, and yields only well-formed keys', () => {
    fc.assert(fc.property(fc.oneof(anyHeaderValue, anyText), (raw) => {
      const outcome = resultOrClientError(() => parseMetadata(raw));
      if (!outcome.ok) return assert.equal(outcome.error.code, 'invalid_metadata');
      for (const [key, value] of Object.entries(outcome.value)) {
        assert.match(key, /^[\x21-\x2b\x2d-\x7e]+$/);
        assert.ok(value === null || typeof value === 'string');
      }
    }), PURE);
  });
});

describe('property: tus Upload-Checksum', () => {
  it('round-trips every supported algorithm and digest', () => {
    fc.assert(fc.property(fc.constantFrom('sha1', 'sha256', 'md5' as const), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom('', ' '), (algorithm, bytes, pad) => {
      const digest = Buffer.from(bytes).subarray(0, DIGEST_BYTES[algorithm]);
      const parsed = parseChecksum(`${pad}${algorithm} ${digest.toString('base64')}${pad}`);
      assert.equal(parsed?.algorithm, algorithm);
      assert.ok(parsed.digest.equals(digest));
    }), PURE);
  });

  it('refuses a digest of the wrong length for its algorithm', () => {
    fc.assert(fc.property(fc.constantFrom('sha1', 'sha256', 'md5' as const), fc.uint8Array({ maxLength: 40 }), (algorithm, bytes) => {
      fc.pre(bytes.length !== DIGEST_BYTES[algorithm]);
      const outcome = resultOrClientError(() => parseChecksum(`${algorithm} ${Buffer.from(bytes).toString('base64')}`));
      assert.equal(outcome.ok, false);
    }), PURE);
  });

  it('answers anything else with a 400 checksum error, never another error', () => {
    fc.assert(fc.property(fc.oneof(anyHeaderValue, anyText, fc.constantFrom('constructor AAAA', '__proto__ AAAA', 'toString AAAA')), (raw) => {
      const outcome = resultOrClientError(() => parseChecksum(raw));
      if (!outcome.ok) return assert.ok(['invalid_checksum', 'unsupported_checksum'].includes(outcome.error.code));
      assert.equal(outcome.value!.digest.length, DIGEST_BYTES[outcome.value!.algorithm]);
    }), PURE);
  });
});

describe('property: tus Upload-Concat', () => {
  it('round-trips partial and final uploads, with absolute or relative URLs, echoing them as received', () => {
    const role = fc.oneof(
      fc.constant({ kind: 'partial' as const }),
      fc.record({ kind: fc.constant('final' as const), parts: fc.array(uploadId, { minLength: 1, maxLength: 6 }) }, { noNullPrototype: true }),
    );
    fc.assert(fc.property(role, fc.constantFrom('', 'http://127.0.0.1:8080', 'https://uploads.example'), (r, origin) => {
      const header = formatConcat(r, (id) => `${origin}/files/${id}`);
      const parsed = parseConcat(header, '/files')!;
      assert.equal(parsed.kind, r.kind);
      if (parsed.kind === 'final' && r.kind === 'final') assert.deepEqual(parsed.parts, r.parts);
      assert.equal(formatConcat(parsed, (id) => `https://elsewhere/files/${id}`), header);
    }), PURE);
  });

  it('answers anything else with invalid_concat, and names only upload ids', () => {
    const nearMiss = fc.tuple(fc.constantFrom('final;', 'final; ', 'partial', 'final;/files/'), anyHeaderValue).map(([a, b]) => a + b);
    fc.assert(fc.property(fc.oneof(anyHeaderValue, anyText, nearMiss), (raw) => {
      const outcome = resultOrClientError(() => parseConcat(raw, '/files'));
      if (!outcome.ok) return assert.equal(outcome.error.code, 'invalid_concat');
      if (outcome.value?.kind === 'final') assert.ok(outcome.value.parts.every(isUploadId));
    }), PURE);
  });
});

describe('property: tus integer headers (Upload-Length, Upload-Offset)', () => {
  it('round-trips every non-negative safe integer', () => {
    fc.assert(fc.property(fc.maxSafeNat(), (n) => {
      assert.equal(parseLength(String(n), 'Upload-Length'), n);
    }), PURE);
  });

  it('never yields a negative, unsafe or non-number; refuses with a 400 instead', () => {
    fc.assert(fc.property(numberish, (raw) => {
      const outcome = resultOrClientError(() => parseLength(raw, 'Upload-Offset'));
      if (!outcome.ok) return assert.equal(outcome.error.status, 400);
      assert.ok(isSafeCount(outcome.value));
      assert.match(raw, /^\d+$/);
      assert.equal(outcome.value, Number(raw));
    }), PURE);
  });
});

describe('property: tus headers through the server', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const tusAnswer = (res: Awaited<ReturnType<typeof send>>, what: string) => {
    assertNotServerError(res, what);
    assert.equal(res.header('tus-resumable'), '1.0.0', `${what}: no Tus-Resumable`);
    if (res.status >= 400) assertJsonError(res);
  };

  it('HEAD answers the Upload-Metadata a creation sent', async () => {
    await fc.assert(fc.asyncProperty(metadata.filter((m) => Object.keys(m).length > 0), async (m) => {
      const { location } = await tusCreate(server, { 'Upload-Length': 1, 'Upload-Metadata': formatMetadata(m) });
      const head = await send(location, { method: 'HEAD', headers: TUS, timeoutMs: REQUEST_TIMEOUT_MS });
      assert.deepEqual(parseMetadata(head.header('upload-metadata') ?? ''), m);
    }), OVER_HTTP);
  });

  it('a creation with any Upload-Metadata, Upload-Concat, Upload-Length or Upload-Defer-Length is a 201 or a 4xx in tus form', async () => {
    const headers = fc.record({
      'Upload-Metadata': fc.option(fc.oneof(anyHeaderValue, metadata.map(formatMetadata)), { nil: undefined }),
      'Upload-Concat': fc.option(fc.oneof(anyHeaderValue, fc.constantFrom('partial', 'final;', 'final;/files/x')), { nil: undefined }),
      'Upload-Length': fc.option(numberish, { nil: undefined }),
      'Upload-Defer-Length': fc.option(fc.constantFrom('1', '0', '', 'yes'), { nil: undefined }),
    }, { requiredKeys: [], noNullPrototype: true });
    await fc.assert(fc.asyncProperty(headers, async (h) => {
      const res = await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...h }, timeoutMs: REQUEST_TIMEOUT_MS });
      tusAnswer(res, `POST ${JSON.stringify(h)}`);
      if (res.status === 201) assert.ok(res.header('location'));
    }), OVER_HTTP);
  });

  it('any Tus-Resumable and X-HTTP-Method-Override on an upload is answered in tus form; a wrong version is a 412 naming the right one', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 1 });
    const version = fc.oneof(fc.constant('1.0.0'), anyHeaderValue, fc.constantFrom('1.0', '0.2.2', '1.0.0, 1.0.0', ''));
    const override = fc.option(fc.oneof(fc.constantFrom('HEAD', 'head', 'DELETE', 'PATCH', 'GET', 'OPTIONS', 'TRACE', 'CONNECT'), anyHeaderValue), { nil: undefined });
    await fc.assert(fc.asyncProperty(version, override, async (tusResumable, methodOverride) => {
      const res = await send(location, { method: 'POST', headers: { 'Tus-Resumable': tusResumable, 'X-HTTP-Method-Override': methodOverride }, timeoutMs: REQUEST_TIMEOUT_MS });
      const what = `POST (override ${JSON.stringify(methodOverride)}) Tus-Resumable ${JSON.stringify(tusResumable)}`;
      assertNotServerError(res, what);
      if (res.status === 412) assert.equal(res.header('tus-version'), '1.0.0', what);
    }), OVER_HTTP);
  });

  it('a PATCH with any Upload-Offset and Upload-Checksum stores exactly the bytes at the offset, or is a 4xx in tus form', async () => {
    const body = Buffer.from('0123456789');
    await fc.assert(fc.asyncProperty(
      fc.oneof(numberish, fc.constant('0')),
      fc.oneof(anyHeaderValue, fc.constantFrom('sha1', 'sha256', 'md5').map((a) => `${a} ${createHash(a).update(body).digest('base64')}`)),
      async (offset, checksum) => {
        const { location } = await tusCreate(server, { 'Upload-Length': body.length });
        const res = await send(location, {
          method: 'PATCH', headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': offset, 'Upload-Checksum': checksum }, body, timeoutMs: REQUEST_TIMEOUT_MS,
        });
        tusAnswer(res, `PATCH offset ${JSON.stringify(offset)} checksum ${JSON.stringify(checksum)}`);
        if (res.status === 204) assert.equal(res.header('upload-offset'), String(body.length));
      },
    ), OVER_HTTP);
  });
});
