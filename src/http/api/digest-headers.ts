import { FerryError } from '../../core/errors.js';
import type { ChecksumExpectation } from '../../core/integrity.js';
import { header } from '../headers.js';
import type { HttpRequest } from '../exchange.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ALGORITHMS = { 'sha-256': { algorithm: 'sha256', bytes: 32 } } as const;

/**
 * The digests a chunk request declares: RFC 9530 `Content-Digest: sha-256=:<base64>:` and the
 * older `Content-MD5: <base64>`. Algorithms the server does not know are skipped, as RFC 9530
 * says; a request that names none it knows has nothing to be verified with and is refused.
 */
export function chunkDigests(request: HttpRequest): ChecksumExpectation[] {
  const digests: ChecksumExpectation[] = [];
  const contentDigest = header(request, 'content-digest');
  if (contentDigest !== undefined) {
    for (const member of contentDigest.split(',')) {
      const match = /^\s*([a-z0-9*_.-]+)\s*=\s*:([^:]*):\s*$/.exec(member);
      if (!match) throw new FerryError('invalid_digest', 'Content-Digest must be a list of <algorithm>=:<base64>:');
      const [, name, encoded] = match as unknown as [string, string, string];
      // Own keys only: an algorithm called "constructor" is as unknown as any other.
      const known = Object.hasOwn(ALGORITHMS, name) ? ALGORITHMS[name as keyof typeof ALGORITHMS] : undefined;
      if (known) digests.push({ algorithm: known.algorithm, digest: decode(encoded, known.bytes, 'Content-Digest') });
    }
  }
  const md5 = header(request, 'content-md5');
  if (md5 !== undefined) digests.push({ algorithm: 'md5', digest: decode(md5.trim(), 16, 'Content-MD5') });
  return digests;
}

function decode(encoded: string, bytes: number, name: string): Buffer {
  const digest = Buffer.from(encoded, 'base64');
  if (!BASE64.test(encoded) || digest.length !== bytes) throw new FerryError('invalid_digest', `${name} does not hold a digest of the right length`);
  return digest;
}
