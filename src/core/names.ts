import { FerryError } from './errors.js';

/**
 * Library names. Folders are path prefixes: `photos/2026/cat.jpg` is the file `cat.jpg` in the
 * folder `photos/2026/`. A name is only ever a database value, never a filesystem path, but it is
 * shown to people and used in Content-Disposition, so it stays printable and unambiguous.
 */
const MAX_NAME_LENGTH = 1024;
const MAX_SEGMENT_LENGTH = 255;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Half of a UTF-16 surrogate pair on its own: no UTF-8 form, so a store would keep another name. */
const LONE_SURROGATE = /\p{Cs}/u;

/** A name a client chose through the API: rejected, not repaired, when it is not a clean path. */
export function parseFileName(raw: string): string {
  const name = raw.normalize('NFC');
  const problem = nameProblem(name);
  if (problem) throw new FerryError('invalid_name', `invalid file name: ${problem}`);
  return name;
}

/**
 * A name taken from protocol metadata (tus Upload-Metadata, a form field), which older clients
 * fill with whatever the platform gave them: cleaned up instead of refused.
 */
export function cleanFileName(raw: string | null | undefined, fallback: string): string {
  const segments = (raw ?? '')
    .replace(new RegExp(CONTROL.source, 'g'), '')
    .replace(new RegExp(LONE_SURROGATE.source, 'gu'), '\ufffd')
    // After the removals: taking out a control character can bring a letter and its accent together.
    .normalize('NFC')
    .replace(/\\/g, '/')
    .split('/')
    .map((segment) => [...segment].slice(0, MAX_SEGMENT_LENGTH).join('').trim())
    .filter((segment) => segment !== '' && segment !== '.' && segment !== '..');
  const name = segments.join('/');
  return name === '' || name.length > MAX_NAME_LENGTH ? fallback : name;
}

/** A folder filter: a clean path that ends with `/`. */
export function parseFolder(raw: string): string {
  const folder = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  return `${parseFileName(folder)}/`;
}

function nameProblem(name: string): string | null {
  if (name === '') return 'it is empty';
  if (name.length > MAX_NAME_LENGTH) return `it is longer than ${MAX_NAME_LENGTH} characters`;
  if (CONTROL.test(name)) return 'it contains control characters';
  if (LONE_SURROGATE.test(name)) return 'it contains an unpaired surrogate (not Unicode text)';
  if (name.startsWith('/') || name.endsWith('/')) return 'it starts or ends with /';
  for (const segment of name.split('/')) {
    if (segment === '') return 'it contains an empty folder name (//)';
    if (segment === '.' || segment === '..') return 'it contains . or .. as a folder name';
    if (segment.trim() !== segment) return 'a part of it starts or ends with a space';
    if ([...segment].length > MAX_SEGMENT_LENGTH) return `a part of it is longer than ${MAX_SEGMENT_LENGTH} characters`;
  }
  return null;
}

// type/subtype with optional `; name=value` parameters, each value a token, or a token in quotes
// (RFC 9110 §5.6.6 allows a quoted string, as in charset="utf-8"; served unquoted): anything else
// is not served.
const TOKEN = "[a-z0-9!#$&^_.+-]{1,64}";
const SAFE_MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"${TOKEN}"))*$`);

/** A declared media type if it is well-formed, else application/octet-stream. */
export function cleanMediaType(raw: string | null | undefined): string {
  const declared = (raw ?? '').trim().toLowerCase();
  return SAFE_MEDIA_TYPE.test(declared) ? declared.replace(/="([^"]*)"/g, '=$1') : 'application/octet-stream';
}
