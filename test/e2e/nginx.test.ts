/**
 * deploy/nginx.conf for real: Debian's nginx running the deployed file in front of two api nodes
 * on PostgreSQL, Redis, RabbitMQ and Ceph, and tus-js-client uploading 40 MiB through it. Part-way
 * through a PATCH, the node taking it is stopped: with SIGTERM it finishes that PATCH and the rest
 * goes to the other node; with SIGKILL the client resumes on the other node from the offset it
 * answers. Either way the upload completes behind nginx's URL with the right SHA-256. The IETF
 * draft goes through nginx too, without 104 interim responses (FERRY_INTERIM_RESPONSES=false).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as tus from 'tus-js-client';
import { Cluster } from '../helpers/cluster.js';
import { downloadSha256, MiB, refusesConnections, sha256Hex, until, withTimeout } from '../helpers/e2e.js';
import { metricValue } from '../helpers/http-tus.js';
import { Nginx } from '../helpers/nginx.js';
import { freePort, type ProcessServer } from '../helpers/process-server.js';

const SIZE = 40 * MiB + 12_345;
const FAIL_TIMEOUT_MS = 1000 * Number(/fail_timeout=(\d+)s/.exec(readFileSync(fileURLToPath(new URL('../../../deploy/nginx.conf', import.meta.url)), 'utf8'))![1]);
const CHUNK_SIZE = 16 * MiB;
/** Where the first PATCH's body waits until the test has stopped the node taking it. */
const PAUSE_AT = 8 * MiB;

/** A one-shot gate: the first PATCH body sent through the stack it wraps stops at PAUSE_AT until opened. */
class PausedPatch {
  private arrived!: () => void;
  private release!: () => void;
  private used = false;
  /** Resolves when the first PATCH has sent PAUSE_AT bytes. */
  readonly reached = new Promise<void>((resolve) => { this.arrived = resolve; });
  private readonly opened = new Promise<void>((resolve) => { this.release = resolve; });

  open(): void { this.release(); }

  stack(): tus.HttpStack {
    const inner = new tus.DefaultHttpStack({});
    return {
      getName: () => 'paused-patch',
      createRequest: (method, url) => {
        const request = inner.createRequest(method, url);
        if (method !== 'PATCH' || this.used) return request;
        this.used = true;
        const send = request.send.bind(request);
        request.send = (body?: unknown) => send(Buffer.isBuffer(body) ? this.paused(body) : body);
        return request;
      },
    };
  }

  private paused(body: Buffer): Readable {
    const gate = this;
    return Readable.from((async function* () {
      yield body.subarray(0, PAUSE_AT);
      gate.arrived();
      await gate.opened;
      for (let at = PAUSE_AT; at < body.length; at += MiB) yield body.subarray(at, at + MiB);
    })());
  }
}

describe('nginx running deploy/nginx.conf in front of two api nodes', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  let nodes: ProcessServer[];
  let nginx: Nginx;

  before(async () => {
    cluster = await Cluster.create();
    const nginxPort = await freePort();
    const env = {
      // Location headers name nginx, not the node that answered.
      FERRY_PUBLIC_URL: `http://127.0.0.1:${nginxPort}`,
      // A killed node's lock is gone after 2 s; the next request waits for it rather than failing.
      FERRY_LOCK_TTL_MS: '2000',
      FERRY_LOCK_TIMEOUT_MS: '20000',
      FERRY_SHUTDOWN_GRACE_SECONDS: '120',
      // As deploy/compose.yaml: nginx 1.22 takes a 104 interim response for the final one.
      FERRY_INTERIM_RESPONSES: 'false',
    };
    nodes = await Promise.all([cluster.start('api', env), cluster.start('api', env)]);
    nginx = await Nginx.start(nodes.map((node) => `127.0.0.1:${node.port}`), nginxPort);
  });

  after(async () => {
    await nginx?.stop();
    await cluster?.dispose();
  });

  /** Uploads through nginx; `stop` runs once the first PATCH is part-way, on the node streaming it. */
  async function uploadStopping(stop: (victim: ProcessServer) => Promise<void>): Promise<{ url: string; victim: ProcessServer; data: Buffer }> {
    const data = randomBytes(SIZE);
    const gate = new PausedPatch();
    let victim: ProcessServer | undefined;
    const stopping = gate.reached.then(async () => {
      await until(async () => (await Promise.all(nodes.map((node) => metricValue(node, 'ferry_uploads_active')))).some((active) => active > 0), 'a node streaming the PATCH');
      const active = await Promise.all(nodes.map((node) => metricValue(node, 'ferry_uploads_active')));
      victim = nodes[active.findIndex((count) => count > 0)]!;
      await stop(victim);
    }).finally(() => gate.open());
    const url = await withTimeout(new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(data, {
        endpoint: `${nginx.url}/files/`,
        chunkSize: CHUNK_SIZE,
        retryDelays: [0, 500, 1000, 2000, 4000, 8000],
        metadata: { filename: 'through-nginx.bin' },
        httpStack: gate.stack(),
        onSuccess: () => resolve(upload.url!),
        onError: reject,
      });
      upload.start();
    }), 120_000, `tus-js-client upload through nginx\n${nginx.output()}\n${cluster.logs()}`);
    await stopping;
    return { url, victim: victim!, data };
  }

  /**
   * Restarts a stopped node and waits out nginx's fail_timeout: nginx keeps a node it could not
   * reach out of the pool that long, and the next case's failure must find the other node in it
   * (two nodes out at once is a double fault, answered 502 "no live upstreams").
   */
  async function rejoin(victim: ProcessServer): Promise<void> {
    await victim.restart();
    await sleep(FAIL_TIMEOUT_MS);
  }

  async function assertStored(url: string, data: Buffer): Promise<void> {
    assert.ok(url.startsWith(`${nginx.url}/files/`), `the upload URL ${url} is behind nginx`);
    const download = await downloadSha256(url, { timeoutMs: 60_000 });
    assert.equal(download.status, 200, `GET ${url} through nginx\n${nginx.output()}`);
    assert.equal(download.bytes, data.length);
    assert.equal(download.sha256, sha256Hex(data));
  }

  it('the IETF draft (tus-js-client ietf-draft-05) goes through as well', async () => {
    const data = randomBytes(5 * MiB + 321);
    const url = await withTimeout(new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(data, {
        endpoint: `${nginx.url}/files/`,
        // Left out of the client's type definitions.
        ...({ protocol: 'ietf-draft-05' } as object),
        chunkSize: 2 * MiB,
        retryDelays: [],
        onSuccess: () => resolve(upload.url!),
        onError: reject,
      });
      upload.start();
    }), 60_000, `ietf-draft-05 upload through nginx\n${nginx.output()}`);
    await assertStored(url, data);
  });

  it('SIGTERM: the node finishes the PATCH it is taking and exits 0; the rest goes to the other node', async () => {
    let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
    const receivedBefore = await Promise.all(nodes.map((node) => metricValue(node, 'ferry_bytes_received_total')));
    const { url, victim, data } = await uploadStopping(async (node) => {
      exited = node.kill('SIGTERM', 60_000);
      await until(() => refusesConnections(node.url), 'the stopping node to refuse new connections');
    });
    assert.deepEqual(await exited, { code: 0, signal: null }, cluster.logs());
    const survivor = nodes.find((node) => node !== victim)!;
    const took = (await metricValue(survivor, 'ferry_bytes_received_total')) - receivedBefore[nodes.indexOf(survivor)]!;
    assert.equal(took, data.length - CHUNK_SIZE, 'the stopped node stored its whole PATCH, the other node all the rest');
    await assertStored(url, data);
    await rejoin(victim);
  });

  it('SIGKILL: the client resumes on the other node from the offset it answers', async () => {
    const { url, victim, data } = await uploadStopping(async (node) => {
      assert.equal((await node.kill('SIGKILL')).signal, 'SIGKILL');
    });
    assert.equal(victim.running, false);
    await assertStored(url, data);
    await rejoin(victim);
  });
});
