/**
 * The isolation matrix: two users, every route of every protocol (tus 1.0, the IETF draft at
 * /files/, the native chunk API, the files API, API keys), each user trying the other's ids.
 * Every answer must be exactly the answer to a nonexistent id of the same shape (status, error
 * code, headers and body, ids aside) and must carry none of the owner's bytes, names, sizes,
 * digests, ids or keys. Afterwards nothing of the owner's has changed. Also: every route wants a
 * token, a streaming upload is not disturbed by another user's requests on its id, and knowing a
 * file's SHA-256 does not reach its content.
 *
 * Each route is one row (one `it`); a row runs against every id the other user has, so a failure
 * names the route and the kind of id.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { send, sleep, type HttpResult } from '../helpers/http-client.js';
import { CHUNK, draft, ietfCreate, metadataHeader, PARTIAL, TUS, tusCreate, tusPatch } from '../helpers/http-tus.js';
import {
  errorCodeOf, jsonProbe, LeakScanner, oneLine, randomId, seen, sendProbe, type Credentials, type Probe,
} from '../helpers/isolation-matrix.js';
import { answerChallenge, contentDigest, NativeClient, sha256Hex, type UploadJson } from '../helpers/native-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/users.js';

const API = '/api/v1';
const NATIVE_CHUNK = 64 * 1024;
const IETF_VERSIONS = [5, 6, 7, 8] as const;

type Kind =
  | 'tus-open' | 'tus-done' | 'tus-partial' | 'ietf-open' | 'native-open' | 'native-done'
  | 'file-tus' | 'file-native' | 'file-library' | 'key';

const UPLOAD_KINDS: readonly Kind[] = ['tus-open', 'tus-done', 'tus-partial', 'ietf-open', 'native-open', 'native-done'];
const FILE_KINDS: readonly Kind[] = ['file-tus', 'file-native', 'file-library'];

/** Something of one user's that a route can name. */
interface Target {
  readonly kind: Kind | 'nonexistent' | 'streaming';
  readonly id: string;
  /** The offset an append must name to be accepted (uploads); 0 for the rest. */
  readonly offset: number;
  /** The content's SHA-256 (the ETag of a download); random for things without content. */
  readonly sha256: string;
}

interface Row {
  readonly name: string;
  readonly family: 'tus' | 'ietf' | 'native' | 'files' | 'keys';
  /** What a nonexistent id gets, and so what another user's id must get. */
  readonly status: number;
  /** The error code of the body; null for HEAD (no body). */
  readonly code: string | null;
  readonly probe: (target: Target) => Probe;
  /**
   * The owner's own identical request on these kinds answers `status`: the row really reaches the
   * resource, so its 404 for the other user is not the 404 of a mistyped route. Only for rows
   * that change nothing.
   */
  readonly control?: { readonly kinds: readonly Kind[]; readonly status: number };
  /** The kind this row is about, for the rows that run against one id only (401 checks). */
  readonly primary: Kind;
}

/** A user as the matrix sees them: credentials, their things, and what of theirs must not leak. */
interface Side {
  readonly name: string;
  readonly user: TestUser;
  readonly creds: Credentials;
  readonly targets: Map<Kind, Target>;
  readonly scanner: LeakScanner;
}

let server: TestServer;
/** Bob's own bytes, sent where a route takes a body (never alice's). */
const BOB_BYTES = randomBytes(NATIVE_CHUNK);

const rows: readonly Row[] = [
  // Reads.
  {
    name: 'tus HEAD /files/:id', family: 'tus', status: 404, code: null, primary: 'tus-open',
    probe: (t) => ({ method: 'HEAD', path: `/files/${t.id}`, headers: TUS }),
    control: { kinds: UPLOAD_KINDS, status: 200 },
  },
  {
    name: 'tus GET /files/:id (download)', family: 'tus', status: 404, code: 'upload_not_found', primary: 'tus-done',
    probe: (t) => ({ method: 'GET', path: `/files/${t.id}` }),
    control: { kinds: ['tus-done', 'tus-partial', 'native-done'], status: 200 },
  },
  {
    name: 'tus GET /files/:id (download) with Range: bytes=0-99', family: 'tus', status: 404, code: 'upload_not_found', primary: 'tus-done',
    probe: (t) => ({ method: 'GET', path: `/files/${t.id}`, headers: { Range: 'bytes=0-99' } }),
    control: { kinds: ['tus-done', 'tus-partial'], status: 206 },
  },
  {
    name: 'tus GET /files/:id (download) with If-None-Match: its ETag', family: 'tus', status: 404, code: 'upload_not_found', primary: 'tus-done',
    probe: (t) => ({ method: 'GET', path: `/files/${t.id}`, headers: { 'If-None-Match': `"${t.sha256}"` } }),
    control: { kinds: ['tus-done'], status: 304 },
  },
  {
    name: 'plain HEAD /files/:id (no Tus-Resumable: the download headers)', family: 'tus', status: 404, code: null, primary: 'tus-done',
    probe: (t) => ({ method: 'HEAD', path: `/files/${t.id}` }),
    control: { kinds: ['tus-done', 'tus-partial', 'native-done'], status: 200 },
  },
  ...IETF_VERSIONS.flatMap((v): Row[] => [
    {
      name: `IETF v${v} HEAD /files/:id (offset retrieval)`, family: 'ietf', status: 404, code: null, primary: 'ietf-open',
      probe: (t) => ({ method: 'HEAD', path: `/files/${t.id}`, headers: draft(v) }),
      control: { kinds: ['ietf-open', 'tus-open'], status: 204 },
    },
    {
      name: `IETF v${v} GET /files/:id (offset retrieval)`, family: 'ietf', status: 404, code: 'upload_not_found', primary: 'ietf-open',
      probe: (t) => ({ method: 'GET', path: `/files/${t.id}`, headers: draft(v) }),
      control: { kinds: ['ietf-open', 'tus-open'], status: 204 },
    },
  ]),
  {
    name: 'native GET /api/v1/uploads/:id', family: 'native', status: 404, code: 'upload_not_found', primary: 'native-open',
    probe: (t) => ({ method: 'GET', path: `${API}/uploads/${t.id}` }),
    control: { kinds: ['native-open', 'native-done'], status: 200 },
  },
  {
    name: 'files GET /api/v1/files/:id', family: 'files', status: 404, code: 'file_not_found', primary: 'file-tus',
    probe: (t) => ({ method: 'GET', path: `${API}/files/${t.id}` }),
    control: { kinds: FILE_KINDS, status: 200 },
  },
  {
    name: 'files GET /api/v1/files/:id/content', family: 'files', status: 404, code: 'file_not_found', primary: 'file-tus',
    probe: (t) => ({ method: 'GET', path: `${API}/files/${t.id}/content` }),
    control: { kinds: FILE_KINDS, status: 200 },
  },
  {
    name: 'files GET /api/v1/files/:id/content with Range: bytes=0-99', family: 'files', status: 404, code: 'file_not_found', primary: 'file-tus',
    probe: (t) => ({ method: 'GET', path: `${API}/files/${t.id}/content`, headers: { Range: 'bytes=0-99' } }),
    control: { kinds: FILE_KINDS, status: 206 },
  },
  {
    name: 'files GET /api/v1/files/:id/content with Range: bytes=-100', family: 'files', status: 404, code: 'file_not_found', primary: 'file-tus',
    probe: (t) => ({ method: 'GET', path: `${API}/files/${t.id}/content`, headers: { Range: 'bytes=-100' } }),
    control: { kinds: FILE_KINDS, status: 206 },
  },
  {
    name: 'files GET /api/v1/files/:id/content with If-None-Match: its ETag', family: 'files', status: 404, code: 'file_not_found', primary: 'file-tus',
    probe: (t) => ({ method: 'GET', path: `${API}/files/${t.id}/content`, headers: { 'If-None-Match': `"${t.sha256}"` } }),
    control: { kinds: FILE_KINDS, status: 304 },
  },
  {
    name: 'files HEAD /api/v1/files/:id/content', family: 'files', status: 404, code: null, primary: 'file-tus',
    probe: (t) => ({ method: 'HEAD', path: `${API}/files/${t.id}/content` }),
    control: { kinds: FILE_KINDS, status: 200 },
  },
  {
    name: 'files POST /api/v1/files/:id/link', family: 'files', status: 404, code: 'file_not_found', primary: 'file-tus',
    probe: (t) => ({ method: 'POST', path: `${API}/files/${t.id}/link` }),
    control: { kinds: FILE_KINDS, status: 200 },
  },
  {
    name: 'files HEAD /api/v1/files/:id/content with Range: bytes=10-19', family: 'files', status: 404, code: null, primary: 'file-tus',
    probe: (t) => ({ method: 'HEAD', path: `${API}/files/${t.id}/content`, headers: { Range: 'bytes=10-19' } }),
    control: { kinds: FILE_KINDS, status: 206 },
  },

  // Writes, with requests the owner's upload would accept (right offset, right length, valid digest).
  {
    name: 'tus PATCH /files/:id at its Upload-Offset', family: 'tus', status: 404, code: 'upload_not_found', primary: 'tus-open',
    probe: (t) => ({ method: 'PATCH', path: `/files/${t.id}`, headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': t.offset }, body: BOB_BYTES.subarray(0, 64) }),
  },
  {
    name: 'tus PATCH /files/:id tunnelled as POST + X-HTTP-Method-Override', family: 'tus', status: 404, code: 'upload_not_found', primary: 'tus-open',
    probe: (t) => ({
      method: 'POST', path: `/files/${t.id}`,
      headers: { ...TUS, 'X-HTTP-Method-Override': 'PATCH', 'Content-Type': CHUNK, 'Upload-Offset': t.offset }, body: BOB_BYTES.subarray(0, 64),
    }),
  },
  ...IETF_VERSIONS.map((v): Row => ({
    name: `IETF v${v} PATCH /files/:id (append) at its offset`, family: 'ietf', status: 404, code: 'upload_not_found', primary: 'ietf-open',
    probe: (t) => ({
      method: 'PATCH', path: `/files/${t.id}`,
      headers: draft(v, { 'Content-Type': PARTIAL, 'Upload-Offset': t.offset, 'Upload-Complete': '?0' }), body: BOB_BYTES.subarray(0, 64),
    }),
  })),
  ...[0, 1].map((index): Row => ({
    name: `native PUT /api/v1/uploads/:id/chunks/${index} with a valid Content-Digest`, family: 'native', status: 404, code: 'upload_not_found', primary: 'native-open',
    probe: (t) => ({
      method: 'PUT', path: `${API}/uploads/${t.id}/chunks/${index}`,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Digest': contentDigest(BOB_BYTES) }, body: BOB_BYTES,
    }),
  })),
  {
    name: 'native POST /api/v1/uploads/:id/complete', family: 'native', status: 404, code: 'upload_not_found', primary: 'native-open',
    probe: (t) => ({ method: 'POST', path: `${API}/uploads/${t.id}/complete` }),
  },
  {
    name: 'native POST /api/v1/uploads/:id/proof', family: 'native', status: 404, code: 'upload_not_found', primary: 'native-open',
    probe: (t) => jsonProbe('POST', `${API}/uploads/${t.id}/proof`, { proof: 'ab'.repeat(32) }),
  },
  ...(['paused', 'open'] as const).map((state): Row => ({
    name: `native PATCH /api/v1/uploads/:id {state: ${state}}`, family: 'native', status: 404, code: 'upload_not_found', primary: 'native-open',
    probe: (t) => jsonProbe('PATCH', `${API}/uploads/${t.id}`, { state }),
  })),
  {
    name: 'files PATCH /api/v1/files/:id (rename)', family: 'files', status: 404, code: 'file_not_found', primary: 'file-tus',
    probe: (t) => jsonProbe('PATCH', `${API}/files/${t.id}`, { name: 'bob-was-here/renamed.txt' }),
  },
  {
    name: 'tus POST /files/ with Upload-Concat: final;/files/:id', family: 'tus', status: 400, code: 'invalid_concat', primary: 'tus-partial',
    probe: (t) => ({ method: 'POST', path: '/files/', headers: { ...TUS, 'Upload-Concat': `final;/files/${t.id}` } }),
  },
  {
    name: 'tus POST /files/ with Upload-Concat: final;<absolute URL of :id>', family: 'tus', status: 400, code: 'invalid_concat', primary: 'tus-partial',
    probe: (t) => ({ method: 'POST', path: '/files/', headers: { ...TUS, 'Upload-Concat': `final;${server.endpoint}${t.id}` } }),
  },

  // Deletes.
  {
    name: 'tus DELETE /files/:id', family: 'tus', status: 404, code: 'upload_not_found', primary: 'tus-open',
    probe: (t) => ({ method: 'DELETE', path: `/files/${t.id}`, headers: TUS }),
  },
  {
    name: 'tus DELETE /files/:id tunnelled as POST + X-HTTP-Method-Override', family: 'tus', status: 404, code: 'upload_not_found', primary: 'tus-open',
    probe: (t) => ({ method: 'POST', path: `/files/${t.id}`, headers: { ...TUS, 'X-HTTP-Method-Override': 'DELETE' } }),
  },
  ...IETF_VERSIONS.map((v): Row => ({
    name: `IETF v${v} DELETE /files/:id (cancel)`, family: 'ietf', status: 404, code: 'upload_not_found', primary: 'ietf-open',
    probe: (t) => ({ method: 'DELETE', path: `/files/${t.id}`, headers: draft(v) }),
  })),
  {
    name: 'native DELETE /api/v1/uploads/:id', family: 'native', status: 404, code: 'upload_not_found', primary: 'native-open',
    probe: (t) => ({ method: 'DELETE', path: `${API}/uploads/${t.id}` }),
  },
  {
    name: 'files DELETE /api/v1/files/:id', family: 'files', status: 404, code: 'file_not_found', primary: 'file-tus',
    probe: (t) => ({ method: 'DELETE', path: `${API}/files/${t.id}` }),
  },
  {
    name: 'keys DELETE /api/v1/auth/keys/:id', family: 'keys', status: 404, code: 'not_found', primary: 'key',
    probe: (t) => ({ method: 'DELETE', path: `${API}/auth/keys/${t.id}` }),
  },
];

/** Routes that take no id: with a valid token they act for the caller, so they are only checked for 401. */
const NO_ID_ROUTES: readonly [string, () => Probe][] = [
  ['tus POST /files/ (creation)', () => ({ method: 'POST', path: '/files/', headers: { ...TUS, 'Upload-Length': 10 } })],
  ['tus POST /files/ (creation with upload)', () => ({ method: 'POST', path: '/files/', headers: { ...TUS, 'Upload-Length': 5, 'Content-Type': CHUNK }, body: 'hello' })],
  ['IETF v8 POST /files/ (creation)', () => ({ method: 'POST', path: '/files/', headers: draft(8, { 'Upload-Complete': '?1' }), body: 'hello' })],
  ['native POST /api/v1/uploads', () => jsonProbe('POST', `${API}/uploads`, { name: 'x.bin', size: 10 })],
  ['files GET /api/v1/files', () => ({ method: 'GET', path: `${API}/files` })],
  ['files GET /api/v1/files?q=alice&folder=alice-secret', () => ({ method: 'GET', path: `${API}/files?q=alice&folder=alice-secret` })],
  ['auth GET /api/v1/auth/me', () => ({ method: 'GET', path: `${API}/auth/me` })],
  ['auth GET /api/v1/auth/keys', () => ({ method: 'GET', path: `${API}/auth/keys` })],
  ['auth POST /api/v1/auth/keys', () => jsonProbe('POST', `${API}/auth/keys`, { name: 'sneaky' })],
  ['auth POST /api/v1/auth/logout', () => ({ method: 'POST', path: `${API}/auth/logout` })],
];

// ---------------------------------------------------------------------------------------------
// Alice's things. Sizes are distinctive numbers so that any of them showing up in an answer is
// noticed; contents are random bytes so that any run of them is.

const A = {
  tusOpen: { name: 'alice-secret/tus-open-Kq3.bin', type: 'application/x-alice-open-Kq3', data: randomBytes(100_003), sent: 40_009 },
  tusDone: { name: 'alice-secret/tus-done-Wm8.bin', type: 'application/x-alice-done-Wm8', data: randomBytes(30_011) },
  partial: { name: 'alice-secret/partial-Zx5.bin', data: randomBytes(20_021) },
  ietf: { name: 'alice-secret/ietf-open-Pv2.bin', data: randomBytes(50_023), sent: 17_011 },
  nativeOpen: { name: 'alice-secret/native-open-Tj4.bin', type: 'application/x-alice-native-Tj4', data: randomBytes(2 * NATIVE_CHUNK + 4_321) },
  nativeDone: { name: 'alice-secret/native-done-Hy6.bin', data: randomBytes(NATIVE_CHUNK + 777) },
  library: { name: 'alice-secret/lib-draft-Fe1.bin', renamed: 'alice-docs/report-Rb9.bin', data: randomBytes(12_347) },
  keyName: 'alice-laptop-Ns1',
  key2Name: 'alice-old-phone-Vd7',
};

const B = {
  notes: { name: 'bob-own/notes-Lc3.bin', type: 'text/x-bob-notes-Lc3', data: randomBytes(9_973) },
  draft: { name: 'bob-own/draft-Gt5.bin', data: randomBytes(NATIVE_CHUNK + 1_234) },
  part: { name: 'bob-own/part-Qa4.bin', data: randomBytes(4_099) },
  keyName: 'bob-desktop-Yh2',
};

interface IssuedKey {
  id: string;
  key: string;
}

let alice: Side;
let bob: Side;
let aliceKey: IssuedKey;
let aliceKey2: IssuedKey;
let aliceNative: NativeClient;
let bobNative: NativeClient;
/** The recorded state of alice's things, compared at the end. */
const aliceFiles = new Map<Kind, { id: string; name: string; data: Buffer }>();

function hex(algorithm: string, data: Buffer): string {
  return createHash(algorithm).update(data).digest('hex');
}

function target(kind: Kind, id: string, offset: number, data: Buffer | null): Target {
  return { kind, id, offset, sha256: data ? sha256Hex(data) : randomBytes(32).toString('hex') };
}

async function ok(res: HttpResult | Promise<HttpResult>, status: number, what: string): Promise<HttpResult> {
  const answer = await res;
  assert.equal(answer.status, status, `${what}: ${oneLine(answer)}`);
  return answer;
}

function api(creds: Credentials, probe: Probe): Promise<HttpResult> {
  return sendProbe(server.url, creds, probe);
}

async function fileIdByName(creds: Credentials, name: string): Promise<string> {
  const res = await ok(api(creds, { method: 'GET', path: `${API}/files?q=${encodeURIComponent(name)}&limit=1000` }), 200, `list ${name}`);
  const found = (res.json() as { files: { id: string; name: string }[] }).files.filter((file) => file.name === name);
  assert.equal(found.length, 1, `one file named ${name}`);
  return found[0]!.id;
}

async function newKey(creds: Credentials, name: string): Promise<IssuedKey> {
  const res = await ok(api(creds, jsonProbe('POST', `${API}/auth/keys`, { name })), 201, `new key ${name}`);
  const { id, key } = res.json() as IssuedKey;
  return { id, key };
}

/** Adds a user's secrets to a scanner: every content, name and name segment, digest, size. */
function addSecrets(scanner: LeakScanner, label: string, content: { name: string; data: Buffer; type?: string; renamed?: string }): void {
  scanner.content(label, content.data).number(`${label} size`, content.data.length);
  for (const name of [content.name, content.renamed]) {
    if (name === undefined) continue;
    scanner.text(`${label} name`, name);
    for (const segment of name.split('/')) scanner.text(`${label} name segment`, segment);
  }
  if (content.type) scanner.text(`${label} media type`, content.type);
  scanner
    .text(`${label} sha256`, sha256Hex(content.data))
    .text(`${label} sha256 (base64)`, createHash('sha256').update(content.data).digest('base64'))
    .text(`${label} sha1`, hex('sha1', content.data))
    .text(`${label} md5`, hex('md5', content.data));
}

async function setUpAlice(user: TestUser): Promise<Side> {
  const creds = user.auth;
  const targets = new Map<Kind, Target>();
  const scanner = new LeakScanner();

  const tusOpen = await tusCreate(server, {
    ...creds, 'Upload-Length': A.tusOpen.data.length, 'Upload-Metadata': metadataHeader({ filename: A.tusOpen.name, filetype: A.tusOpen.type }),
  });
  await ok(tusPatch(tusOpen.location, 0, A.tusOpen.data.subarray(0, A.tusOpen.sent), creds), 204, 'alice tus PATCH');
  targets.set('tus-open', target('tus-open', tusOpen.id, A.tusOpen.sent, A.tusOpen.data));

  const tusDone = await tusCreate(server, {
    ...creds, 'Upload-Length': A.tusDone.data.length, 'Upload-Metadata': metadataHeader({ filename: A.tusDone.name, filetype: A.tusDone.type }),
  });
  await ok(tusPatch(tusDone.location, 0, A.tusDone.data, creds), 204, 'alice tus PATCH (all)');
  targets.set('tus-done', target('tus-done', tusDone.id, A.tusDone.data.length, A.tusDone.data));
  const tusFile = await fileIdByName(creds, A.tusDone.name);
  targets.set('file-tus', target('file-tus', tusFile, 0, A.tusDone.data));
  aliceFiles.set('file-tus', { id: tusFile, name: A.tusDone.name, data: A.tusDone.data });

  const partial = await tusCreate(server, {
    ...creds, 'Upload-Length': A.partial.data.length, 'Upload-Concat': 'partial', 'Upload-Metadata': metadataHeader({ filename: A.partial.name }),
  });
  await ok(tusPatch(partial.location, 0, A.partial.data, creds), 204, 'alice partial PATCH');
  targets.set('tus-partial', target('tus-partial', partial.id, A.partial.data.length, A.partial.data));

  const ietf = await ietfCreate(server, 8, {
    ...creds, 'Upload-Length': A.ietf.data.length, 'Upload-Metadata': metadataHeader({ filename: A.ietf.name }),
  });
  await ok(send(ietf.location, {
    method: 'PATCH',
    headers: draft(8, { ...creds, 'Content-Type': PARTIAL, 'Upload-Offset': 0, 'Upload-Complete': '?0' }),
    body: A.ietf.data.subarray(0, A.ietf.sent),
  }), 204, 'alice IETF append');
  targets.set('ietf-open', target('ietf-open', ietf.id, A.ietf.sent, A.ietf.data));

  const open = await aliceNative.create({ name: A.nativeOpen.name, size: A.nativeOpen.data.length, chunkSize: NATIVE_CHUNK, type: A.nativeOpen.type });
  assert.equal(open.status, 201, JSON.stringify(open.body));
  for (const index of [0, 2]) {
    const put = await aliceNative.putChunk(open.body.id, index, A.nativeOpen.data.subarray(index * NATIVE_CHUNK, (index + 1) * NATIVE_CHUNK));
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
  targets.set('native-open', target('native-open', open.body.id, 0, A.nativeOpen.data));

  const done = await aliceNative.create({ name: A.nativeDone.name, size: A.nativeDone.data.length, chunkSize: NATIVE_CHUNK, sha256: sha256Hex(A.nativeDone.data) });
  assert.equal(done.status, 201, JSON.stringify(done.body));
  await aliceNative.sendChunks(done.body, A.nativeDone.data, 2);
  const completed = await aliceNative.complete(done.body.id);
  assert.equal(completed.body.state, 'completed', JSON.stringify(completed.body));
  targets.set('native-done', target('native-done', done.body.id, A.nativeDone.data.length, A.nativeDone.data));
  targets.set('file-native', target('file-native', completed.body.file!.id, 0, A.nativeDone.data));
  aliceFiles.set('file-native', { id: completed.body.file!.id, name: A.nativeDone.name, data: A.nativeDone.data });

  const lib = await tusCreate(server, { ...creds, 'Upload-Length': A.library.data.length, 'Upload-Metadata': metadataHeader({ filename: A.library.name }) });
  await ok(tusPatch(lib.location, 0, A.library.data, creds), 204, 'alice library upload');
  const libFile = await fileIdByName(creds, A.library.name);
  await ok(api(creds, jsonProbe('PATCH', `${API}/files/${libFile}`, { name: A.library.renamed })), 200, 'alice rename');
  targets.set('file-library', target('file-library', libFile, 0, A.library.data));
  aliceFiles.set('file-library', { id: libFile, name: A.library.renamed, data: A.library.data });

  aliceKey = await newKey(creds, A.keyName);
  aliceKey2 = await newKey(creds, A.key2Name);
  targets.set('key', target('key', aliceKey.id, 0, null));

  addSecrets(scanner, 'alice tus-open', A.tusOpen);
  addSecrets(scanner, 'alice tus-done', A.tusDone);
  addSecrets(scanner, 'alice partial', A.partial);
  addSecrets(scanner, 'alice ietf-open', A.ietf);
  addSecrets(scanner, 'alice native-open', A.nativeOpen);
  addSecrets(scanner, 'alice native-done', A.nativeDone);
  addSecrets(scanner, 'alice library file', A.library);
  scanner
    .number('alice tus-open offset', A.tusOpen.sent)
    .number('alice ietf-open offset', A.ietf.sent)
    .text('alice username', 'alice')
    .text('alice user id', user.id)
    .text('alice bearer secret', user.auth.Authorization.slice('Bearer '.length))
    .text('alice key name', A.keyName)
    .text('alice key secret', aliceKey.key)
    .text('alice second key name', A.key2Name)
    .text('alice second key secret', aliceKey2.key)
    .text('alice second key id', aliceKey2.id);
  for (const t of targets.values()) scanner.text(`alice ${t.kind} id`, t.id);
  return { name: 'alice', user, creds, targets, scanner };
}

async function setUpBob(user: TestUser): Promise<Side> {
  const creds = user.auth;
  const targets = new Map<Kind, Target>();
  const scanner = new LeakScanner();

  const notes = await tusCreate(server, {
    ...creds, 'Upload-Length': B.notes.data.length, 'Upload-Metadata': metadataHeader({ filename: B.notes.name, filetype: B.notes.type }),
  });
  await ok(tusPatch(notes.location, 0, B.notes.data, creds), 204, 'bob tus PATCH');
  targets.set('tus-done', target('tus-done', notes.id, B.notes.data.length, B.notes.data));
  targets.set('file-tus', target('file-tus', await fileIdByName(creds, B.notes.name), 0, B.notes.data));

  const part = await tusCreate(server, {
    ...creds, 'Upload-Length': B.part.data.length, 'Upload-Concat': 'partial', 'Upload-Metadata': metadataHeader({ filename: B.part.name }),
  });
  await ok(tusPatch(part.location, 0, B.part.data, creds), 204, 'bob partial PATCH');
  targets.set('tus-partial', target('tus-partial', part.id, B.part.data.length, B.part.data));

  const draftUpload = await bobNative.create({ name: B.draft.name, size: B.draft.data.length, chunkSize: NATIVE_CHUNK });
  assert.equal(draftUpload.status, 201);
  assert.equal((await bobNative.putChunk(draftUpload.body.id, 0, B.draft.data.subarray(0, NATIVE_CHUNK))).status, 200);
  targets.set('native-open', target('native-open', draftUpload.body.id, 0, B.draft.data));

  const key = await newKey(creds, B.keyName);
  targets.set('key', target('key', key.id, 0, null));

  addSecrets(scanner, 'bob notes', B.notes);
  addSecrets(scanner, 'bob draft', B.draft);
  addSecrets(scanner, 'bob partial', B.part);
  scanner
    .text('bob user id', user.id)
    .text('bob bearer secret', user.auth.Authorization.slice('Bearer '.length))
    .text('bob key name', B.keyName)
    .text('bob key secret', key.key);
  for (const t of targets.values()) scanner.text(`bob ${t.kind} id`, t.id);
  return { name: 'bob', user, creds, targets, scanner };
}

// ---------------------------------------------------------------------------------------------

/**
 * `actor` sends the row's request for each of `owner`'s ids and for a nonexistent id of the same
 * shape; returns every way in which the two answers differ or the first one shows owner secrets.
 * The owner's own request first proves the row reaches the resource (rows with a control).
 */
async function runRow(row: Row, actor: Side, owner: Side): Promise<string[]> {
  const failures: string[] = [];
  if (row.control) {
    for (const kind of row.control.kinds) {
      const mine = owner.targets.get(kind);
      if (!mine) continue;
      const res = await api(owner.creds, row.probe(mine));
      if (res.status !== row.control.status) {
        failures.push(`control: ${owner.name}'s own ${row.name} on her ${kind} answered ${oneLine(res)}, expected ${row.control.status}`);
      }
    }
  }
  for (const theirs of owner.targets.values()) {
    const where = `${actor.name}: ${row.name} on ${owner.name}'s ${theirs.kind} ${theirs.id}`;
    const res = await api(actor.creds, row.probe(theirs));
    const nonexistent: Target = { ...theirs, kind: 'nonexistent', id: randomId() };
    const baseline = await api(actor.creds, row.probe(nonexistent));
    if (res.status !== row.status) failures.push(`${where}: status ${res.status}, expected ${row.status}: ${oneLine(res)}`);
    const code = errorCodeOf(res);
    if (code !== row.code) failures.push(`${where}: error code ${code}, expected ${row.code}: ${oneLine(res)}`);
    try {
      assert.deepEqual(seen(res, [theirs.id]), seen(baseline, [nonexistent.id]));
    } catch {
      failures.push(`${where}: differs from the answer to a nonexistent id.\n    theirs:      ${oneLine(res)}\n    nonexistent: ${oneLine(baseline)}`);
    }
    const leaks = owner.scanner.scan(res, [theirs.id]);
    if (leaks.length > 0) failures.push(`${where}: shows ${leaks.join('; ')}: ${oneLine(res)}`);
  }
  return failures;
}

function assertNoFailures(failures: readonly string[]): void {
  assert.equal(failures.length, 0, `\n${failures.join('\n')}`);
}

describe('isolation between users: every route, every protocol', () => {
  before(async () => {
    server = await startTestServer({ auth: 'required' });
    const aliceUser = await createUser(server, 'alice');
    const bobUser = await createUser(server, 'bob');
    aliceNative = new NativeClient(server.url, aliceUser.auth);
    bobNative = new NativeClient(server.url, bobUser.auth);
    alice = await setUpAlice(aliceUser);
    bob = await setUpBob(bobUser);
    // SHA-1 and MD5 are filled in by a background job: run it, so that they exist and could leak.
    while ((await server.library.fillDigests(100)) > 0);
  });
  after(async () => { await server?.stop(); });

  describe("bob on alice's ids: exactly the answer to a nonexistent id, and nothing of hers", () => {
    for (const row of rows) {
      it(row.name, async () => {
        assertNoFailures(await runRow(row, bob, alice));
      });
    }

    it('tus Upload-Concat: final naming alice\'s partial, alone or next to bob\'s own, fails as a nonexistent partial would', async () => {
      const bobPartial = bob.targets.get('tus-partial')!.id;
      const alicePartial = alice.targets.get('tus-partial')!.id;
      const concat = (value: string) => api(bob.creds, { method: 'POST', path: '/files/', headers: { ...TUS, 'Upload-Concat': value } });
      const failures: string[] = [];
      const forms: [string, (id: string) => string][] = [['path', (id) => `/files/${id}`], ['absolute URL', (id) => `${server.endpoint}${id}`]];
      for (const [formName, form] of forms) {
        const lists: [string, (id: string) => string][] = [
          ['alone', (id) => `final;${form(id)}`],
          ["after bob's own partial", (id) => `final;${form(bobPartial)} ${form(id)}`],
          ["before bob's own partial", (id) => `final;${form(id)} ${form(bobPartial)}`],
        ];
        for (const [listName, list] of lists) {
          const where = `Upload-Concat (${formName}, ${listName})`;
          const unknown = randomId();
          const theirs = await concat(list(alicePartial));
          const baseline = await concat(list(unknown));
          if (theirs.status !== 400 || errorCodeOf(theirs) !== 'invalid_concat') failures.push(`${where}: ${oneLine(theirs)}`);
          if (theirs.header('location') !== undefined) failures.push(`${where}: created ${theirs.header('location')}`);
          try {
            assert.deepEqual(seen(theirs, [alicePartial]), seen(baseline, [unknown]));
          } catch {
            failures.push(`${where}: differs from a nonexistent partial.\n    theirs:      ${oneLine(theirs)}\n    nonexistent: ${oneLine(baseline)}`);
          }
          const leaks = alice.scanner.scan(theirs, [alicePartial]);
          if (leaks.length > 0) failures.push(`${where}: shows ${leaks.join('; ')}`);
        }
      }
      // Control: the same request naming bob's own partial concatenates, so the refusals above are about ownership.
      const own = await concat(`final;/files/${bobPartial}`);
      if (own.status !== 201) failures.push(`control: bob's final upload of his own partial answered ${oneLine(own)}`);
      assertNoFailures(failures);
    });

    it('GET /api/v1/files as bob lists none of alice\'s files, with any sort, q= or folder= filter', async () => {
      const aliceIds = new Set([...alice.targets.values()].map((t) => t.id));
      const aliceSha = new Set([A.tusOpen, A.tusDone, A.partial, A.ietf, A.nativeOpen, A.nativeDone, A.library].map((c) => sha256Hex(c.data)));
      // [query, does it match one of alice's files (checked with alice's own token)?]
      const queries: [string, boolean][] = [
        ['', false],
        ['?limit=1000', false],
        ['?sort=size&order=desc&limit=1000', false],
        ['?sort=name&limit=1000&offset=0', false],
        ['?sort=time&order=asc&limit=1000', false],
        ...[A.tusDone.name, A.nativeDone.name, A.library.renamed].flatMap((name): [string, boolean][] => [
          [`?q=${encodeURIComponent(name)}`, true],
          [`?q=${encodeURIComponent(name.split('/').pop()!.toUpperCase())}`, true],
        ]),
        [`?q=${encodeURIComponent(A.tusOpen.name)}`, false],
        [`?q=${encodeURIComponent(A.library.name)}`, false],
        ['?q=alice', true],
        ['?q=Wm8', true],
        ['?q=.bin&limit=1000', true],
        ['?folder=alice-secret', true],
        ['?folder=alice-secret/', true],
        ['?folder=alice-docs', true],
        ['?folder=alice-docs&q=report', true],
        ['?folder=alice-secret&sort=size&order=desc', true],
      ];
      const failures: string[] = [];
      for (const [query, matchesHers] of queries) {
        const res = await api(bob.creds, { method: 'GET', path: `${API}/files${query}` });
        if (res.status !== 200) {
          failures.push(`GET /api/v1/files${query}: ${oneLine(res)}`);
          continue;
        }
        const page = res.json() as { files: { id: string; name: string; sha256: string }[]; total: number };
        const hers = page.files.filter((file) => aliceIds.has(file.id) || aliceSha.has(file.sha256));
        if (hers.length > 0) failures.push(`GET /api/v1/files${query} as bob lists alice's ${JSON.stringify(hers)}`);
        if (page.total !== page.files.length) failures.push(`GET /api/v1/files${query} as bob: total ${page.total} but ${page.files.length} files on the only page`);
        if (matchesHers && page.total !== 0 && !query.includes('.bin')) failures.push(`GET /api/v1/files${query} as bob: total ${page.total}, expected 0`);
        const leaks = alice.scanner.scan(res);
        if (leaks.length > 0) failures.push(`GET /api/v1/files${query} as bob shows ${leaks.join('; ')}`);
        if (matchesHers) {
          const control = await api(alice.creds, { method: 'GET', path: `${API}/files${query}` });
          const total = control.status === 200 ? (control.json() as { total: number }).total : -1;
          if (total < 1) failures.push(`control: GET /api/v1/files${query} as alice finds none of her files: ${oneLine(control)}`);
        }
      }
      assertNoFailures(failures);
    });

    it('GET /api/v1/auth/keys and /api/v1/auth/me as bob show nothing of alice', async () => {
      const keys = await ok(api(bob.creds, { method: 'GET', path: `${API}/auth/keys` }), 200, 'bob keys');
      const ids = (keys.json() as { keys: { id: string }[] }).keys.map((key) => key.id);
      assert.ok(!ids.includes(aliceKey.id) && !ids.includes(aliceKey2.id), JSON.stringify(ids));
      assert.deepEqual(alice.scanner.scan(keys), []);
      const me = await ok(api(bob.creds, { method: 'GET', path: `${API}/auth/me` }), 200, 'bob me');
      assert.equal((me.json() as { id: string }).id, bob.user.id);
      assert.deepEqual(alice.scanner.scan(me), []);
      // Control: alice's own list has her key.
      const hers = await ok(api(alice.creds, { method: 'GET', path: `${API}/auth/keys` }), 200, 'alice keys');
      assert.ok((hers.json() as { keys: { id: string }[] }).keys.some((key) => key.id === aliceKey.id));
    });
  });

  describe("alice on bob's ids (the reverse direction)", () => {
    for (const family of ['tus', 'ietf', 'native', 'files', 'keys'] as const) {
      it(`every ${family} route`, async () => {
        const failures: string[] = [];
        for (const row of rows.filter((r) => r.family === family)) failures.push(...(await runRow(row, alice, bob)));
        assertNoFailures(failures);
      });
    }
  });

  describe('without a valid token every route answers 401, the same for any id', () => {
    before(async () => {
      // The control of the keys route, and a revoked key to try below.
      await ok(api(alice.creds, { method: 'DELETE', path: `${API}/auth/keys/${aliceKey2.id}` }), 204, "alice revokes her own second key");
    });

    const variants: [string, () => Credentials][] = [
      ['no credentials', () => ({})],
      ['a made-up bearer token', () => ({ Authorization: 'Bearer not-a-real-token' })],
      ['a made-up X-API-Key', () => ({ 'X-API-Key': 'not-a-real-key' })],
      ['an empty bearer token', () => ({ Authorization: 'Bearer ' })],
      ['Basic credentials', () => ({ Authorization: `Basic ${Buffer.from('alice:password').toString('base64')}` })],
      ["alice's revoked API key", () => ({ Authorization: `Bearer ${aliceKey2.key}` })],
      ["alice's revoked API key as X-API-Key", () => ({ 'X-API-Key': aliceKey2.key })],
    ];
    for (const [label, credentials] of variants) {
      it(`with ${label}`, async () => {
        const creds = credentials();
        const failures: string[] = [];
        const check = (where: string, res: HttpResult, baseline: HttpResult | null, ids: [string, string] | null, head: boolean) => {
          if (res.status !== 401) failures.push(`${where}: status ${res.status}: ${oneLine(res)}`);
          if (res.header('www-authenticate') !== 'Bearer') failures.push(`${where}: WWW-Authenticate ${res.header('www-authenticate')}`);
          if (errorCodeOf(res) !== (head ? null : 'unauthorized')) failures.push(`${where}: error code ${errorCodeOf(res)}`);
          if (baseline && ids) {
            try {
              assert.deepEqual(seen(res, [ids[0]]), seen(baseline, [ids[1]]));
            } catch {
              failures.push(`${where}: differs from a nonexistent id.\n    theirs:      ${oneLine(res)}\n    nonexistent: ${oneLine(baseline)}`);
            }
          }
          const leaks = alice.scanner.scan(res, ids ? [ids[0]] : []);
          if (leaks.length > 0) failures.push(`${where}: shows ${leaks.join('; ')}`);
        };
        for (const row of rows) {
          const hers = alice.targets.get(row.primary)!;
          const nonexistent: Target = { ...hers, kind: 'nonexistent', id: randomId() };
          const res = await api(creds, row.probe(hers));
          const baseline = await api(creds, row.probe(nonexistent));
          check(`${row.name} on alice's ${hers.kind}`, res, baseline, [hers.id, nonexistent.id], row.code === null);
        }
        for (const [name, probe] of NO_ID_ROUTES) check(name, await api(creds, probe()), null, null, false);
        assertNoFailures(failures);
      });
    }

    it('public: OPTIONS /files/ (discovery, CORS preflight), health, readiness, metrics, the OpenAPI document; none shows anything of alice', async () => {
      const failures: string[] = [];
      const names = new LeakScanner();
      for (const content of [A.tusOpen, A.tusDone, A.partial, A.ietf, A.nativeOpen, A.nativeDone, A.library]) {
        names.text('alice name', content.name).text('alice sha256', sha256Hex(content.data));
      }
      names.text('alice renamed file', A.library.renamed).text('alice key name', A.keyName).text('alice user id', alice.user.id);
      for (const t of alice.targets.values()) names.text(`alice ${t.kind} id`, t.id);

      const discovery = await api({}, { method: 'OPTIONS', path: '/files/' });
      if (discovery.status !== 204 || discovery.header('tus-version') !== '1.0.0') failures.push(`OPTIONS /files/: ${oneLine(discovery)}`);
      const preflight = await api({}, {
        method: 'OPTIONS', path: '/files/',
        headers: { Origin: 'https://uploader.example', 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'authorization, tus-resumable, upload-offset' },
      });
      if (preflight.status !== 204 || preflight.header('access-control-allow-origin') === undefined || !/authorization/i.test(preflight.header('access-control-allow-headers') ?? '')) {
        failures.push(`CORS preflight OPTIONS /files/: ${oneLine(preflight)}`);
      }
      for (const hers of alice.targets.values()) {
        const unknown = randomId();
        const res = await api({}, { method: 'OPTIONS', path: `/files/${hers.id}` });
        const baseline = await api({}, { method: 'OPTIONS', path: `/files/${unknown}` });
        if (res.status !== 204) failures.push(`OPTIONS /files/:id on alice's ${hers.kind}: ${oneLine(res)}`);
        try {
          assert.deepEqual(seen(res, [hers.id]), seen(baseline, [unknown]));
        } catch {
          failures.push(`OPTIONS /files/:id on alice's ${hers.kind} differs from a nonexistent id: ${oneLine(res)} / ${oneLine(baseline)}`);
        }
      }
      for (const path of ['/healthz', '/readyz', '/metrics', `${API}/openapi.json`]) {
        const res = await api({}, { method: 'GET', path });
        if (res.status !== 200) failures.push(`GET ${path}: ${oneLine(res)}`);
        const leaks = names.scan(res);
        if (leaks.length > 0) failures.push(`GET ${path} shows ${leaks.join('; ')}`);
      }
      assertNoFailures(failures);
    });
  });

  describe("bob's requests on an upload alice is streaming into neither answer differently nor cut her off", () => {
    const PIECE = 16 * 1024;
    const PIECES = 4;

    /**
     * Alice streams into a fresh upload of hers, slowly; once her request holds the upload, bob's
     * request runs on its id. Returns bob's answer, and what alice's request achieved.
     */
    async function duringAliceStream(
      kind: 'tus PATCH' | 'native chunk PUT',
      act: (hers: Target) => Promise<HttpResult>,
    ): Promise<{ bobs: HttpResult; hers: Target; aliceStatus: number; aliceStored: number; expected: number }> {
      const data = randomBytes(PIECE * PIECES);
      const pieces = Array.from({ length: PIECES }, (_, index) => data.subarray(index * PIECE, (index + 1) * PIECE));
      let bobs: HttpResult | undefined;
      let bobError: unknown;
      const body = {
        chunks: pieces,
        delayMs: 20,
        onChunk: async (index: number) => {
          if (index !== 0) return;
          await sleep(150);
          bobs = await act(hers).catch((err: unknown) => {
            bobError = err;
            return undefined;
          });
        },
      };
      let hers: Target;
      let aliceStatus: number;
      let aliceStored: number;
      if (kind === 'tus PATCH') {
        // One byte more than is sent, so the upload stays open (and out of alice's file list).
        const created = await tusCreate(server, { ...alice.creds, 'Upload-Length': data.length + 1 });
        hers = { kind: 'streaming', id: created.id, offset: 0, sha256: randomBytes(32).toString('hex') };
        const res = await send(created.location, { method: 'PATCH', headers: { ...TUS, ...alice.creds, 'Content-Type': CHUNK, 'Upload-Offset': 0 }, body })
          .catch(() => null);
        aliceStatus = res?.status ?? -1;
        const head = await ok(api(alice.creds, { method: 'HEAD', path: `/files/${created.id}`, headers: TUS }), 200, 'alice HEAD after streaming');
        aliceStored = Number(head.header('upload-offset'));
        if (aliceStatus === 204 && res?.header('upload-offset') !== String(data.length)) aliceStatus = -2;
      } else {
        const created = await aliceNative.create({ name: 'alice-stream.bin', size: 2 * NATIVE_CHUNK, chunkSize: NATIVE_CHUNK });
        assert.equal(created.status, 201);
        hers = { kind: 'streaming', id: created.body.id, offset: 0, sha256: randomBytes(32).toString('hex') };
        const res = await send(`${server.url}${API}/uploads/${created.body.id}/chunks/0`, {
          method: 'PUT',
          headers: { ...alice.creds, 'Content-Type': 'application/octet-stream', 'Content-Length': data.length, 'Content-Digest': contentDigest(data) },
          body,
        }).catch(() => null);
        aliceStatus = res?.status ?? -1;
        const status = await aliceNative.json('GET', `${API}/uploads/${created.body.id}`);
        aliceStored = status.body.receivedChunks === 1 ? data.length : 0;
      }
      if (!bobs) throw new Error(`bob's request failed: ${String(bobError)}`);
      return { bobs, hers, aliceStatus, aliceStored, expected: data.length };
    }

    const streams = [
      { kind: 'tus PATCH' as const, families: ['tus', 'ietf', 'native'], okStatus: 204 },
      { kind: 'native chunk PUT' as const, families: ['native'], okStatus: 200 },
    ];
    for (const stream of streams) {
      for (const row of rows.filter((r) => stream.families.includes(r.family))) {
        it(`${row.name}, while alice's ${stream.kind} streams`, async () => {
          const { bobs, hers, aliceStatus, aliceStored, expected } = await duringAliceStream(stream.kind, (t) => api(bob.creds, row.probe(t)));
          const nonexistent: Target = { ...hers, kind: 'nonexistent', id: randomId() };
          const baseline = await api(bob.creds, row.probe(nonexistent));
          const failures: string[] = [];
          if (aliceStatus !== stream.okStatus || aliceStored !== expected) {
            failures.push(`alice's ${stream.kind} was disturbed: her request answered ${aliceStatus}, ${aliceStored} of ${expected} bytes stored; bob got ${oneLine(bobs)}`);
          }
          if (bobs.status !== row.status) failures.push(`bob's ${row.name}: status ${bobs.status}, expected ${row.status}: ${oneLine(bobs)}`);
          try {
            assert.deepEqual(seen(bobs, [hers.id]), seen(baseline, [nonexistent.id]));
          } catch {
            failures.push(`bob's ${row.name} differs from a nonexistent id.\n    theirs:      ${oneLine(bobs)}\n    nonexistent: ${oneLine(baseline)}`);
          }
          assertNoFailures(failures);
        });
      }
    }
  });

  describe("instant upload: bob knowing only the SHA-256 and size of alice's content", () => {
    const contents = [
      ['tus upload', A.tusDone],
      ['native upload', A.nativeDone],
      ['renamed library file', A.library],
      ['tus partial upload', A.partial],
    ] as const;

    /** The parts of an answer a client could compare to learn something. */
    const visible = (res: { status: number; body: UploadJson }) => ({
      status: res.status,
      state: res.body.state,
      instant: res.body.instant,
      receivedChunks: res.body.receivedChunks,
      missing: res.body.missing.length,
      challenge: res.body.challenge !== undefined,
      ranges: res.body.challenge?.ranges.length,
      file: res.body.file !== undefined,
    });

    for (const [label, content] of contents) {
      it(`gets a challenge like any unknown content; a wrong proof leaves it open; nothing reaches bob's library (${label})`, async () => {
        const sha256 = sha256Hex(content.data);
        const size = content.data.length;
        const absentData = randomBytes(size);
        const guess = await bobNative.create({ name: 'bob-guess.bin', size, sha256 });
        const absent = await bobNative.create({ name: 'bob-guess.bin', size, sha256: sha256Hex(absentData) });
        assert.equal(guess.status, 201, JSON.stringify(guess.body));
        assert.equal(guess.body.state, 'open');
        assert.equal(guess.body.instant, false);
        assert.equal(guess.body.file, undefined);
        assert.ok(guess.body.challenge, 'a challenge is offered');
        assert.deepEqual(visible(guess), visible(absent), 'stored or not, creation answers alike');
        assert.deepEqual(alice.scanner.scanBody(Buffer.from(JSON.stringify(guess.body)), [sha256, String(size)]), []);

        const wrong = await bobNative.prove(guess.body.id, 'ff'.repeat(32));
        const wrongAbsent = await bobNative.prove(absent.body.id, 'ff'.repeat(32));
        assert.equal(wrong.status, 200, JSON.stringify(wrong.body));
        assert.equal(wrong.body.state, 'open', 'a wrong proof leaves the upload open');
        assert.equal(wrong.body.instant, false);
        assert.equal(wrong.body.file, undefined);
        assert.equal(wrong.body.missing.length, wrong.body.chunkCount, 'every chunk is still to send');
        assert.deepEqual(visible(wrong), visible(wrongAbsent));
        assert.deepEqual(alice.scanner.scanBody(Buffer.from(JSON.stringify(wrong.body)), [sha256, String(size)]), []);

        const again = await bobNative.prove(guess.body.id, 'ff'.repeat(32));
        assert.equal(again.status, 400, 'the challenge is spent');
        const complete = await bobNative.complete(guess.body.id);
        assert.equal(complete.status, 409, `cannot complete without the bytes: ${JSON.stringify(complete.body)}`);
        const status = await bobNative.json('GET', `${API}/uploads/${guess.body.id}`);
        assert.equal(status.body.state, 'open');
        assert.equal(status.body.file, undefined);

        const library = await bobNative.json<{ files: { sha256: string; name: string }[]; total: number }>('GET', `${API}/files?limit=1000`);
        assert.equal(library.status, 200);
        assert.deepEqual(library.body.files.filter((file) => file.sha256 === sha256), [], "bob's library has no file with alice's content");
        assert.deepEqual(library.body.files.filter((file) => file.name === 'bob-guess.bin'), []);
      });
    }
  });

  describe("afterwards nothing of alice's has changed", () => {
    it('her files: names, sizes, digests and content', async () => {
      const list = await ok(api(alice.creds, { method: 'GET', path: `${API}/files?limit=1000&sort=name` }), 200, 'alice list');
      const page = list.json() as { files: { id: string; name: string; size: number; sha256: string }[]; total: number };
      const expected = [...aliceFiles.values()].map((file) => ({ id: file.id, name: file.name, size: file.data.length, sha256: sha256Hex(file.data) }));
      assert.deepEqual(
        page.files.map(({ id, name, size, sha256 }) => ({ id, name, size, sha256 })),
        expected.sort((a, b) => (a.name < b.name ? -1 : 1)),
      );
      for (const [kind, file] of aliceFiles) {
        const res = await ok(api(alice.creds, { method: 'GET', path: `${API}/files/${file.id}/content` }), 200, `alice ${kind} content`);
        assert.ok(res.body.equals(file.data), `${kind}: the content is unchanged`);
      }
    });

    it('her completed uploads still download, byte for byte', async () => {
      for (const [kind, data] of [['tus-done', A.tusDone.data], ['tus-partial', A.partial.data], ['native-done', A.nativeDone.data]] as const) {
        const res = await ok(api(alice.creds, { method: 'GET', path: `/files/${alice.targets.get(kind)!.id}` }), 200, `alice download ${kind}`);
        assert.ok(res.body.equals(data), `${kind}: the download is unchanged`);
      }
      const partial = await ok(api(alice.creds, { method: 'HEAD', path: `/files/${alice.targets.get('tus-partial')!.id}`, headers: TUS }), 200, 'partial HEAD');
      assert.equal(partial.header('upload-concat'), 'partial');
      assert.equal(partial.header('upload-offset'), String(A.partial.data.length));
      const native = await aliceNative.json('GET', `${API}/uploads/${alice.targets.get('native-done')!.id}`);
      assert.equal(native.body.state, 'completed');
      assert.equal(native.body.file?.id, aliceFiles.get('file-native')!.id);
    });

    it('her uploads in progress: same offsets and chunks, and they complete into her exact bytes', async () => {
      const tusOpen = alice.targets.get('tus-open')!;
      const head = await ok(api(alice.creds, { method: 'HEAD', path: `/files/${tusOpen.id}`, headers: TUS }), 200, 'tus-open HEAD');
      assert.equal(head.header('upload-offset'), String(A.tusOpen.sent));
      assert.equal(head.header('upload-length'), String(A.tusOpen.data.length));

      const ietf = alice.targets.get('ietf-open')!;
      const ietfHead = await ok(api(alice.creds, { method: 'HEAD', path: `/files/${ietf.id}`, headers: draft(8) }), 204, 'ietf-open HEAD');
      assert.equal(ietfHead.header('upload-offset'), String(A.ietf.sent));
      assert.equal(ietfHead.header('upload-complete'), '?0');

      const nativeOpen = alice.targets.get('native-open')!;
      const status = await aliceNative.json('GET', `${API}/uploads/${nativeOpen.id}`);
      assert.equal(status.status, 200);
      assert.equal(status.body.state, 'open');
      assert.deepEqual(status.body.missing, [1]);
      assert.equal(status.body.name, A.nativeOpen.name);

      // Finish each one: what bob sent anywhere would show in the SHA-256 of the result.
      const rest = await ok(tusPatch(`${server.endpoint}${tusOpen.id}`, A.tusOpen.sent, A.tusOpen.data.subarray(A.tusOpen.sent), alice.creds), 204, 'finish tus-open');
      assert.equal(rest.header('upload-offset'), String(A.tusOpen.data.length));
      const tusFile = await ok(api(alice.creds, { method: 'GET', path: `/files/${tusOpen.id}` }), 200, 'download tus-open');
      assert.ok(tusFile.body.equals(A.tusOpen.data), 'tus-open completes into alice\'s bytes');

      const ietfRest = await send(`${server.endpoint}${ietf.id}`, {
        method: 'PATCH',
        headers: draft(8, { ...alice.creds, 'Content-Type': PARTIAL, 'Upload-Offset': A.ietf.sent, 'Upload-Complete': '?1' }),
        body: A.ietf.data.subarray(A.ietf.sent),
      });
      assert.equal(ietfRest.status, 200, oneLine(ietfRest));
      assert.equal((ietfRest.json() as { sha256: string }).sha256, sha256Hex(A.ietf.data));

      const put = await aliceNative.putChunk(nativeOpen.id, 1, A.nativeOpen.data.subarray(NATIVE_CHUNK, 2 * NATIVE_CHUNK));
      assert.equal(put.status, 200);
      const done = await aliceNative.complete(nativeOpen.id);
      assert.equal(done.body.state, 'completed', JSON.stringify(done.body));
      assert.equal(done.body.file?.sha256, sha256Hex(A.nativeOpen.data));
      assert.equal(done.body.file?.name, A.nativeOpen.name);
    });

    it('her API key still authenticates, and is still listed', async () => {
      const me = await ok(api({ Authorization: `Bearer ${aliceKey.key}` }, { method: 'GET', path: `${API}/auth/me` }), 200, 'alice key');
      assert.equal((me.json() as { id: string; username: string }).username, 'alice');
      const viaHeader = await ok(api({ 'X-API-Key': aliceKey.key }, { method: 'GET', path: `${API}/auth/me` }), 200, 'alice key as X-API-Key');
      assert.equal((viaHeader.json() as { id: string }).id, alice.user.id);
      const keys = await ok(api(alice.creds, { method: 'GET', path: `${API}/auth/keys` }), 200, 'alice keys');
      const ids = (keys.json() as { keys: { id: string; name: string }[] }).keys.map((key) => key.id);
      assert.ok(ids.includes(aliceKey.id), 'her key is listed');
      assert.ok(!ids.includes(aliceKey2.id), 'the key she revoked herself is gone');
    });

    it("and bob's things survived alice's attempts", async () => {
      const file = bob.targets.get('file-tus')!;
      const content = await ok(api(bob.creds, { method: 'GET', path: `${API}/files/${file.id}/content` }), 200, 'bob content');
      assert.ok(content.body.equals(B.notes.data));
      const meta = await ok(api(bob.creds, { method: 'GET', path: `${API}/files/${file.id}` }), 200, 'bob file');
      assert.equal((meta.json() as { name: string }).name, B.notes.name);
      const draftStatus = await bobNative.json('GET', `${API}/uploads/${bob.targets.get('native-open')!.id}`);
      assert.equal(draftStatus.body.state, 'open');
      assert.deepEqual(draftStatus.body.missing, [1]);
      const keys = await ok(api(bob.creds, { method: 'GET', path: `${API}/auth/keys` }), 200, 'bob keys');
      assert.ok((keys.json() as { keys: { id: string }[] }).keys.some((key) => key.id === bob.targets.get('key')!.id));
    });

    it('control: a client that does hold the bytes answers the challenge and completes, so the refusals above are real', async () => {
      const created = await bobNative.create({ name: 'bob-has-a-copy.bin', size: A.tusDone.data.length, sha256: sha256Hex(A.tusDone.data) });
      assert.ok(created.body.challenge);
      const proved = await bobNative.prove(created.body.id, answerChallenge(created.body.challenge, A.tusDone.data));
      assert.equal(proved.body.state, 'completed', JSON.stringify(proved.body));
      assert.equal(proved.body.instant, true);
    });
  });
});
