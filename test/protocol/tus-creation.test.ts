/**
 * tus 1.0.0 Creation, Creation With Upload and Creation Defer Length extensions, and
 * Upload-Metadata, from ../shared/specs/tus-protocol.md.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineCases, type HttpCase } from '../helpers/http-cases.js';
import { send } from '../helpers/http-client.js';
import { CHUNK, IMF_FIXDATE, TUS, metadataHeader, parseMetadataHeader, tusCreate, tusHead, tusOffset, tusPatch } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type V = Record<string, string>;

describe('tus creation (POST)', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ maxUploadSize: 1000 }); });
  after(async () => { await server?.stop(); });

  const created = { status: 201, present: ['Location', 'Upload-Expires'], equal: { 'Tus-Resumable': '1.0.0' } };
  const cases: HttpCase<V>[] = [
    {
      name: 'POST with Upload-Length -> 201, Location, Upload-Expires (HTTP-date)',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 100 },
      expect: {
        ...created,
        match: { 'Upload-Expires': IMF_FIXDATE },
        after: async (_v, res, s) => {
          // The Location leads to an upload at offset 0 with the declared length.
          const location = new URL(res.header('location')!, s.endpoint).toString();
          const head = await tusHead(location);
          assert.equal(head.status, 200);
          assert.equal(head.header('upload-offset'), '0');
          assert.equal(head.header('upload-length'), '100');
        },
      },
    },
    {
      name: 'POST with Upload-Defer-Length: 1 -> 201',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Defer-Length': 1 },
      expect: created,
    },
    {
      name: 'POST with Upload-Length equal to Tus-Max-Size -> 201',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 1000 },
      expect: created,
    },
    {
      name: 'POST with Upload-Length above Tus-Max-Size -> 413',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 1001 },
      expect: { status: 413, absent: ['Location'] },
    },
    {
      name: 'POST with both Upload-Length and Upload-Defer-Length -> 400',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 10, 'Upload-Defer-Length': 1 },
      expect: { status: 400, absent: ['Location'] },
    },
    {
      name: 'POST with neither Upload-Length nor Upload-Defer-Length -> 400',
      method: 'POST',
      path: '/files/',
      headers: TUS,
      expect: { status: 400, absent: ['Location'] },
    },
    ...['0', '2', 'true', 'yes'].map((value): HttpCase<V> => ({
      name: `POST with Upload-Defer-Length: ${value} -> 400`,
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Defer-Length': value },
      expect: { status: 400, absent: ['Location'] },
    })),
    {
      name: 'POST with Upload-Length: 0 -> 201 and the empty upload is complete at once',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 0 },
      expect: {
        status: 201,
        present: ['Location'],
        after: async (_v, res, s) => {
          const location = new URL(res.header('location')!, s.endpoint).toString();
          const head = await tusHead(location);
          assert.equal(head.header('upload-offset'), '0');
          assert.equal(head.header('upload-length'), '0');
          const get = await send(location);
          assert.equal(get.status, 200, 'an empty upload should be complete and downloadable');
          assert.equal(get.body.length, 0);
        },
      },
    },
    {
      name: 'creation-with-upload: POST with a body -> 201 with Upload-Offset after the body',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 11, 'Content-Type': CHUNK },
      body: 'hello',
      expect: {
        status: 201,
        present: ['Location'],
        equal: { 'Upload-Offset': '5' },
        after: async (_v, res, s) => {
          const location = new URL(res.header('location')!, s.endpoint).toString();
          assert.equal(await tusOffset(location), 5);
          assert.equal((await tusPatch(location, 5, ' world')).status, 204);
          assert.equal((await send(location)).text(), 'hello world');
        },
      },
    },
    {
      name: 'creation-with-upload carrying the whole upload completes it',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 5, 'Content-Type': CHUNK },
      body: 'hello',
      expect: {
        status: 201,
        equal: { 'Upload-Offset': '5' },
        after: async (_v, res, s) => {
          const get = await send(new URL(res.header('location')!, s.endpoint).toString());
          assert.equal(get.status, 200);
          assert.equal(get.text(), 'hello');
        },
      },
    },
    {
      name: 'creation-with-upload with a body longer than Upload-Length -> 413',
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'Upload-Length': 3, 'Content-Type': CHUNK },
      body: 'hello',
      expect: { status: 413 },
    },
  ];
  defineCases(() => server, cases, { equal: { 'Tus-Resumable': '1.0.0' } });

  it('each POST creates a distinct upload URL', async () => {
    const a = await tusCreate(server, { 'Upload-Length': 1 });
    const b = await tusCreate(server, { 'Upload-Length': 1 });
    assert.notEqual(a.location, b.location);
  });

  it('Upload-Expires of a new upload lies in the future', async () => {
    const { res } = await tusCreate(server, { 'Upload-Length': 10 });
    const expires = Date.parse(res.header('upload-expires')!);
    assert.ok(expires > Date.now() - 1000, `Upload-Expires ${res.header('upload-expires')} is in the past`);
  });
});

describe('tus Upload-Metadata', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  it('round-trips through HEAD, keys without values included', async () => {
    const sent = metadataHeader({ filename: 'world_domination_plan.pdf', is_confidential: null, note: 'grüße ✓' });
    const { location } = await tusCreate(server, { 'Upload-Length': 10, 'Upload-Metadata': sent });
    const head = await tusHead(location);
    assert.equal(head.status, 200);
    const echoed = head.header('upload-metadata');
    assert.ok(echoed, 'HEAD must carry Upload-Metadata when the upload has metadata');
    assert.deepEqual(parseMetadataHeader(echoed), parseMetadataHeader(sent));
    // "its value as specified by the Client during the creation"
    assert.equal(echoed, sent);
  });

  it('a key followed by its separating space but an empty value is accepted as a key without value', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 1, 'Upload-Metadata': `flag ,a ${Buffer.from('x').toString('base64')}` });
    const head = await tusHead(location);
    const echoed = parseMetadataHeader(head.header('upload-metadata')!);
    assert.equal(echoed.a, 'x');
    assert.ok(echoed.flag === null || echoed.flag === '', `flag: ${JSON.stringify(echoed.flag)}`);
  });

  it('an upload without metadata has no Upload-Metadata in HEAD', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 1 });
    assert.equal((await tusHead(location)).header('upload-metadata'), undefined);
  });

  const malformed: [string, string][] = [
    ['a value that is not base64', 'filename %%%notbase64'],
    ['a value with base64 garbage', 'filename d29y!bGQ='],
    ['a duplicated key', `filename ${Buffer.from('a').toString('base64')},filename ${Buffer.from('b').toString('base64')}`],
    ['an empty key (leading comma)', `,filename ${Buffer.from('a').toString('base64')}`],
    ['an empty key (trailing comma)', `filename ${Buffer.from('a').toString('base64')},`],
    ['two spaces between key and value', `filename  ${Buffer.from('a').toString('base64')}`],
    ['three space-separated parts', `filename ${Buffer.from('a').toString('base64')} extra`],
    ['a value that is not UTF-8', `filename ${Buffer.from([0xff, 0xfe, 0xfd]).toString('base64')}`],
  ];
  const cases: HttpCase<V>[] = malformed.map(([label, header]) => ({
    name: `Upload-Metadata with ${label} -> 400`,
    method: 'POST',
    path: '/files/',
    headers: { ...TUS, 'Upload-Length': 10, 'Upload-Metadata': header },
    expect: { status: 400, absent: ['Location'] },
  }));
  defineCases(() => server, cases, { equal: { 'Tus-Resumable': '1.0.0' } });
});

describe('tus creation-defer-length', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  it('Upload-Length in a later PATCH sets the length, after which HEAD shows it', async () => {
    const { location } = await tusCreate(server, { 'Upload-Defer-Length': 1 });
    const first = await tusPatch(location, 0, 'hello');
    assert.equal(first.status, 204);
    let head = await tusHead(location);
    assert.equal(head.header('upload-defer-length'), '1', 'the length is still deferred');
    assert.equal(head.header('upload-length'), undefined);

    const second = await tusPatch(location, 5, ' wor', { 'Upload-Length': 11 });
    assert.equal(second.status, 204, second.text());
    assert.equal(second.header('upload-offset'), '9');
    head = await tusHead(location);
    assert.equal(head.header('upload-length'), '11');
    assert.equal(head.header('upload-defer-length'), undefined, 'Upload-Defer-Length must go once the length is known');

    const last = await tusPatch(location, 9, 'ld');
    assert.equal(last.status, 204);
    const get = await send(location);
    assert.equal(get.status, 200);
    assert.equal(get.text(), 'hello world');
  });

  it('a different Upload-Length in a later PATCH -> 400, and the length stays', async () => {
    const { location } = await tusCreate(server, { 'Upload-Defer-Length': 1 });
    assert.equal((await tusPatch(location, 0, 'hi', { 'Upload-Length': 10 })).status, 204);
    const res = await tusPatch(location, 2, 'there', { 'Upload-Length': 12 });
    assert.equal(res.status, 400, res.text());
    const head = await tusHead(location);
    assert.equal(head.header('upload-length'), '10');
    assert.equal(head.header('upload-offset'), '2');
  });

  it('repeating the same Upload-Length later is accepted', async () => {
    const { location } = await tusCreate(server, { 'Upload-Defer-Length': 1 });
    assert.equal((await tusPatch(location, 0, 'hi', { 'Upload-Length': 4 })).status, 204);
    const res = await tusPatch(location, 2, 'ya', { 'Upload-Length': 4 });
    assert.equal(res.status, 204, res.text());
    assert.equal((await send(location)).text(), 'hiya');
  });

  it('an Upload-Length on an upload whose length was never deferred must not change it', async () => {
    const { location } = await tusCreate(server, { 'Upload-Length': 10 });
    const res = await tusPatch(location, 0, 'hi', { 'Upload-Length': 20 });
    assert.equal(res.status, 400, res.text());
    assert.equal((await tusHead(location)).header('upload-length'), '10');
  });

  it('an Upload-Length below the bytes already received -> 400', async () => {
    const { location } = await tusCreate(server, { 'Upload-Defer-Length': 1 });
    assert.equal((await tusPatch(location, 0, 'hello')).status, 204);
    const res = await tusPatch(location, 5, '', { 'Upload-Length': 3 });
    assert.equal(res.status, 400, res.text());
    assert.equal((await tusHead(location)).header('upload-defer-length'), '1');
  });
});

describe('tus creation limits with deferred length', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ maxUploadSize: 20 }); });
  after(async () => { await server?.stop(); });

  it('a deferred upload cannot grow past Tus-Max-Size', async () => {
    const { location } = await tusCreate(server, { 'Upload-Defer-Length': 1 });
    const res = await tusPatch(location, 0, Buffer.alloc(21, 'x'));
    assert.equal(res.status, 413, res.text());
    assert.equal(await tusOffset(location), 0);
  });

  it('a deferred upload cannot declare a length past Tus-Max-Size', async () => {
    const { location } = await tusCreate(server, { 'Upload-Defer-Length': 1 });
    const res = await tusPatch(location, 0, 'abc', { 'Upload-Length': 21 });
    assert.equal(res.status, 413, res.text());
    assert.equal(await tusOffset(location), 0);
  });
});
