/**
 * Properties of what turns client text into names and byte ranges: library names
 * (src/core/names.ts), HTTP Range on downloads, Content-Disposition of any stored name, and ids
 * in upload URLs, which must never lead the server outside its data dir.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { cleanFileName, cleanMediaType, parseFileName, parseFolder } from '../../src/core/names.js';
import { send } from '../helpers/http-client.js';
import { listTree, startSandboxedServer, type SandboxedServer } from '../helpers/http-sandbox.js';
import { TUS, metadataHeader, tusUpload } from '../helpers/http-tus.js';
import { OVER_HTTP, PURE, REQUEST_TIMEOUT_MS, anyHeaderValue, anyText, assertJsonError, assertNotServerError, hasLoneSurrogate, resultOrClientError, runs, wellFormed } from './support.js';

/** Path-like text: segments of anything, joined by / or \, with the usual tricks mixed in. */
const pathish = fc.array(fc.oneof(anyText, fc.constantFrom('..', '.', '', ' ', 'C:', '%2e%2e', '\u0000', '..\\..', '\u202e')), { maxLength: 6 })
  .chain((segments) => fc.constantFrom('/', '\\').map((sep) => segments.join(sep)));
const name = fc.oneof(anyText, pathish);

/** A name as the library would show it: what every accepted or cleaned name must look like. */
function assertCleanName(value: string): void {
  assert.ok(value.length > 0 && value.length <= 1024, `length ${value.length}`);
  assert.ok(!hasLoneSurrogate(value), `${JSON.stringify(value)} has a lone surrogate`);
  assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(value), `${JSON.stringify(value)} has control characters`);
  assert.equal(value, value.normalize('NFC'), `${JSON.stringify(value)} is not NFC`);
  for (const segment of value.split('/')) {
    assert.ok(segment !== '' && segment !== '.' && segment !== '..', `${JSON.stringify(value)} has the segment ${JSON.stringify(segment)}`);
    assert.equal(segment, segment.trim());
  }
}

describe('property: library names', () => {
  it('a name the API accepts is clean and stays itself when parsed again', () => {
    fc.assert(fc.property(name, (raw) => {
      const outcome = resultOrClientError(() => parseFileName(raw));
      if (!outcome.ok) return assert.equal(outcome.error.code, 'invalid_name');
      assertCleanName(outcome.value);
      assert.equal(parseFileName(outcome.value), outcome.value);
    }), PURE);
  });

  it('every clean name is accepted as it is', () => {
    const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
      .map((s) => s.normalize('NFC').trim())
      .filter((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !/[\u0000-\u001f\u007f-\u009f]/.test(s));
    fc.assert(fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
      const clean = segments.join('/');
      assert.equal(parseFileName(clean), clean);
      assert.equal(parseFolder(`${clean}/`), `${clean}/`);
    }), PURE);
  });

  it('a name from protocol metadata is always cleaned into one the API accepts, never a way out of a folder', () => {
    fc.assert(fc.property(name, (raw) => {
      const cleaned = cleanFileName(raw, 'fallback');
      assertCleanName(cleaned);
      assert.equal(parseFileName(cleaned), cleaned);
    }), PURE);
  });

  it('a media type is either a well-formed token/token or application/octet-stream', () => {
    fc.assert(fc.property(fc.oneof(anyText, anyHeaderValue), (raw) => {
      const type = cleanMediaType(raw);
      assert.match(type, /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;\s*[a-z0-9!#$&^_.+-]+=[a-z0-9!#$&^_.+-]+)*$/);
    }), PURE);
  });

  it('a parameter value in quotes is taken when it is a token, and served unquoted', () => {
    assert.equal(cleanMediaType('text/plain; charset="UTF-8"'), 'text/plain; charset=utf-8');
    assert.equal(cleanMediaType('text/plain; charset="a b"'), 'application/octet-stream');
    assert.equal(cleanMediaType('text/plain; charset="x\\"y"'), 'application/octet-stream');
  });
});

describe('property: downloads and upload URLs through the server', () => {
  let sandbox: SandboxedServer;
  const content = randomBytes(1000);
  let location: string;
  let treeBefore: string[];
  before(async () => {
    sandbox = await startSandboxedServer();
    location = (await tusUpload(sandbox.server, content)).location;
    treeBefore = await listTree(sandbox.root, sandbox.dataDir);
  });
  after(async () => { await sandbox?.stop(); });

  /** RFC 9110 §14.1.2 for one range of a 1000-byte representation, as a reference. */
  function expectedRange(first: number | null, last: number | null): { start: number; end: number } | 'unsatisfiable' {
    const size = content.length;
    if (first === null) return last === 0 ? 'unsatisfiable' : { start: Math.max(0, size - last!), end: size - 1 };
    if (first >= size) return 'unsatisfiable';
    return { start: first, end: last === null ? size - 1 : Math.min(last, size - 1) };
  }

  it('every valid single byte range gets exactly its bytes (206) or a 416 with Content-Range */size', async () => {
    const bound = fc.oneof(fc.nat(1200), fc.bigInt({ min: 0n, max: 10n ** 25n }).map(Number));
    const range = fc.oneof(
      fc.tuple(bound, fc.option(bound)).filter(([a, b]) => b === null || a <= b),
      fc.tuple(fc.constant(null), bound),
    );
    await fc.assert(fc.asyncProperty(range, async ([first, last]) => {
      const header = `bytes=${first === null ? '' : BigInt(first)}-${last === null ? '' : BigInt(last)}`;
      const res = await send(location, { headers: { Range: header }, timeoutMs: REQUEST_TIMEOUT_MS });
      const expected = expectedRange(first, last);
      if (expected === 'unsatisfiable') {
        assert.equal(res.status, 416, header);
        assert.equal(res.header('content-range'), `bytes */${content.length}`);
        return;
      }
      assert.equal(res.status, 206, header);
      assert.equal(res.header('content-range'), `bytes ${expected.start}-${expected.end}/${content.length}`);
      assert.ok(res.body.equals(content.subarray(expected.start, expected.end + 1)), header);
    }), OVER_HTTP);
  });

  it('any Range and If-Range is the whole file, a consistent part of it, or a 416: never a 5xx', async () => {
    const rangeHeader = fc.oneof(anyHeaderValue, anyHeaderValue.map((v) => `bytes=${v}`), fc.constantFrom('bytes=0-0,5-9', 'bytes=-', 'bytes=9-3', 'bytes= 1-2', 'BYTES=1-2', 'bytes=1-2 '));
    await fc.assert(fc.asyncProperty(rangeHeader, fc.option(anyHeaderValue, { nil: undefined }), async (range, ifRange) => {
      const res = await send(location, { headers: { Range: range, 'If-Range': ifRange }, timeoutMs: REQUEST_TIMEOUT_MS });
      assertNotServerError(res, `Range ${JSON.stringify(range)}`);
      if (res.status === 200) return assert.ok(res.body.equals(content));
      if (res.status === 416) return assert.equal(res.header('content-range'), `bytes */${content.length}`);
      assert.equal(res.status, 206, `Range ${JSON.stringify(range)}: ${res.status}`);
      const [, start, end] = /^bytes (\d+)-(\d+)\/1000$/.exec(res.header('content-range') ?? '')!.map(Number) as [number, number, number];
      assert.ok(start <= end && end < content.length);
      assert.ok(res.body.equals(content.subarray(start, end + 1)));
    }), OVER_HTTP);
  });

  it('any file name a client gives goes out as a safe attachment whose filename* decodes to its last segment', async () => {
    await fc.assert(fc.asyncProperty(name, async (raw) => {
      const sent = wellFormed(raw);
      const { location: url } = await tusUpload(sandbox.server, 'x', { filename: sent });
      const res = await send(url, { timeoutMs: REQUEST_TIMEOUT_MS });
      assert.equal(res.status, 200);
      const disposition = res.header('content-disposition') ?? '';
      assert.match(disposition, /^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9%!._~-]*$/);
      const shown = decodeURIComponent(/filename\*=UTF-8''(.*)$/.exec(disposition)![1]!);
      assert.ok(!shown.includes('/') && !shown.includes('\\'), shown);
      const cleaned = cleanFileName(sent, '\u0000none');
      if (cleaned !== '\u0000none') assert.equal(shown, cleaned.split('/').pop());
    }), runs(30));
  });

  it('any id in an upload URL is a 4xx for every method, and nothing appears outside the data dir', async () => {
    // Encoded as a client would, with the slashes left raw or encoded.
    const idText = fc.tuple(fc.oneof(pathish, anyText), fc.boolean())
      .map(([text, rawSlashes]) => encodeURIComponent(wellFormed(text)).replace(/%2F/g, rawSlashes ? '/' : '%2F'));
    const method = fc.constantFrom('GET', 'HEAD', 'PATCH', 'DELETE', 'POST');
    await fc.assert(fc.asyncProperty(idText, method, async (id, verb) => {
      const res = await send(`${sandbox.server.endpoint}${id}`, {
        method: verb, headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0', 'Upload-Metadata': metadataHeader({ filename: id }) }, body: verb === 'PATCH' ? 'x' : undefined, timeoutMs: REQUEST_TIMEOUT_MS,
      });
      assertNotServerError(res, `${verb} /files/${id}`);
      if (res.status >= 400 && verb !== 'HEAD') assertJsonError(res);
    }), OVER_HTTP);
    assert.deepEqual(await listTree(sandbox.root, sandbox.dataDir), treeBefore);
  });
});
