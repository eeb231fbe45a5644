/**
 * The hashing the client needs, behind a small interface: one-shot digests and HMAC come from Web
 * Crypto (browsers and Node alike); the incremental SHA-256 over a whole file, which Web Crypto
 * cannot do, comes from the platform (node:crypto in Node; e.g. hash-wasm in a browser worker).
 */
export interface IncrementalHash {
  /** May return a promise (hashing in a worker): the caller awaits it before the next piece, which bounds the bytes in flight. */
  update(bytes: Uint8Array): void | Promise<void>;
  /** The digest as lowercase hex. */
  digestHex(): string | Promise<string>;
}

export interface ClientCrypto {
  /** A new incremental SHA-256. */
  createSha256(): IncrementalHash;
  /** SHA-256 of `bytes`. Default: Web Crypto. */
  sha256?(bytes: Uint8Array): Promise<Uint8Array>;
  /** HMAC-SHA256 of `parts` concatenated, keyed with `key`. Default: Web Crypto. */
  hmacSha256?(key: Uint8Array, parts: readonly Uint8Array[]): Promise<Uint8Array>;
}

function subtle(): SubtleCrypto {
  const webCrypto = (globalThis as { crypto?: Crypto }).crypto;
  if (!webCrypto?.subtle) throw new Error('Web Crypto (crypto.subtle) is not available: pass a ClientCrypto with sha256 and hmacSha256');
  return webCrypto.subtle;
}

export async function sha256(crypto: ClientCrypto | undefined, bytes: Uint8Array): Promise<Uint8Array> {
  if (crypto?.sha256) return crypto.sha256(bytes);
  return new Uint8Array(await subtle().digest('SHA-256', bytes as unknown as BufferSource));
}

export async function hmacSha256(crypto: ClientCrypto | undefined, key: Uint8Array, parts: readonly Uint8Array[]): Promise<Uint8Array> {
  if (crypto?.hmacSha256) return crypto.hmacSha256(key, parts);
  const imported = await subtle().importKey('raw', key as unknown as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', imported, concat(parts) as unknown as BufferSource));
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b, c] = [bytes[i]!, bytes[i + 1], bytes[i + 2]];
    out += B64[a >> 2]! + B64[((a & 3) << 4) | ((b ?? 0) >> 4)]!;
    out += b === undefined ? '=' : B64[((b & 15) << 2) | ((c ?? 0) >> 6)]!;
    out += c === undefined ? '=' : B64[c & 63]!;
  }
  return out;
}

export function fromBase64Url(text: string): Uint8Array {
  const clean = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const char of clean) {
    const digit = B64.indexOf(char);
    if (digit < 0) throw new Error('invalid base64url');
    value = (value << 6) | digit;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (value >> bits) & 0xff;
    }
  }
  return out.subarray(0, index);
}
