/**
 * Limits on what a request may carry besides its body, in each protocol's error format:
 * Upload-Metadata (tus and the IETF draft) and multipart form fields (flow.js, fuploadServer).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MAX_METADATA_LENGTH, MAX_METADATA_PAIRS } from '../../src/http/limits.js';
import { send } from '../helpers/http-client.js';
import { metadataHeader, TUS } from '../helpers/http-tus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

function pairs(count: number): string {
  return metadataHeader(Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v'])));
}

describe('Upload-Metadata limits', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });

  it('tus: takes as many pairs and characters as allowed', async () => {
    const atLimit = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': 1, 'Upload-Metadata': pairs(MAX_METADATA_PAIRS) } });
    assert.equal(atLimit.status, 201, atLimit.text());
    const name = 'n'.repeat(Math.floor(((MAX_METADATA_LENGTH - 'filename '.length) * 3) / 4) - 2);
    const long = metadataHeader({ filename: name });
    assert.ok(long.length <= MAX_METADATA_LENGTH);
    assert.equal((await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': 1, 'Upload-Metadata': long } })).status, 201);
  });

  it('tus: refuses one pair too many, and a value too long, with a tus 400', async () => {
    for (const [what, metadata] of [
      ['pairs', pairs(MAX_METADATA_PAIRS + 1)],
      ['length', metadataHeader({ filename: 'n'.repeat(MAX_METADATA_LENGTH) })],
    ]) {
      const refused = await send(server.endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': 1, 'Upload-Metadata': metadata } });
      assert.equal(refused.status, 400, what);
      assert.equal(refused.header('tus-resumable'), '1.0.0', what);
      assert.equal((refused.json() as { error: { code: string } }).error.code, 'invalid_metadata', what);
    }
  });

  it('IETF draft: refuses them with a problem document', async () => {
    const refused = await send(server.endpoint, {
      method: 'POST', headers: { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?0', 'Upload-Metadata': pairs(MAX_METADATA_PAIRS + 1) },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.header('content-type'), 'application/problem+json');
    assert.equal((refused.json() as { code: string }).code, 'invalid_metadata');
  });
});

describe('multipart form field limits', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });

  it('flow.js: refuses a field longer than the limit instead of taking it cut short, and stores nothing', async () => {
    const chunk = randomBytes(1_000);
    const identifier = `id-${randomBytes(4).toString('hex')}`;
    const fields = {
      flowChunkNumber: '1', flowChunkSize: '1000', flowCurrentChunkSize: '1000', flowTotalSize: '1000',
      flowIdentifier: identifier, flowFilename: 'a.bin', flowRelativePath: `${'d'.repeat(5_000)}/a.bin`, flowTotalChunks: '1',
    };
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) form.append(key, value);
    form.append('file', new Blob([chunk]), 'blob');
    const refused = await fetch(`${server.url}/api/v1/flow`, { method: 'POST', body: form });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /flowRelativePath is longer than 4096 bytes/);
    const query = new URLSearchParams({ ...fields, flowRelativePath: 'a.bin' });
    assert.equal((await fetch(`${server.url}/api/v1/flow?${query}`)).status, 204, 'the chunk was not stored');
  });
});
