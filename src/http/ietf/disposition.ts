/**
 * The file name a Content-Disposition header carries (RFC 6266): the RFC 8187 `filename*` form
 * wins over plain `filename`. Returns null when there is none or it cannot be decoded.
 */
export function filenameFromDisposition(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const extended = /filename\*\s*=\s*UTF-8'[^']*'([^;\s]+)/i.exec(raw);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!);
    } catch {
      return null;
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(raw);
  if (quoted) return quoted[1]!.replace(/\\(.)/g, '$1');
  const token = /filename\s*=\s*([^;\s"]+)/i.exec(raw);
  return token ? token[1]! : null;
}
