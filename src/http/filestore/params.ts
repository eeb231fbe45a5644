import busboy from 'busboy';
import { FerryError } from '../../core/errors.js';
import type { HttpRequest } from '../exchange.js';
import { header, mediaType, parseLength, readSmallBody } from '../headers.js';

/** Form bodies of these routes carry a few short fields; anything larger is refused unread. */
const MAX_FORM_BYTES = 64 * 1024;
const SHA1 = /^[0-9a-f]{40}$/i;

type Pairs = Iterable<readonly [string, string]>;

/**
 * The parameters of one request, as the course's handlers read them with r.ParseForm: the query
 * string and form fields together. A name sent twice with different values is refused rather
 * than one of them picked, and an empty value counts as absent (Go's Form.Get cannot tell them apart).
 */
export class Params {
  private constructor(private readonly values: ReadonlyMap<string, string>) {}

  static of(...sources: Pairs[]): Params {
    const values = new Map<string, string>();
    for (const source of sources) {
      for (const [name, value] of source) {
        if (value === '') continue;
        const earlier = values.get(name);
        if (earlier !== undefined && earlier !== value) throw new FerryError('invalid_request', `contradictory values for ${name}`);
        values.set(name, value);
      }
    }
    return new Params(values);
  }

  /** These parameters and more, which must agree with them. */
  with(more: Pairs): Params {
    return Params.of(this.values, more);
  }

  get(name: string): string | null {
    return this.values.get(name) ?? null;
  }

  required(name: string): string {
    const value = this.get(name);
    if (value === null) throw new FerryError('invalid_request', `missing ${name}`);
    return value;
  }

  /** A file's SHA-1 as lowercase hex: only ever a lookup key, never part of a path. */
  sha1(name: string): string {
    const value = this.required(name);
    if (!SHA1.test(value)) throw new FerryError('invalid_request', `${name} must be the file's SHA-1 as 40 hex digits`);
    return value.toLowerCase();
  }

  optionalSha1(name: string): string | null {
    return this.get(name) === null ? null : this.sha1(name);
  }

  /** A byte count or an index: a plain non-negative decimal integer. */
  count(name: string): number {
    return parseLength(this.required(name), name);
  }

  optionalCount(name: string): number | null {
    return this.get(name) === null ? null : this.count(name);
  }
}

export function queryPairs(request: HttpRequest): Pairs {
  return request.query;
}

/** True for multipart/form-data that names its boundary; the course's part uploads say multipart but send raw bytes. */
export function isMultipart(request: HttpRequest): boolean {
  return mediaType(request) === 'multipart/form-data' && /;\s*boundary=/i.test(header(request, 'content-type') ?? '');
}

/**
 * The query string and the fields of a form body (urlencoded or multipart; file parts are read
 * past and ignored). Other bodies are not read: the query is all there is.
 */
export async function readParams(request: HttpRequest): Promise<Params> {
  const query = queryPairs(request);
  const type = mediaType(request);
  if (type === 'application/x-www-form-urlencoded') return Params.of(query, new URLSearchParams(await readSmallBody(request, MAX_FORM_BYTES, 'a form body')));
  if (isMultipart(request)) return Params.of(query, await readMultipartFields(request));
  return Params.of(query);
}

async function readMultipartFields(request: HttpRequest): Promise<[string, string][]> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (declared > MAX_FORM_BYTES) throw new FerryError('too_large', `a form body may be at most ${MAX_FORM_BYTES} bytes`);
  const fields: [string, string][] = [];
  const parser = multipartParser(request, { fields: 50, fieldSize: 4096, parts: 60 });
  let length = 0;
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value, info) => {
      if (info.nameTruncated || info.valueTruncated) reject(tooLongField(name));
      else fields.push([name, value]);
    });
    parser.on('file', (_name, stream) => { stream.resume(); });
    parser.on('fieldsLimit', () => reject(tooManyFields()));
    parser.on('partsLimit', () => reject(tooManyFields()));
    parser.on('close', resolve);
    parser.on('error', () => reject(new FerryError('invalid_request', 'the multipart body is malformed')));
    request.raw.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_FORM_BYTES) reject(new FerryError('too_large', `a form body may be at most ${MAX_FORM_BYTES} bytes`));
    });
    request.raw.once('close', () => {
      if (!request.raw.complete) reject(new FerryError('client_aborted', 'the request ended before its form'));
    });
  });
  request.raw.pipe(parser);
  try {
    await parsed;
  } catch (err) {
    request.raw.unpipe(parser);
    parser.destroy();
    throw err;
  }
  return fields;
}

/** A busboy parser for the request; a Content-Type it cannot parse is the client's error. */
export function multipartParser(request: HttpRequest, limits: busboy.Limits): busboy.Busboy {
  try {
    return busboy({ headers: request.headers, limits });
  } catch {
    throw new FerryError('invalid_request', 'the body is not multipart/form-data with a boundary');
  }
}

/** busboy cuts a field at its size limit; a cut value (a token, a name) must not pass for the whole. */
export function tooLongField(name: string): FerryError {
  return new FerryError('invalid_request', `the form field ${name.slice(0, 64)} is too long`);
}

export function tooManyFields(): FerryError {
  return new FerryError('invalid_request', 'the form has too many fields');
}
