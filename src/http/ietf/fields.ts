/**
 * The few Structured Field Values (RFC 8941) the draft uses. Per the draft, a value of the wrong
 * type makes the whole field count as absent, so parsers return undefined rather than throwing.
 */

/** sf-integer, non-negative, as Upload-Offset and Upload-Length carry (parameters ignored). */
export function sfNonNegativeInteger(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const bare = raw.split(';')[0]!.trim();
  if (!/^\d{1,15}$/.test(bare)) return undefined;
  return Number(bare);
}

/** sf-boolean: `?1` or `?0` (parameters ignored). */
export function sfBoolean(raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  const bare = raw.split(';')[0]!.trim();
  if (bare === '?1') return true;
  if (bare === '?0') return false;
  return undefined;
}

/** The largest sf-integer (15 digits): a longer one makes a client's parser drop the whole field. */
const SF_INTEGER_MAX = 999_999_999_999_999;

/** An sf-dictionary of integers, serialised; a limit past what an sf-integer can say is capped. */
export function sfIntegerDictionary(entries: Readonly<Record<string, number>>): string {
  return Object.entries(entries)
    .map(([key, value]) => `${key}=${Math.min(SF_INTEGER_MAX, Math.max(0, Math.floor(value)))}`)
    .join(', ');
}
