/**
 * The IETF resumable-upload draft (../shared/specs/ietf.md, interop version 8), and the earlier
 * interop versions 6 and 5 where their rules differ:
 *   5 (draft-03): no Upload-Limit, no required media type for appends;
 *   6 (draft-04/05): appends must be application/partial-upload, Upload-Limit with `expires`,
 *     Upload-Length exists but the inconsistent-length problem type does not yet;
 *   8 (draft-09..11): Upload-Limit `max-age`, the inconsistent-upload-length problem type.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkResponse, defineCases, type HttpCase } from '../helpers/http-cases.js';
import { send, sleep } from '../helpers/http-client.js';
import { PARTIAL, draft, ietfCreate, parseSfDictionary } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type V = Record<string, string>;

const MISMATCHING_OFFSET = 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset';
const INCONSISTENT_LENGTH = 'https://iana.org/assignments/http-problem-types#inconsistent-upload-length';
const VERSIONS = [8, 6, 5] as const;

/** Headers of an append request in `version`. */
function appendHeaders(version: number, offset: number | string, complete: boolean, extra: Record<string, string | number> = {}) {
  return draft(version, {
    'Content-Type': PARTIAL,
    'Upload-Offset': String(offset),
    'Upload-Complete': complete ? '?1' : '?0',
    ...extra,
  });
}

function head(location: string, version: number) {
  return send(location, { method: 'HEAD', headers: draft(version) });
}

/** The upload's bytes as the plain download endpoint serves them (no draft header). */
async function stored(location: string): Promise<string | number> {
  const res = await send(location);
  return res.status === 200 ? res.text() : res.status;
}

function problem(res: { json(): unknown; header(name: string): string | undefined }): Record<string, unknown> {
  assert.match(res.header('content-type') ?? '', /^application\/problem\+json/, 'expected a problem+json body');
  return res.json() as Record<string, unknown>;
}

for (const version of VERSIONS) {
  describe(`IETF draft, interop version ${version}`, () => {
    let server: TestServer;
    before(async () => { server = await startTestServer(); });
    after(async () => { await server?.stop(); });

    it('POST with Upload-Complete: ?1 and the whole body -> 2xx with Upload-Complete: ?1, the upload stored', async () => {
      const res = await send(server.endpoint, {
        method: 'POST',
        headers: draft(version, { 'Upload-Complete': '?1' }),
        body: 'hello world',
      });
      assert.ok(res.status >= 200 && res.status < 300, `status ${res.status}: ${res.text()}`);
      assert.equal(res.header('upload-complete'), '?1');
      const location = res.interim.find((interim) => interim.status === 104)?.headers.location ?? res.header('location');
      assert.ok(location, 'no upload URL in the 104 or the final response');
      assert.equal(await stored(new URL(String(location), server.endpoint).toString()), 'hello world');
    });

    it('a 104 interim response with Location and Upload-Draft-Interop-Version precedes the final response', async () => {
      const res = await send(server.endpoint, {
        method: 'POST',
        headers: draft(version, { 'Upload-Complete': '?0' }),
        body: 'hello',
      });
      assert.equal(res.status, 201, res.text());
      const interim = res.interim.filter((i) => i.status === 104);
      assert.ok(interim.length >= 1, `no 104 before the ${res.status}: ${JSON.stringify(res.interim)}`);
      assert.equal(interim[0]!.headers['upload-draft-interop-version'], String(version));
      assert.ok(interim[0]!.headers.location, '104 without Location');
      // All interim and final responses of the request carry an identical Location.
      assert.equal(interim[0]!.headers.location, res.header('location'));
      if (version >= 6) assert.ok(interim[0]!.headers['upload-limit'], '104 without Upload-Limit');
    });

    it('POST with Upload-Complete: ?0 and part of the body -> 201, Location, Upload-Complete: ?0' + (version >= 6 ? ', Upload-Limit' : ''), async () => {
      const res = await send(server.endpoint, {
        method: 'POST',
        headers: draft(version, { 'Upload-Complete': '?0', 'Upload-Length': 11 }),
        body: 'hello',
      });
      checkResponse(res, { status: 201, present: ['Location'], equal: { 'Upload-Complete': '?0' } });
      if (version >= 6) assert.ok(res.header('upload-limit'), 'no Upload-Limit on the 201');
      const location = new URL(res.header('location')!, server.endpoint).toString();
      const state = await head(location, version);
      assert.equal(state.header('upload-offset'), '5');
      assert.equal(state.header('upload-complete'), '?0');
      assert.notEqual(await stored(location), 200, 'an incomplete upload is not downloadable');
    });

    it('POST with Upload-Complete: ?0 and no body -> 201 with an upload at offset 0', async () => {
      const { location, res } = await ietfCreate(server, version);
      assert.equal(res.header('upload-complete'), '?0');
      assert.equal((await head(location, version)).header('upload-offset'), '0');
    });

    it('HEAD: 204 with Upload-Offset, Upload-Complete, Upload-Length when known, Cache-Control: no-store', async () => {
      const { location } = await ietfCreate(server, version, { 'Upload-Length': 11 }, 'hello');
      const res = await head(location, version);
      checkResponse(res, {
        status: 204,
        equal: { 'Upload-Offset': '5', 'Upload-Complete': '?0', 'Upload-Length': '11' },
        lists: { 'Cache-Control': ['no-store'] },
      });
      if (version === 8) {
        const limit = parseSfDictionary(res.header('upload-limit') ?? '');
        const maxAge = Number(limit.get('max-age'));
        assert.ok(Number.isInteger(maxAge) && maxAge > 0, `Upload-Limit of an open upload should hold max-age: ${res.header('upload-limit')}`);
      }
      if (version === 6) {
        const limit = parseSfDictionary(res.header('upload-limit') ?? '');
        assert.ok(Number.isInteger(Number(limit.get('expires'))), `interop 6 names the lifetime limit "expires": ${res.header('upload-limit')}`);
      }
    });

    it('GET on the upload resource is an offset retrieval too: Upload-Offset and Upload-Complete', async () => {
      const { location } = await ietfCreate(server, version, {}, 'abc');
      const res = await send(location, { headers: draft(version) });
      assert.ok(res.status >= 200 && res.status < 300, `GET: ${res.status}`);
      assert.equal(res.header('upload-offset'), '3');
      assert.equal(res.header('upload-complete'), '?0');
    });

    it('HEAD without a known length omits Upload-Length', async () => {
      const { location } = await ietfCreate(server, version, {}, 'abc');
      const res = await head(location, version);
      assert.equal(res.status, 204);
      assert.equal(res.header('upload-offset'), '3');
      assert.equal(res.header('upload-length'), undefined);
    });

    it('PATCH ?0 then PATCH ?1 completes the upload', async () => {
      const { location } = await ietfCreate(server, version);
      const first = await send(location, { method: 'PATCH', headers: appendHeaders(version, 0, false), body: 'hello' });
      assert.ok(first.status >= 200 && first.status < 300, `first append: ${first.status} ${first.text()}`);
      assert.equal(first.header('upload-complete'), '?0');
      // Interim responses to an append must not carry Location.
      assert.ok(first.interim.every((i) => i.headers.location === undefined), JSON.stringify(first.interim));
      assert.equal((await head(location, version)).header('upload-offset'), '5');

      const last = await send(location, { method: 'PATCH', headers: appendHeaders(version, 5, true), body: ' world' });
      assert.ok(last.status >= 200 && last.status < 300, `last append: ${last.status} ${last.text()}`);
      assert.equal(last.header('upload-complete'), '?1');
      const state = await head(location, version);
      assert.equal(state.header('upload-complete'), '?1');
      assert.equal(state.header('upload-offset'), '11');
      assert.equal(await stored(location), 'hello world');
    });

    it('an empty PATCH ?1 completes an upload whose bytes all arrived earlier', async () => {
      const { location } = await ietfCreate(server, version, {}, 'hello');
      const res = await send(location, { method: 'PATCH', headers: appendHeaders(version, 5, true), body: '' });
      assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.text()}`);
      assert.equal(res.header('upload-complete'), '?1');
      assert.equal(await stored(location), 'hello');
    });

    it('PATCH at the wrong offset -> 409 with the correct Upload-Offset and a mismatching-upload-offset problem', async () => {
      const { location } = await ietfCreate(server, version, {}, 'hello');
      const res = await send(location, { method: 'PATCH', headers: appendHeaders(version, 9, false), body: 'xyz' });
      checkResponse(res, { status: 409, equal: { 'Upload-Offset': '5', 'Upload-Complete': '?0' } });
      const body = problem(res);
      assert.equal(body.type, MISMATCHING_OFFSET);
      assert.equal(body['expected-offset'], 5);
      assert.equal(body['provided-offset'], 9);
      assert.equal((await head(location, version)).header('upload-offset'), '5');
    });

    if (version >= 6) {
      for (const [label, type] of [['without a Content-Type', undefined], ['with application/offset+octet-stream', 'application/offset+octet-stream']] as const) {
        it(`PATCH ${label} -> 415, nothing appended`, async () => {
          const { location } = await ietfCreate(server, version);
          const res = await send(location, {
            method: 'PATCH',
            headers: { ...appendHeaders(version, 0, false), 'Content-Type': type },
            body: 'hello',
          });
          assert.equal(res.status, 415, res.text());
          assert.equal((await head(location, version)).header('upload-offset'), '0');
        });
      }
    } else {
      it('PATCH without application/partial-upload is accepted in interop version 5', async () => {
        const { location } = await ietfCreate(server, version);
        const res = await send(location, {
          method: 'PATCH',
          headers: { ...appendHeaders(version, 0, false), 'Content-Type': 'application/octet-stream' },
          body: 'hello',
        });
        assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.text()}`);
        assert.equal((await head(location, version)).header('upload-offset'), '5');
      });
    }

    if (version >= 6) {
      const inconsistent = (res: Awaited<ReturnType<typeof send>>) => {
        assert.equal(res.status, 400, res.text());
        if (version >= 7) assert.equal(problem(res).type, INCONSISTENT_LENGTH);
      };

      it('POST ?1 with an Upload-Length that differs from Content-Length -> 400 (inconsistent length)', async () => {
        const res = await send(server.endpoint, {
          method: 'POST',
          headers: draft(version, { 'Upload-Complete': '?1', 'Upload-Length': 10 }),
          body: 'hello',
        });
        inconsistent(res);
      });

      it('PATCH ?1 whose Content-Length ends the upload before its Upload-Length -> 400 (inconsistent length)', async () => {
        const { location } = await ietfCreate(server, version, { 'Upload-Length': 11 }, 'hello');
        const res = await send(location, { method: 'PATCH', headers: appendHeaders(version, 5, true, { 'Upload-Length': 11 }), body: ' w' });
        inconsistent(res);
        const state = await head(location, version);
        assert.equal(state.header('upload-complete'), '?0');
        assert.equal(state.header('upload-length'), '11');
      });

      it('a later Upload-Length differing from the first -> 400 (inconsistent length)', async () => {
        const { location } = await ietfCreate(server, version, { 'Upload-Length': 11 }, 'hello');
        const res = await send(location, { method: 'PATCH', headers: appendHeaders(version, 5, false, { 'Upload-Length': 12 }), body: ' w' });
        inconsistent(res);
        const state = await head(location, version);
        assert.equal(state.header('upload-length'), '11');
        assert.equal(state.header('upload-offset'), '5');
      });

      it('a body that would take the offset past Upload-Length is refused and the offset stays within the length', async () => {
        const { location } = await ietfCreate(server, version, { 'Upload-Length': 8 }, 'hello');
        const res = await send(location, { method: 'PATCH', headers: appendHeaders(version, 5, false), body: ' world' });
        assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text()}`);
        const state = await head(location, version);
        assert.ok(Number(state.header('upload-offset')) <= 8, `offset ${state.header('upload-offset')} passed the length 8`);
      });
    }

    it('DELETE -> 204, then HEAD -> 404/410', async () => {
      const { location } = await ietfCreate(server, version, {}, 'hello');
      const res = await send(location, { method: 'DELETE', headers: draft(version) });
      assert.equal(res.status, 204, res.text());
      const gone = await head(location, version);
      assert.ok([404, 410].includes(gone.status), `HEAD after DELETE: ${gone.status}`);
      const patch = await send(location, { method: 'PATCH', headers: appendHeaders(version, 5, true), body: 'x' });
      assert.ok([404, 410].includes(patch.status), `PATCH after DELETE: ${patch.status}`);
    });

    it('POST ?1 with an empty body creates an empty, complete upload', async () => {
      const res = await send(server.endpoint, { method: 'POST', headers: draft(version, { 'Upload-Complete': '?1' }), body: '' });
      assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.text()}`);
      assert.equal(res.header('upload-complete'), '?1');
      const location = res.interim.find((i) => i.status === 104)?.headers.location ?? res.header('location');
      const download = await send(new URL(String(location), server.endpoint).toString());
      assert.equal(download.status, 200);
      assert.equal(download.body.length, 0);
    });

    it('appending more bytes to a completed upload does not change it', async () => {
      const res = await send(server.endpoint, { method: 'POST', headers: draft(version, { 'Upload-Complete': '?1' }), body: 'final' });
      assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.text()}`);
      const location = new URL(String(res.interim.find((i) => i.status === 104)?.headers.location ?? res.header('location')), server.endpoint).toString();
      for (const complete of [false, true]) {
        const more = await send(location, { method: 'PATCH', headers: appendHeaders(version, 5, complete), body: 'extra' });
        assert.ok(more.status >= 400 && more.status < 500, `append to a completed upload: ${more.status} ${more.text()}`);
      }
      const state = await head(location, version);
      assert.equal(state.header('upload-offset'), '5');
      assert.equal(state.header('upload-complete'), '?1');
      assert.equal(await stored(location), 'final');
    });

    it('Expect: 100-continue still gets its 100 (Continue) alongside the 104', async () => {
      const res = await send(server.endpoint, {
        method: 'POST',
        headers: draft(version, { 'Upload-Complete': '?0', Expect: '100-continue' }),
        body: 'hello',
      });
      assert.equal(res.status, 201, res.text());
      const statuses = res.interim.map((i) => i.status);
      assert.ok(statuses.includes(100), `interim responses: ${statuses.join(', ')}`);
      assert.ok(statuses.includes(104), `interim responses: ${statuses.join(', ')}`);
    });

    it('HEAD of an unknown upload -> 404', async () => {
      const res = await head(`${server.endpoint}0123456789abcdef0123456789abcdef`, version);
      assert.equal(res.status, 404);
      assert.equal(res.header('upload-offset'), undefined);
    });
  });
}

describe('IETF draft: the representation\'s own media type', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  // Content-Type of a creation request describes the representation (draft, Upload Creation): any
  // media type must be stored byte for byte, whatever parsers the framework has for it.
  const bodies: [string, string][] = [
    ['application/octet-stream', 'hello world'],
    ['image/png', 'not really a png'],
    ['text/plain', 'hello world'],
    ['text/plain; charset=utf-8', 'grüße'],
    ['application/json', '{"hello":"world"}'],
  ];
  for (const [type, body] of bodies) {
    it(`POST ?1 with Content-Type ${type}: the body is stored as sent`, async () => {
      const res = await send(server.endpoint, { method: 'POST', headers: draft(8, { 'Upload-Complete': '?1', 'Content-Type': type }), body });
      assert.ok(res.status >= 200 && res.status < 300, `status ${res.status}: ${res.text()}`);
      assert.equal(res.header('upload-complete'), '?1');
      const location = res.interim.find((i) => i.status === 104)?.headers.location ?? res.header('location');
      const download = await send(new URL(String(location), server.endpoint).toString());
      assert.equal(download.status, 200);
      assert.equal(download.text(), body);
      // The media type survives (its parameters may or may not).
      assert.equal(download.header('content-type')?.split(';')[0]!.trim(), type.split(';')[0]);
    });

    it(`POST ?0 with Content-Type ${type}: the partial body is appended`, async () => {
      const res = await send(server.endpoint, { method: 'POST', headers: draft(8, { 'Upload-Complete': '?0', 'Content-Type': type }), body });
      assert.equal(res.status, 201, res.text());
      const location = new URL(res.header('location')!, server.endpoint).toString();
      assert.equal((await head(location, 8)).header('upload-offset'), String(Buffer.byteLength(body)));
    });
  }

  it('interop 5 PATCH with Content-Type text/plain appends its body', async () => {
    const { location } = await ietfCreate(server, 5);
    const res = await send(location, { method: 'PATCH', headers: { ...appendHeaders(5, 0, true), 'Content-Type': 'text/plain' }, body: 'abc' });
    assert.ok(res.status >= 200 && res.status < 300, `status ${res.status}: ${res.text()}`);
    assert.equal(await stored(location), 'abc');
  });
});

describe('IETF draft: concurrency', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  // "the offset sent by the server MUST be accepted in a subsequent request to append
  // representation data if no other request to append representation data or cancel was received
  // in the meantime" - even when the offset was retrieved while an earlier append still streamed.
  it('an offset retrieved while an append is still streaming is accepted by the next append', async () => {
    const { location } = await ietfCreate(server, 8);
    let retrieved = -1;
    let resumed: Awaited<ReturnType<typeof send>> | undefined;
    const streaming = send(location, {
      method: 'PATCH',
      headers: appendHeaders(8, 0, false),
      body: {
        chunks: ['aaaaa', 'bbbbb', 'ccccc', 'ddddd'],
        delayMs: 300,
        onChunk: async (index) => {
          if (index !== 0) return;
          await sleep(150);
          const state = await head(location, 8);
          assert.equal(state.status, 204);
          retrieved = Number(state.header('upload-offset'));
          resumed = await send(location, { method: 'PATCH', headers: appendHeaders(8, retrieved, false), body: 'zz' });
        },
      },
      timeoutMs: 5_000,
    }).catch((err: Error) => err);
    await streaming;
    for (let i = 0; i < 50 && resumed === undefined; i += 1) await sleep(50);
    assert.ok(resumed, 'the resuming append never ran');
    assert.ok(retrieved >= 0 && retrieved <= 5, `retrieved offset ${retrieved}`);
    assert.ok(resumed.status >= 200 && resumed.status < 300, `append at the retrieved offset ${retrieved}: ${resumed.status} ${resumed.text()}`);
    const state = await head(location, 8);
    assert.equal(state.header('upload-offset'), String(retrieved + 2));
    // The bytes before the retrieved offset are the first request's, followed by the resumed ones.
    const done = await send(location, { method: 'PATCH', headers: appendHeaders(8, retrieved + 2, true), body: '' });
    assert.ok(done.status >= 200 && done.status < 300, `${done.status} ${done.text()}`);
    assert.equal(await stored(location), `${'aaaaa'.slice(0, retrieved)}zz`);
  });
});

describe('IETF draft: Upload-Limit announcements', () => {
  let plain: TestServer;
  let limited: TestServer;
  before(async () => {
    plain = await startTestServer();
    limited = await startTestServer({ maxUploadSize: 1000 });
  });
  after(async () => {
    await plain?.stop();
    await limited?.stop();
  });

  it('OPTIONS with no size limit configured: Upload-Limit: min-size=0, and the lifetime every upload gets as max-age', async () => {
    const res = await send(plain.endpoint, { method: 'OPTIONS', headers: draft(8) });
    assert.ok([200, 204].includes(res.status), `${res.status}`);
    const limit = parseSfDictionary(res.header('upload-limit') ?? '');
    assert.equal(limit.get('min-size'), '0', `Upload-Limit: ${res.header('upload-limit')}`);
    assert.equal(limit.get('max-age'), String(24 * 60 * 60), `Upload-Limit: ${res.header('upload-limit')}`);
  });

  it('OPTIONS with maxUploadSize: Upload-Limit has max-size=N', async () => {
    const res = await send(limited.endpoint, { method: 'OPTIONS', headers: draft(8) });
    assert.ok([200, 204].includes(res.status), `${res.status}`);
    assert.equal(parseSfDictionary(res.header('upload-limit') ?? '').get('max-size'), '1000', `Upload-Limit: ${res.header('upload-limit')}`);
  });

  it('creation above max-size -> 413, with Upload-Limit', async () => {
    const res = await send(limited.endpoint, { method: 'POST', headers: draft(8, { 'Upload-Complete': '?0', 'Upload-Length': 1001 }) });
    assert.equal(res.status, 413, res.text());
    assert.equal(parseSfDictionary(res.header('upload-limit') ?? '').get('max-size'), '1000');
  });

  it('the 201 and a HEAD of an open upload carry max-size and max-age', async () => {
    const { location, res } = await ietfCreate(limited, 8, { 'Upload-Length': 10 });
    for (const response of [res, await head(location, 8)]) {
      const limit = parseSfDictionary(response.header('upload-limit') ?? '');
      assert.equal(limit.get('max-size'), '1000', `Upload-Limit: ${response.header('upload-limit')}`);
      assert.match(limit.get('max-age') ?? '', /^\d+$/, `Upload-Limit: ${response.header('upload-limit')}`);
    }
  });

  it('appends cannot take an upload of unknown length past max-size', async () => {
    const { location } = await ietfCreate(limited, 8);
    const res = await send(location, { method: 'PATCH', headers: appendHeaders(8, 0, false), body: Buffer.alloc(1001, 'x') });
    assert.equal(res.status, 413, res.text());
    assert.equal((await head(location, 8)).header('upload-offset'), '0');
  });
});

describe('IETF draft: interop version negotiation', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const cases: HttpCase<V>[] = ['4', '9', '99', 'abc', '-8', '8.0'].flatMap((bad): HttpCase<V>[] => [
    {
      name: `POST with Upload-Draft-Interop-Version: ${bad} -> 400 and no 104`,
      method: 'POST',
      path: '/files/',
      headers: { 'Upload-Draft-Interop-Version': bad, 'Upload-Complete': '?1' },
      body: 'hello',
      expect: {
        status: 400,
        absent: ['Location'],
        body: (_b, res) => assert.deepEqual(res.interim.filter((i) => i.status === 104), [], 'a 104 was sent for an unsupported interop version'),
      },
    },
    {
      name: `HEAD with Upload-Draft-Interop-Version: ${bad} -> 400`,
      setup: async (s) => ({ location: (await ietfCreate(s, 8)).location }),
      method: 'HEAD',
      path: (v) => v.location!,
      headers: { 'Upload-Draft-Interop-Version': bad },
      expect: { status: 400, absent: ['Upload-Offset'] },
    },
  ]);
  defineCases(() => server, cases);

  it('a POST with Upload-Complete but no interop version gets no 104', async () => {
    const res = await send(server.endpoint, { method: 'POST', headers: { 'Upload-Complete': '?1' }, body: 'hello' });
    assert.deepEqual(res.interim.filter((i) => i.status === 104), []);
  });
});

describe('IETF draft with interim responses off (FERRY_INTERIM_RESPONSES=false, for proxies that mistake a 1xx for the answer)', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ interimResponses: false, checkpointBytes: 64 * 1024 }); });
  after(async () => { await server?.stop(); });

  it('creation and appends past several checkpoints answer with no 104 at all; Location comes with the final response', async () => {
    const body = Buffer.alloc(512 * 1024, 1);
    const created = await send(server.endpoint, { method: 'POST', headers: draft(8, { 'Upload-Complete': '?0' }), body });
    assert.equal(created.status, 201, created.text());
    assert.deepEqual(created.interim, []);
    const location = new URL(created.header('location')!, server.endpoint).toString();
    const appended = await send(location, { method: 'PATCH', headers: appendHeaders(8, body.length, true), body });
    assert.equal(appended.status, 200, appended.text());
    assert.deepEqual(appended.interim, []);
    assert.equal(appended.header('upload-complete'), '?1');
    assert.equal(await stored(location), body.toString().repeat(2));
  });
});
