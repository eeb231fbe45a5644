/**
 * A property of tus upload state across requests: random sequences of PATCHes (right and wrong
 * offsets, bodies of any length, a deferred Upload-Length declared late, too small or changed)
 * keep the invariants of tus 1.0 — an accepted PATCH moves the offset by exactly its body, a
 * refused one moves nothing, the length once known never changes and the offset never passes it,
 * and a completed upload downloads as exactly the bytes that were accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { send } from '../helpers/http-client.js';
import { CHUNK, PARTIAL, TUS, tusCreate } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { REQUEST_TIMEOUT_MS, assertJsonError, assertNotServerError, assertProblem, runs } from './support.js';

interface Patch {
  /** Where the PATCH claims to write, relative to the true offset. */
  readonly skew: number;
  readonly length: number;
  /** Upload-Length sent with it (deferred uploads), relative to what has been accepted so far plus this body. */
  readonly declare: number | null;
}

const patch: fc.Arbitrary<Patch> = fc.record({
  skew: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -3, max: 3 })),
  length: fc.nat(12),
  declare: fc.option(fc.integer({ min: -2, max: 6 }), { freq: 2, nil: null }),
}, { noNullPrototype: true });

describe('property: tus uploads across random PATCH sequences', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const head = async (location: string) => {
    const res = await send(location, { method: 'HEAD', headers: TUS, timeoutMs: REQUEST_TIMEOUT_MS });
    assert.equal(res.status, 200);
    const length = res.header('upload-length');
    return { offset: Number(res.header('upload-offset')), length: length === undefined ? null : Number(length) };
  };

  it('keep every tus invariant, and a completed upload is exactly the accepted bytes', async () => {
    await fc.assert(fc.asyncProperty(fc.option(fc.nat(30), { nil: null }), fc.array(patch, { minLength: 1, maxLength: 8 }), fc.nat(), async (initialLength, patches, seed) => {
      const { location } = await tusCreate(server, initialLength === null ? { 'Upload-Defer-Length': '1' } : { 'Upload-Length': initialLength });
      let accepted = Buffer.alloc(0);
      let knownLength = initialLength;
      for (const [i, p] of patches.entries()) {
        const before = await head(location);
        assert.equal(before.offset, accepted.length);
        if (knownLength !== null && before.offset === knownLength) break;
        const body = Buffer.alloc(p.length, (seed + i) % 251);
        const offset = Math.max(0, before.offset + p.skew);
        const declared = p.declare === null ? undefined : Math.max(0, accepted.length + p.length + p.declare);
        const res = await send(location, {
          method: 'PATCH', body, timeoutMs: REQUEST_TIMEOUT_MS,
          headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': offset, 'Upload-Length': declared },
        });
        const what = `PATCH ${i} at ${offset} (offset ${before.offset}) of ${p.length} bytes, Upload-Length ${declared} (known ${knownLength})`;
        assertNotServerError(res, what);
        const after = await head(location);
        if (res.status === 204) {
          assert.equal(offset, before.offset, `${what}: accepted at a wrong offset`);
          assert.equal(Number(res.header('upload-offset')), before.offset + p.length, what);
          accepted = Buffer.concat([accepted, body]);
        } else {
          assertJsonError(res);
          assert.ok(res.status >= 400, what);
          if (offset !== before.offset) assert.equal(res.status, 409, what);
        }
        assert.equal(after.offset, accepted.length, `${what}: answered ${res.status}, offset now ${after.offset}`);
        if (knownLength !== null) assert.equal(after.length, knownLength, `${what}: the length changed`);
        knownLength = after.length;
        if (knownLength !== null) assert.ok(after.offset <= knownLength, `${what}: offset past the length`);
      }
      if (knownLength !== null && accepted.length === knownLength) {
        const download = await send(location, { timeoutMs: REQUEST_TIMEOUT_MS });
        assert.equal(download.status, 200);
        assert.ok(download.body.equals(accepted), 'the download is not the accepted bytes');
      }
    }), runs(40));
  });

  it('the IETF draft keeps the same invariants, with Upload-Complete ending the upload at its offset', async () => {
    const draft = { 'Upload-Draft-Interop-Version': '8' };
    const append = fc.record({ skew: patch.map((p) => p.skew), length: fc.nat(12), complete: fc.boolean() }, { noNullPrototype: true });
    await fc.assert(fc.asyncProperty(fc.array(append, { minLength: 1, maxLength: 8 }), fc.nat(), async (appends, seed) => {
      const created = await send(server.endpoint, { method: 'POST', headers: { ...draft, 'Upload-Complete': '?0' }, timeoutMs: REQUEST_TIMEOUT_MS });
      assert.equal(created.status, 201);
      const location = created.header('location')!;
      let accepted = Buffer.alloc(0);
      let complete = false;
      for (const [i, a] of appends.entries()) {
        if (complete) break;
        const body = Buffer.alloc(a.length, (seed + i) % 251);
        const offset = Math.max(0, accepted.length + a.skew);
        const res = await send(location, {
          method: 'PATCH', body, timeoutMs: REQUEST_TIMEOUT_MS,
          headers: { ...draft, 'Content-Type': PARTIAL, 'Upload-Offset': offset, 'Upload-Complete': a.complete ? '?1' : '?0' },
        });
        const what = `append ${i} at ${offset} (offset ${accepted.length}) of ${a.length} bytes, complete ${a.complete}`;
        assertNotServerError(res, what);
        if (res.status < 300) {
          assert.equal(offset, accepted.length, `${what}: accepted at a wrong offset`);
          accepted = Buffer.concat([accepted, body]);
          complete = a.complete;
          assert.equal(res.header('upload-complete'), complete ? '?1' : '?0', what);
        } else {
          assertProblem(res);
          if (offset !== accepted.length) assert.deepEqual([res.status, res.header('upload-offset')], [409, String(accepted.length)], what);
        }
        const status = await send(location, { method: 'HEAD', headers: draft, timeoutMs: REQUEST_TIMEOUT_MS });
        assert.equal(status.header('upload-offset'), String(accepted.length), `${what}: answered ${res.status}`);
        assert.equal(status.header('upload-complete'), complete ? '?1' : '?0', what);
      }
      if (complete) {
        const download = await send(location, { timeoutMs: REQUEST_TIMEOUT_MS });
        assert.equal(download.status, 200);
        assert.ok(download.body.equals(accepted), 'the download is not the accepted bytes');
      }
    }), runs(40));
  });
});
