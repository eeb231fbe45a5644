import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { ByteRange } from '../storage/types.js';

const RANGE_COUNT = 4;
const RANGE_BYTES = 64 * 1024;
const CHALLENGE_TTL_MS = 10 * 60 * 1000;

/**
 * A proof-of-possession challenge for instant upload. Knowing a file's SHA-256 must never be
 * enough to obtain it (a hash leaks through logs, shares and other dedup services), so the client
 * proves it holds the bytes: HMAC-SHA256, keyed with the nonce, over the challenged ranges
 * concatenated in the order given. The ranges are random, so the answer cannot be precomputed.
 */
export interface ProofChallenge {
  readonly algorithm: 'hmac-sha256';
  /** base64url; the HMAC key is the decoded bytes. */
  readonly nonce: string;
  /** Inclusive byte ranges of the file. */
  readonly ranges: readonly ByteRange[];
  readonly expiresAt: Date;
}

/**
 * A uniform random integer in [0, bound). crypto.randomInt covers ranges under 2^48 only, and a
 * declared size may be up to 2^53: past that, 53 random bits, drawn again while they fall beyond
 * the last whole multiple of bound, so that every offset stays as likely as any other.
 */
function randomOffset(bound: number): number {
  if (bound < 2 ** 48) return randomInt(0, bound);
  const limit = Math.floor(2 ** 53 / bound) * bound;
  for (;;) {
    const value = randomInt(0, 2 ** 27) * 2 ** 26 + randomInt(0, 2 ** 26);
    if (value < limit) return value % bound;
  }
}

export function newChallenge(size: number, now: Date): ProofChallenge {
  const length = Math.min(RANGE_BYTES, size);
  const ranges = Array.from({ length: size === 0 ? 0 : RANGE_COUNT }, () => {
    const start = randomOffset(size - length + 1);
    return { start, end: start + length - 1 };
  });
  return {
    algorithm: 'hmac-sha256',
    nonce: randomBytes(32).toString('base64url'),
    ranges,
    expiresAt: new Date(now.getTime() + CHALLENGE_TTL_MS),
  };
}

export function serializeChallenge(challenge: ProofChallenge): string {
  return JSON.stringify({ ...challenge, expiresAt: challenge.expiresAt.toISOString() });
}

export function parseChallenge(raw: string): ProofChallenge {
  const parsed = JSON.parse(raw) as Omit<ProofChallenge, 'expiresAt'> & { expiresAt: string };
  return { ...parsed, expiresAt: new Date(parsed.expiresAt) };
}

/** The expected answer, as lowercase hex, from the stored bytes of the ranges. */
export async function expectedProof(challenge: ProofChallenge, read: (range: ByteRange) => AsyncIterable<Buffer>): Promise<string> {
  const hmac = createHmac('sha256', Buffer.from(challenge.nonce, 'base64url'));
  for (const range of challenge.ranges) {
    for await (const chunk of read(range)) hmac.update(chunk);
  }
  return hmac.digest('hex');
}

/** Constant-time comparison of a client's answer with the expected one. */
export function proofMatches(expected: string, answer: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(answer.trim().toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
