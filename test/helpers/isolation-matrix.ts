/**
 * Building blocks for the isolation matrix (test/api/isolation.test.ts): requests described once
 * and sent as any user against any id, the part of an answer a client can compare, and a scanner
 * that finds a user's secrets (bytes, names, sizes, digests, ids, keys) in someone else's answers.
 */
import { randomBytes } from 'node:crypto';
import { send, type HttpResult, type RequestBody } from './http-client.js';

/** One request, without credentials: the actor's headers are added when it is sent. */
export interface Probe {
  readonly method: string;
  /** Path and query, e.g. `/files/<id>`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: RequestBody;
}

export type Credentials = Readonly<Record<string, string>>;

export function sendProbe(baseUrl: string, credentials: Credentials, probe: Probe): Promise<HttpResult> {
  return send(`${baseUrl}${probe.path}`, { method: probe.method, headers: { ...probe.headers, ...credentials }, body: probe.body });
}

export function jsonProbe(method: string, path: string, body: unknown): Probe {
  return { method, path, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

/** A fresh id of the shape Ferry gives uploads, files and keys (128 random bits, hex). */
export function randomId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Headers that differ between two answers for reasons unrelated to what was asked: only the clock.
 * Everything else (Content-Length, Connection, protocol headers) must be the same.
 */
const VOLATILE = new Set(['date']);

/** What a client sees of an answer, with the ids it asked about replaced by `<id>`. */
export interface Seen {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function seen(res: HttpResult, ids: readonly string[]): Seen {
  const normalize = (text: string) => ids.reduce((acc, id) => acc.split(id).join('<id>'), text);
  const headers: Record<string, string> = {};
  for (const name of Object.keys(res.headers).sort()) {
    if (!VOLATILE.has(name)) headers[name] = normalize(res.header(name) ?? '');
  }
  return { status: res.status, headers, body: normalize(res.body.toString('latin1')) };
}

/** The stable error code of a JSON error (`{error: {code}}`) or a problem document (`{code}`); null without one. */
export function errorCodeOf(res: HttpResult): string | null {
  if (res.body.length === 0) return null;
  try {
    const json = JSON.parse(res.text()) as { error?: { code?: unknown }; code?: unknown } | null;
    const code = json?.error?.code ?? json?.code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}

/** A response in one line, for failure messages. */
export function oneLine(res: HttpResult): string {
  const headers = Object.entries(res.headers)
    .filter(([name]) => !VOLATILE.has(name))
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : value}`)
    .join('; ');
  const body = res.body.length > 300 ? `${res.body.subarray(0, 300).toString('latin1')}... (${res.body.length} bytes)` : res.body.toString('latin1');
  return `${res.status} [${headers}] ${JSON.stringify(body)}`;
}

/** Windows of this many bytes are indexed; any leaked run of 2 * WINDOW - 1 bytes or more is found. */
const WINDOW = 8;

/**
 * Finds one user's secrets in an answer meant for someone else: any run of 15 or more bytes of
 * their content (random bytes, so no false matches), and texts (names, digests, ids, keys) and
 * numbers (sizes, offsets) anywhere in the headers or body.
 */
export class LeakScanner {
  private readonly windows = new Map<string, string>();
  private readonly texts: { label: string; text: string }[] = [];
  private readonly numbers: { label: string; value: number }[] = [];

  content(label: string, bytes: Buffer): this {
    for (let at = 0; at + WINDOW <= bytes.length; at += WINDOW) {
      this.windows.set(bytes.toString('latin1', at, at + WINDOW), `${label} bytes at ${at}`);
    }
    return this;
  }

  text(label: string, text: string): this {
    this.texts.push({ label, text });
    const encoded = encodeURIComponent(text);
    if (encoded !== text) this.texts.push({ label: `${label} (percent-encoded)`, text: encoded });
    return this;
  }

  number(label: string, value: number): this {
    this.numbers.push({ label, value });
    return this;
  }

  /**
   * What of the secrets the answer shows. `allow` lists texts the asker supplied (the id in the
   * path, a hash they sent); they are removed before scanning.
   */
  scan(res: HttpResult, allow: readonly string[] = []): string[] {
    const headerText = Object.entries(res.headers)
      .filter(([name]) => !VOLATILE.has(name))
      .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : value ?? ''}`)
      .join('\n');
    return this.scanBody(res.body, allow, headerText);
  }

  /** The same for a body on its own (e.g. JSON a client library already parsed), plus any header text. */
  scanBody(body: Buffer, allow: readonly string[] = [], headerText = ''): string[] {
    const found: string[] = [];
    const strip = (text: string) => allow.reduce((acc, allowed) => acc.split(allowed).join(' '), text);
    const text = strip(`${headerText}\n${body.toString('latin1')}\n${body.toString('utf8')}`);
    for (const { label, text: secret } of this.texts) if (text.includes(secret)) found.push(`${label} (${JSON.stringify(secret)})`);
    for (const { label, value } of this.numbers) {
      if (new RegExp(`(?<![0-9])${value}(?![0-9])`).test(text)) found.push(`${label} (${value})`);
    }
    for (let at = 0; at + WINDOW <= body.length; at += 1) {
      const hit = this.windows.get(body.toString('latin1', at, at + WINDOW));
      if (hit) {
        found.push(`${hit} (at ${at} of the answer)`);
        break;
      }
    }
    return found;
  }
}
