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

/** An sf-dictionary of integers, serialised. */
export function sfIntegerDictionary(entries: Readonly<Record<string, number>>): string {
  return Object.entries(entries)
    .map(([key, value]) => `${key}=${Math.max(0, Math.floor(value))}`)
    .join(', ');
}
