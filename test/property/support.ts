/**
 * Shared pieces of the property tests: generators for what clients can put on the wire, and the
 * one rule every parser keeps — bad input is a typed 4xx FerryError, never anything else.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FerryError } from '../../src/core/errors.js';
import type { HttpResult } from '../helpers/http-client.js';

/**
 * Run counts: pure parsers are cheap; a property that sends HTTP requests costs a round trip per
 * run, on a machine that other test workers share. The whole directory stays well under a minute.
 * FERRY_TEST_PROPERTY_SCALE multiplies every count, for a longer search by hand (a counterexample
 * prints its seed and path, for fc.assert's `seed` and `path` options to replay it).
 */
const SCALE = Math.max(1, Number(process.env.FERRY_TEST_PROPERTY_SCALE ?? 1) || 1);

export function runs(count: number): { numRuns: number } {
  return { numRuns: Math.round(count * SCALE) };
}

export const PURE = runs(400);
export const OVER_HTTP = runs(60);

/** Every character node:http lets a client put into a header value (latin1 without controls but tab). */
const HEADER_CHAR = fc.oneof(
  fc.constantFrom('\t', ' ', ',', ';', '=', ':', '"', '-', '?', '/', '.', '%', '*'),
  fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)),
);

/** Any header value a client can send. */
export const anyHeaderValue = fc.string({ unit: HEADER_CHAR, maxLength: 120 });

const SURROGATE_HALF = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));

/** Any string at all, lone surrogates and controls included: what a parser of decoded text may meet. */
export const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: fc.oneof(fc.constantFrom('a', '/', '.', ' ', '\u0301', '\u0000'), SURROGATE_HALF), maxLength: 12 }),
);

/** True when the string has an unpaired UTF-16 surrogate (no UTF-8 form, so no header or URL form either). */
export function hasLoneSurrogate(text: string): boolean {
  return /\p{Cs}/u.test(text);
}

/** The string with each unpaired surrogate replaced by U+FFFD, as an encoder would send it. */
export function wellFormed(text: string): string {
  return text.replace(/\p{Cs}/gu, '\ufffd');
}

/** Digits that may or may not make a safe integer, with the usual near-misses. */
export const numberish = fc.oneof(
  fc.maxSafeNat().map(String),
  fc.bigInt({ min: 0n, max: 10n ** 22n }).map(String),
  fc.constantFrom('', '-1', '+1', '1e3', '0x10', ' 1', '1 ', '1.0', 'NaN', 'Infinity', '9007199254740992', '00', '\u00b3'),
  anyHeaderValue,
);

/** Runs `parse` and accepts only a result or a FerryError with a 4xx status. */
export function resultOrClientError<T>(parse: () => T): { ok: true; value: T } | { ok: false; error: FerryError } {
  try {
    return { ok: true, value: parse() };
  } catch (err) {
    assert.ok(err instanceof FerryError, `threw something other than a FerryError: ${String(err)}`);
    assert.ok(err.status >= 400 && err.status < 500, `FerryError ${err.code} has status ${err.status}`);
    return { ok: false, error: err };
  }
}

export function isSafeCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** A JSON error body as the API, tus and the compatibility routes send it: {error: {code, message}}. */
export function assertJsonError(res: HttpResult): void {
  const body = res.json() as { error?: { code?: unknown; message?: unknown } };
  assert.equal(typeof body.error?.code, 'string', `no error code in ${res.text().slice(0, 200)}`);
  assert.equal(typeof body.error?.message, 'string');
}

/** An application/problem+json body (RFC 9457) as the IETF draft's errors are. */
export function assertProblem(res: HttpResult): void {
  assert.match(res.header('content-type') ?? '', /^application\/problem\+json/);
  const body = res.json() as { type?: unknown; title?: unknown };
  assert.equal(typeof body.type, 'string');
  assert.equal(typeof body.title, 'string');
}

/** A success, or a 4xx: never a 5xx (nor a 0, which is what a cut connection looks like). */
export function assertNotServerError(res: HttpResult, what: string): void {
  assert.ok(res.status >= 200 && res.status < 500, `${what}: answered ${res.status} ${res.text().slice(0, 200)}`);
}

/** Sends each request with a short deadline: a hang fails the property instead of the whole run. */
export const REQUEST_TIMEOUT_MS = 10_000;
