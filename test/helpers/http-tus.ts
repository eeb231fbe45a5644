/**
 * Small building blocks for protocol tests: create / append / inspect uploads with plain tus 1.0
 * or IETF draft requests, without hiding what is sent. Each helper asserts only what it needs to
 * go on (e.g. a 201 with a Location); the tests assert the rest.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { send, type HttpResult, type RequestBody } from './http-client.js';
import type { TestServer } from './server.js';

export const TUS = { 'Tus-Resumable': '1.0.0' } as const;
export const CHUNK = 'application/offset+octet-stream';
export const PARTIAL = 'application/partial-upload';

/** Upload-Metadata header from a map; null values become keys without values. */
export function metadataHeader(entries: Readonly<Record<string, string | Buffer | null>>): string {
  return Object.entries(entries)
    .map(([key, value]) => (value === null ? key : `${key} ${Buffer.from(value).toString('base64')}`))
    .join(',');
}

/** Parses an Upload-Metadata response header into key -> decoded value (null without value). */
export function parseMetadataHeader(raw: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const pair of raw.split(',')) {
    const [key, value] = pair.trim().split(' ');
    out[key!] = value === undefined ? null : Buffer.from(value, 'base64').toString('utf8');
  }
  return out;
}

export function digest(algorithm: string, data: Buffer | string, encoding: 'base64' | 'hex' = 'base64'): string {
  return createHash(algorithm).update(data).digest(encoding);
}

export function idOf(location: string): string {
  const id = new URL(location).pathname.split('/').pop();
  assert.ok(id, `no id in ${location}`);
  return id;
}

export interface Created {
  readonly location: string;
  readonly id: string;
  readonly res: HttpResult;
}

/** tus POST; asserts 201 + Location. */
export async function tusCreate(
  server: Pick<TestServer, 'endpoint'>,
  headers: Readonly<Record<string, string | number | undefined>>,
  body?: RequestBody,
): Promise<Created> {
  const res = await send(server.endpoint, { method: 'POST', headers: { ...TUS, ...headers }, body });
  assert.equal(res.status, 201, `tus create: ${res.status} ${res.text()}`);
  const location = res.header('location');
  assert.ok(location, 'tus create: no Location');
  const absolute = new URL(location, server.endpoint).toString();
  return { location: absolute, id: idOf(absolute), res };
}

/** tus PATCH with the given bytes at `offset`. Returns the response unchecked. */
export function tusPatch(
  location: string,
  offset: number | string,
  body: RequestBody,
  headers: Readonly<Record<string, string | number | undefined>> = {},
): Promise<HttpResult> {
  return send(location, {
    method: 'PATCH',
    headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': String(offset), ...headers },
    body,
  });
}

export function tusHead(location: string): Promise<HttpResult> {
  return send(location, { method: 'HEAD', headers: TUS });
}

/** Current tus offset via HEAD; asserts the upload is still there. */
export async function tusOffset(location: string): Promise<number> {
  const res = await tusHead(location);
  assert.equal(res.status, 200, `HEAD ${location}: ${res.status}`);
  const offset = res.header('upload-offset');
  assert.match(offset ?? '', /^\d+$/, `HEAD ${location}: Upload-Offset ${offset}`);
  return Number(offset);
}

/** Creates a tus upload and uploads all of `data` in one PATCH; asserts it completed. */
export async function tusUpload(
  server: Pick<TestServer, 'endpoint'>,
  data: Buffer | string,
  metadata?: Readonly<Record<string, string | Buffer | null>>,
  extra: Readonly<Record<string, string>> = {},
): Promise<Created> {
  const bytes = Buffer.from(data);
  const created = await tusCreate(server, {
    'Upload-Length': bytes.length,
    'Upload-Metadata': metadata ? metadataHeader(metadata) : undefined,
    ...extra,
  });
  if (bytes.length > 0) {
    const res = await tusPatch(created.location, 0, bytes);
    assert.equal(res.status, 204, `tus upload PATCH: ${res.status} ${res.text()}`);
    assert.equal(res.header('upload-offset'), String(bytes.length));
  }
  return created;
}

/** IETF draft request headers for one interop version. */
export function draft(version: number, headers: Readonly<Record<string, string | number | undefined>> = {}) {
  return { 'Upload-Draft-Interop-Version': String(version), ...headers };
}

/** IETF upload creation with Upload-Complete: ?0 and no body; asserts 201 + Location. */
export async function ietfCreate(
  server: TestServer,
  version: number,
  headers: Readonly<Record<string, string | number | undefined>> = {},
  body?: RequestBody,
): Promise<Created> {
  const res = await send(server.endpoint, {
    method: 'POST',
    headers: draft(version, { 'Upload-Complete': '?0', ...headers }),
    body,
  });
  assert.equal(res.status, 201, `ietf create v${version}: ${res.status} ${res.text()}`);
  const location = res.header('location');
  assert.ok(location, 'ietf create: no Location');
  const absolute = new URL(location, server.endpoint).toString();
  return { location: absolute, id: idOf(absolute), res };
}

/** Parses a Structured Field dictionary of integers/tokens well enough for Upload-Limit. */
export function parseSfDictionary(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const member of raw.split(',')) {
    const trimmed = member.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq < 0) out.set(trimmed, '?1');
    else out.set(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).split(';')[0]!.trim());
  }
  return out;
}

/** `HTTP-date` as RFC 9110 / RFC 7231 IMF-fixdate. */
export const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Fetches /metrics and returns the value of an unlabelled sample, or the sum over a labelled family. */
export async function metricValue(server: Pick<TestServer, 'url'>, name: string): Promise<number> {
  const res = await send(`${server.url}/metrics`);
  assert.equal(res.status, 200, `/metrics: ${res.status}`);
  let total = 0;
  let seen = false;
  for (const line of res.text().split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === name) {
      total += Number(match[3]);
      seen = true;
    }
  }
  assert.ok(seen, `metric ${name} not exposed`);
  return total;
}
