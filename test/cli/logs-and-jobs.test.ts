import assert from 'node:assert/strict';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProcessServer } from '../helpers/process-server.js';
import { startTestServer } from '../helpers/server.js';

const TUS = { 'Tus-Resumable': '1.0.0' };

describe('request logs', () => {
  it('writes one JSON line per request, with the path and status but no query or credentials', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-logs-'));
    const server = await ProcessServer.start({ dataDir, env: { FERRY_LOG_LEVEL: 'info' } });
    try {
      const secret = 'sekrit-token-1234';
      const requestLines = () => server.output().split('\n').filter((line) => line.includes('"msg":"request"') && !line.includes('/healthz'));
      await fetch(`${server.url}/files/?token=${secret}`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '3', Authorization: `Bearer ${secret}` } });
      await fetch(`${server.url}/nowhere`, { headers: { Cookie: `session=${secret}` } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const lines = requestLines();
      assert.equal(lines.length, 2, server.output());
      const [created, missing] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual([created!.method, created!.path, created!.status], ['POST', '/files/', 201]);
      assert.deepEqual([missing!.method, missing!.path, missing!.status], ['GET', '/nowhere', 404]);
      assert.equal(typeof created!.ms, 'number');
      assert.doesNotMatch(server.output(), new RegExp(secret));
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('background expiry sweep', () => {
  it('removes an idle unfinished upload and its bytes without being asked', async () => {
    const server = await startTestServer({ uploadExpirySeconds: 1, expirySweepSeconds: 1 });
    try {
      const created = await fetch(server.endpoint, {
        method: 'POST',
        headers: { ...TUS, 'Upload-Length': '10', 'Content-Type': 'application/offset+octet-stream' },
        body: 'hello',
      });
      assert.equal(created.status, 201);
      const location = created.headers.get('location')!;
      const id = location.split('/').pop()!;
      const blob = join(server.dataDir, 'blobs', id.slice(0, 2), id);
      await access(blob);
      let status = 0;
      for (let i = 0; i < 40 && status !== 410; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        status = (await fetch(location, { method: 'HEAD', headers: TUS })).status;
      }
      assert.equal(status, 410);
      await assert.rejects(access(blob));
    } finally {
      await server.stop();
    }
  });
});
