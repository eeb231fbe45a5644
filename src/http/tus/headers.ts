import { FerryError } from '../../core/errors.js';
import { isChecksumAlgorithm, type ChecksumExpectation } from '../../core/integrity.js';
import { isUploadId, type ConcatRole, type Metadata } from '../../core/upload.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const METADATA_KEY = /^[\x21-\x2b\x2d-\x7e]+$/; // printable ASCII, no space and no comma
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Upload-Metadata: comma-separated `key base64value` pairs, the value optional. Keys are unique;
 * values must decode to UTF-8 text (they end up as file names and media types).
 */
export function parseMetadata(raw: string | undefined): Metadata {
  // A Map, not an object, while parsing: a key such as __proto__ is a key like any other.
  const metadata = new Map<string, string | null>();
  if (raw === undefined || raw.trim() === '') return {};
  for (const pair of raw.split(',')) {
    const parts = pair.trim().split(' ');
    const [key, value] = parts;
    if (parts.length > 2 || !key || !METADATA_KEY.test(key)) {
      throw new FerryError('invalid_metadata', `Upload-Metadata has a malformed pair: ${JSON.stringify(pair.slice(0, 80))}`);
    }
    if (metadata.has(key)) throw new FerryError('invalid_metadata', `Upload-Metadata repeats the key ${key}`);
    metadata.set(key, value === undefined ? null : decodeValue(key, value));
  }
  return Object.fromEntries(metadata);
}

function decodeValue(key: string, value: string): string {
  if (!BASE64.test(value)) throw new FerryError('invalid_metadata', `Upload-Metadata value of ${key} is not base64`);
  try {
    return utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    throw new FerryError('invalid_metadata', `Upload-Metadata value of ${key} is not UTF-8 text`);
  }
}

export function formatMetadata(metadata: Metadata): string {
  return Object.entries(metadata)
    .map(([key, value]) => (value === null ? key : `${key} ${Buffer.from(value, 'utf8').toString('base64')}`))
    .join(',');
}

const DIGEST_BYTES = { sha1: 20, sha256: 32, md5: 16 } as const;

/** Upload-Checksum: `<algorithm> <base64 digest>`. */
export function parseChecksum(raw: string | undefined): ChecksumExpectation | null {
  if (raw === undefined) return null;
  const match = /^([a-z0-9-]+) ([A-Za-z0-9+/=]+)$/.exec(raw.trim());
  if (!match) throw new FerryError('invalid_checksum', 'Upload-Checksum must be "<algorithm> <base64 digest>"');
  const [, algorithm, encoded] = match as unknown as [string, string, string];
  if (!isChecksumAlgorithm(algorithm)) {
    throw new FerryError('unsupported_checksum', `checksum algorithm ${algorithm} is not supported (use sha1, sha256 or md5)`);
  }
  const digest = Buffer.from(encoded, 'base64');
  if (!BASE64.test(encoded) || digest.length !== DIGEST_BYTES[algorithm]) {
    throw new FerryError('invalid_checksum', `Upload-Checksum does not hold a ${algorithm} digest`);
  }
  return { algorithm, digest };
}

/** Upload-Concat: `partial`, or `final;<url> <url> ...` naming partial uploads of this server. */
export function parseConcat(raw: string | undefined, prefix: string): ConcatRole | null {
  if (raw === undefined) return null;
  const value = raw.trim();
  if (value === 'partial') return { kind: 'partial' };
  if (!value.startsWith('final;')) throw new FerryError('invalid_concat', 'Upload-Concat must be "partial" or "final;<urls>"');
  const urls = value.slice('final;'.length).trim().split(/ +/).filter(Boolean);
  if (urls.length === 0) throw new FerryError('invalid_concat', 'Upload-Concat final lists no partial uploads');
  return { kind: 'final', parts: urls.map((url) => idFromUrl(url, prefix)), named: urls };
}

/** Upload-Concat for a response: a final upload's parts as its creation named them (older records: their URLs). */
export function formatConcat(role: ConcatRole, urlOf: (id: string) => string): string {
  return role.kind === 'partial' ? 'partial' : `final;${(role.named ?? role.parts.map(urlOf)).join(' ')}`;
}

function idFromUrl(url: string, prefix: string): string {
  let path: string;
  try {
    path = new URL(url, 'http://placeholder').pathname;
  } catch {
    throw new FerryError('invalid_concat', `not an upload URL: ${url.slice(0, 100)}`);
  }
  const id = path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : '';
  if (!isUploadId(id)) throw new FerryError('invalid_concat', `not an upload URL: ${url.slice(0, 100)}`);
  return id;
}
