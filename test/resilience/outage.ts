/**
 * What every outage test checks, whichever service goes away: requests answer a clear 503 in a
 * bounded time, /readyz names what is down and comes back, and an upload resumed from the offset
 * the server reports ends with exactly the bytes that were sent.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { downloadSha256, sleep } from '../helpers/e2e.js';
import { send, type HttpResult, type RequestBody } from '../helpers/http-client.js';
import { tusPatch, TUS } from '../helpers/http-tus.js';

/** A request during an outage must be answered within this: no hang behind a dead connection. */
export const ANSWER_WITHIN_MS = 8_000;

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Timed extends HttpResult {
  readonly ms: number;
}

/** Sends a request and measures how long the answer took; fails if none came within ANSWER_WITHIN_MS. */
export async function timed(url: string, options: { method?: string; headers?: Record<string, string | number | undefined>; body?: RequestBody } = {}): Promise<Timed> {
  const started = Date.now();
  const res = await send(url, { ...options, timeoutMs: ANSWER_WITHIN_MS + 2_000 });
  const ms = Date.now() - started;
  assert.ok(ms <= ANSWER_WITHIN_MS, `${options.method ?? 'GET'} ${url} took ${ms} ms`);
  return { ...res, ms };
}

/** A 503 with Ferry's JSON error body: `{ error: { code: 'service_unavailable', message } }`. */
export function assertJson503(res: HttpResult, what: string): void {
  assert.equal(res.status, 503, `${what}: ${res.status} ${res.text()}`);
  assert.match(res.header('content-type') ?? '', /^application\/json/, `${what}: content type`);
  const body = res.json() as { error?: { code?: string; message?: string } };
  assert.equal(body.error?.code, 'service_unavailable', `${what}: ${res.text()}`);
  assert.ok(body.error?.message, `${what}: a message`);
}

/** A tus 503: the JSON body plus Tus-Resumable, as every tus response carries. */
export function assertTus503(res: HttpResult, what: string): void {
  assert.equal(res.status, 503, `${what}: ${res.status} ${res.text()}`);
  assert.equal(res.header('tus-resumable'), '1.0.0', `${what}: Tus-Resumable`);
  if (res.body.length > 0) assertJson503(res, what); // a HEAD answer has no body
}

/** An IETF draft 503: application/problem+json with Upload-Complete. */
export function assertProblem503(res: HttpResult, what: string): void {
  assert.equal(res.status, 503, `${what}: ${res.status} ${res.text()}`);
  assert.equal(res.header('upload-complete'), '?0', `${what}: Upload-Complete`);
  if (res.body.length === 0) return;
  assert.match(res.header('content-type') ?? '', /^application\/problem\+json/, `${what}: content type`);
  assert.equal((res.json() as { code?: string }).code, 'service_unavailable', `${what}: ${res.text()}`);
}

export interface Readiness {
  readonly status: number;
  readonly body: { status: string; down?: string[]; degraded?: string[]; checks: Record<string, string> };
}

export async function readyz(baseUrl: string): Promise<Readiness> {
  const res = await timed(`${baseUrl}/readyz`);
  return { status: res.status, body: res.json() as Readiness['body'] };
}

/** Waits until /readyz says `service` is down (503, named in `down`); returns that answer. */
export async function waitUntilDown(baseUrl: string, service: string, ms = 15_000): Promise<Readiness> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ready = await readyz(baseUrl);
    if (ready.status === 503 && ready.body.down?.includes(service)) {
      assert.equal(ready.body.status, 'unavailable');
      assert.equal(ready.body.checks[service], 'unavailable');
      return ready;
    }
    if (Date.now() > deadline) throw new Error(`/readyz did not report ${service} down within ${ms} ms: ${ready.status} ${JSON.stringify(ready.body)}`);
    await sleep(100);
  }
}

/** Waits until /readyz says `service` is away but the node serves without it (200, named in `degraded`). */
export async function waitUntilDegraded(baseUrl: string, service: string, ms = 15_000): Promise<Readiness> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ready = await readyz(baseUrl);
    if (ready.body.degraded?.includes(service)) {
      assert.equal(ready.status, 200);
      assert.equal(ready.body.status, 'degraded');
      assert.equal(ready.body.checks[service], 'degraded');
      return ready;
    }
    if (Date.now() > deadline) throw new Error(`/readyz did not report ${service} degraded within ${ms} ms: ${ready.status} ${JSON.stringify(ready.body)}`);
    await sleep(100);
  }
}

/** Waits until /readyz answers 200 with every check ok. */
export async function waitUntilReady(baseUrl: string, ms = 30_000): Promise<Readiness> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ready = await readyz(baseUrl);
    if (ready.status === 200 && ready.body.status !== 'degraded') {
      assert.equal(ready.body.status, 'ready');
      assert.ok(Object.values(ready.body.checks).every((check) => check === 'ok'), JSON.stringify(ready.body));
      return ready;
    }
    if (Date.now() > deadline) throw new Error(`/readyz not 200 within ${ms} ms: ${ready.status} ${JSON.stringify(ready.body)}`);
    await sleep(100);
  }
}

/** Retries `request` until it stops answering 503 (a service reconnecting may refuse a moment longer than /readyz). */
export async function once503sEnd(request: () => Promise<HttpResult>, ms = 15_000): Promise<HttpResult> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await request();
    if (res.status !== 503 || Date.now() > deadline) return res;
    await sleep(200);
  }
}

/** The tus offset by HEAD; asserts a 200. */
export async function tusOffsetOf(location: string): Promise<number> {
  const res = await timed(location, { method: 'HEAD', headers: TUS });
  assert.equal(res.status, 200, `HEAD ${location}: ${res.status}`);
  return Number(res.header('upload-offset'));
}

/**
 * Resumes a tus upload from the offset the server reports, which must not be below what it had
 * acknowledged (`acknowledged`), sends the rest, and checks the download's SHA-256 against `data`.
 */
export async function resumeAndVerify(location: string, data: Buffer, acknowledged: number, downloadUrl = location): Promise<{ resumedAt: number }> {
  const resumedAt = await tusOffsetOf(location);
  assert.ok(resumedAt >= acknowledged, `acknowledged bytes were lost: the server had acknowledged ${acknowledged}, now reports ${resumedAt}`);
  assert.ok(resumedAt <= data.length);
  if (resumedAt < data.length) {
    const rest = await tusPatch(location, resumedAt, data.subarray(resumedAt));
    assert.equal(rest.status, 204, `resume PATCH at ${resumedAt}: ${rest.status} ${rest.text()}`);
    assert.equal(rest.header('upload-offset'), String(data.length));
  }
  const download = await downloadSha256(downloadUrl);
  assert.equal(download.status, 200);
  assert.equal(download.bytes, data.length);
  assert.equal(download.sha256, sha256(data), 'the download is the bytes that were sent');
  return { resumedAt };
}
