/**
 * Declarative protocol cases: {name, setup, method, path, headers, body} -> {status, headers
 * present / absent / equal / matching / listing tokens, body predicate, follow-up checks}. Each case
 * becomes one node:test `it`, run against a live server over real HTTP.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { send, type HttpResult, type RequestBody } from './http-client.js';
import type { TestServer } from './server.js';

/** What a case's setup hands to its request builder and checks. */
export type Vars = Record<string, string>;

type Dynamic<T, V> = T | ((vars: V, server: TestServer) => T);

export interface HeaderExpectations {
  /** Header names that must be present (any value). */
  readonly present?: readonly string[];
  /** Header names that must be absent. */
  readonly absent?: readonly string[];
  /** Exact values (compared after trimming). */
  readonly equal?: Readonly<Record<string, string>>;
  /** Values that must match a pattern. */
  readonly match?: Readonly<Record<string, RegExp>>;
  /** Comma-separated list headers that must contain each token (case-insensitive). */
  readonly lists?: Readonly<Record<string, readonly string[]>>;
}

export interface Expectation<V> extends HeaderExpectations {
  /** One status, or a set of acceptable statuses. */
  readonly status: number | readonly number[];
  readonly body?: (body: Buffer, res: HttpResult, vars: V) => void;
  /** Further checks after the response, e.g. a HEAD proving the upload did not change. */
  readonly after?: (vars: V, res: HttpResult, server: TestServer) => Promise<void>;
}

export interface HttpCase<V = Vars> {
  readonly name: string;
  readonly setup?: (server: TestServer) => Promise<V>;
  readonly method: string;
  /** A path relative to the server's base URL (e.g. `/files/abc`) or an absolute URL. */
  readonly path: Dynamic<string, V>;
  readonly headers?: Dynamic<Readonly<Record<string, string | number | undefined>>, V>;
  readonly body?: Dynamic<RequestBody, V>;
  readonly expect: Expectation<V>;
  readonly skip?: string;
}

function resolve<T, V>(value: Dynamic<T, V> | undefined, vars: V, server: TestServer): T | undefined {
  return typeof value === 'function' ? (value as (vars: V, server: TestServer) => T)(vars, server) : value;
}

export function absoluteUrl(server: TestServer, path: string): string {
  return /^https?:\/\//.test(path) ? path : `${server.url}${path}`;
}

/** Checks status and headers of a response against expectations; `label` prefixes failures. */
export function checkResponse(res: HttpResult, expect: HeaderExpectations & { status?: number | readonly number[] }, label = ''): void {
  const where = `${label}${label ? ': ' : ''}`;
  const summary = () => `${res.status} ${JSON.stringify(res.headers)} ${res.text().slice(0, 300)}`;
  if (expect.status !== undefined) {
    const allowed = typeof expect.status === 'number' ? [expect.status] : expect.status;
    assert.ok(allowed.includes(res.status), `${where}expected status ${allowed.join(' or ')}, got ${summary()}`);
  }
  for (const name of expect.present ?? []) {
    assert.notEqual(res.header(name), undefined, `${where}expected header ${name}; got ${summary()}`);
  }
  for (const name of expect.absent ?? []) {
    assert.equal(res.header(name), undefined, `${where}expected no ${name} header; got ${summary()}`);
  }
  for (const [name, value] of Object.entries(expect.equal ?? {})) {
    assert.equal(res.header(name)?.trim(), value, `${where}header ${name}; got ${summary()}`);
  }
  for (const [name, pattern] of Object.entries(expect.match ?? {})) {
    const actual = res.header(name);
    assert.ok(actual !== undefined && pattern.test(actual), `${where}header ${name} should match ${pattern}, got ${JSON.stringify(actual)}`);
  }
  for (const [name, tokens] of Object.entries(expect.lists ?? {})) {
    const listed = (res.header(name) ?? '').split(',').map((token) => token.trim().toLowerCase());
    for (const token of tokens) {
      assert.ok(listed.includes(token.toLowerCase()), `${where}${name} should list ${token}, got ${JSON.stringify(res.header(name))}`);
    }
  }
}

/** Runs one case against the server and returns the response (exported for ad-hoc use). */
export async function runCase<V>(server: TestServer, testCase: HttpCase<V>): Promise<HttpResult> {
  const vars = testCase.setup ? await testCase.setup(server) : ({} as V);
  const path = resolve(testCase.path, vars, server)!;
  const res = await send(absoluteUrl(server, path), {
    method: testCase.method,
    headers: resolve(testCase.headers, vars, server) ?? {},
    body: resolve(testCase.body, vars, server),
  });
  checkResponse(res, testCase.expect, `${testCase.method} ${path.slice(0, 100)}`);
  testCase.expect.body?.(res.body, res, vars);
  await testCase.expect.after?.(vars, res, server);
  return res;
}

/**
 * Registers every case as an `it` inside the current `describe`. `getServer` is called when the case
 * runs, so a `before` hook can start the server.
 */
export function defineCases<V>(getServer: () => TestServer, cases: readonly HttpCase<V>[], common?: HeaderExpectations): void {
  for (const testCase of cases) {
    it(testCase.name, { timeout: 20_000, skip: testCase.skip }, async () => {
      const server = getServer();
      const res = await runCase(server, testCase);
      if (common) checkResponse(res, common, `${testCase.name} (common)`);
    });
  }
}
