/**
 * Webhooks and the pre-create hook, against a receiver in this process that checks signatures the
 * way a real one would; and a kill -9 between an upload's completion and the delivery of its event.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProcessServer, freePort } from '../helpers/process-server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { metadataHeader, tusUpload } from '../helpers/http-tus.js';

const SECRET = 'receiver-shared-secret';

interface Received {
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly body: Record<string, unknown> & { upload?: { id: string; state: string }; file?: { id: string; sha256: string } };
}

/** Accepts only correctly signed, fresh messages; `fail` makes it answer 500 that many times. */
class Receiver {
  readonly messages: Received[] = [];
  refused = 0;
  fail = 0;
  private server!: Server;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((request, response) => {
      void readBody(request).then((body) => {
        if (!verified(request, body)) {
          this.refused += 1;
          response.writeHead(401).end();
          return;
        }
        if (this.fail > 0) {
          this.fail -= 1;
          response.writeHead(500).end();
          return;
        }
        const parsed = JSON.parse(body) as Received['body'] & { id: string; type: string };
        this.messages.push({ id: parsed.id, key: String(request.headers['idempotency-key']), type: parsed.type, body: parsed });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Distinct messages, as a receiver that drops duplicates by Idempotency-Key sees them. */
  unique(): Received[] {
    const seen = new Set<string>();
    return this.messages.filter((message) => !seen.has(message.key) && seen.add(message.key));
  }

  async until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function verified(request: IncomingMessage, body: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers['ferry-signature'] ?? ''));
  if (!match) return false;
  const [, t, v1] = match as unknown as [string, string, string];
  if (Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac('sha256', SECRET).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

describe('webhooks', () => {
  let receiver: Receiver;
  let server: TestServer;
  before(async () => {
    receiver = await new Receiver().start();
    server = await startTestServer({ webhookUrls: [receiver.url], webhookSecret: SECRET, webhookProgressSeconds: 0 });
  });
  after(async () => {
    await server.stop();
    await receiver.stop();
  });

  it('tells of an upload from creation to completion, in order, signed, then of its file being deleted', async () => {
    const data = randomBytes(50_000);
    const { id } = await tusUpload(server, data, { filename: 'report.pdf' });
    await receiver.until(() => receiver.messages.some((m) => m.type === 'upload.completed' && m.body.upload?.id === id), 'the completion');
    const ofUpload = receiver.messages.filter((m) => m.body.upload?.id === id).map((m) => m.type);
    assert.deepEqual(ofUpload.filter((type) => type !== 'upload.progress'), ['upload.created', 'upload.completed']);
    assert.ok(ofUpload.indexOf('upload.progress') === -1 || ofUpload.indexOf('upload.progress') === 1, 'progress comes between');
    const completed = receiver.messages.find((m) => m.type === 'upload.completed' && m.body.upload?.id === id)!;
    assert.equal(completed.key, completed.id, 'the Idempotency-Key is the event id');
    assert.equal(completed.body.upload?.state, 'completed');
    const fileId = completed.body.file!.id;
    assert.equal(receiver.refused, 0, 'every message was signed correctly');

    const deleted = await fetch(`${server.url}/api/v1/files/${fileId}`, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    await receiver.until(() => receiver.messages.some((m) => m.type === 'file.deleted' && (m.body.file as { id: string }).id === fileId), 'the deletion');
  });

  it('retries a failing endpoint with backoff and keeps each upload\'s events in order', async () => {
    receiver.fail = 2;
    const before = receiver.messages.length;
    const { id } = await tusUpload(server, randomBytes(1000), { filename: 'retry.bin' });
    await receiver.until(() => receiver.messages.some((m) => m.type === 'upload.completed' && m.body.upload?.id === id), 'delivery after failures');
    const types = receiver.messages.slice(before).filter((m) => m.body.upload?.id === id).map((m) => m.type).filter((t) => t !== 'upload.progress');
    assert.deepEqual(types, ['upload.created', 'upload.completed'], 'the failed first message held back the later one');
    assert.equal(receiver.fail, 0, 'the failures really happened');
  });
});

describe('pre-create hook', () => {
  let hook: Server;
  let server: TestServer;
  let calls: Record<string, unknown>[];
  before(async () => {
    calls = [];
    hook = createServer((request, response) => {
      void readBody(request).then((body) => {
        const parsed = JSON.parse(body) as { metadata: Record<string, string> };
        calls.push(parsed);
        if (!verified(request, body)) return void response.writeHead(401).end();
        if (parsed.metadata.filename?.endsWith('.exe')) {
          return void response.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'executables are not allowed' }));
        }
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const port = (hook.address() as { port: number }).port;
    server = await startTestServer({ preCreateHookUrl: `http://127.0.0.1:${port}/check`, webhookSecret: SECRET });
  });
  after(async () => {
    await server.stop();
    await new Promise((resolve) => hook.close(resolve));
  });

  it("refuses with the hook's status and message in every protocol, and lets the rest through", async () => {
    const tus = await fetch(`${server.url}/files/`, {
      method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '10', 'Upload-Metadata': metadataHeader({ filename: 'setup.exe' }) },
    });
    assert.equal(tus.status, 422);
    assert.match(await tus.text(), /executables are not allowed/);
    const ietf = await fetch(`${server.url}/files/`, {
      method: 'POST', headers: { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?1', 'Content-Disposition': 'attachment; filename="x.exe"' }, body: 'x',
    });
    assert.equal(ietf.status, 422);
    const native = await fetch(`${server.url}/api/v1/uploads`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'tool.exe', size: 10 }),
    });
    assert.equal(native.status, 422);
    assert.equal(((await native.json()) as { error: { message: string } }).error.message, 'executables are not allowed');
    const fine = await fetch(`${server.url}/api/v1/uploads`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'notes.txt', size: 10 }),
    });
    assert.equal(fine.status, 201);
    assert.ok(calls.length >= 4);
  });

  it('refuses with 503 while the hook is unreachable', async () => {
    const port = await freePort();
    const unreachable = await startTestServer({ preCreateHookUrl: `http://127.0.0.1:${port}/check`, webhookSecret: SECRET });
    try {
      const answer = await fetch(`${unreachable.url}/api/v1/uploads`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'a.txt', size: 1 }),
      });
      assert.equal(answer.status, 503);
    } finally {
      await unreachable.stop();
    }
  });
});

describe('webhooks across kill -9', () => {
  it('delivers the completion queued before the crash once the server is back, exactly once per key', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-webhooks-'));
    const port = await freePort();
    const receiver = new Receiver();
    const server = await ProcessServer.start({
      dataDir,
      env: { FERRY_WEBHOOK_URLS: `http://127.0.0.1:${port}/hook`, FERRY_WEBHOOK_SECRET: SECRET, FERRY_WEBHOOK_PROGRESS_SECONDS: '3600' },
    });
    try {
      // Nobody listens yet: the completion can only wait in the outbox.
      const { id } = await tusUpload(server, randomBytes(20_000), { filename: 'crash.bin' });
      await server.kill('SIGKILL');
      await receiver.start(port);
      await server.restart();
      await receiver.until(() => receiver.unique().some((m) => m.type === 'upload.completed' && m.body.upload?.id === id), 'the completion after restart', 30_000);
      const unique = receiver.unique().filter((m) => m.body.upload?.id === id).map((m) => m.type);
      assert.deepEqual(unique, ['upload.created', 'upload.progress', 'upload.completed']);
    } finally {
      await server.stop();
      await receiver.stop().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
