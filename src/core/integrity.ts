import { createHash, type Hash } from 'node:crypto';
import { FerryError } from './errors.js';

export const CHECKSUM_ALGORITHMS = ['sha1', 'sha256', 'md5'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** A digest the client promised for the bytes of one request. */
export interface ChecksumExpectation {
  readonly algorithm: ChecksumAlgorithm;
  readonly digest: Buffer;
}

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

export function checksumVerifier(expected: ChecksumExpectation): { update(chunk: Buffer): void; verify(): void } {
  const hash = createHash(expected.algorithm);
  return {
    update: (chunk) => { hash.update(chunk); },
    verify: () => {
      if (!hash.digest().equals(expected.digest)) {
        throw new FerryError('checksum_mismatch', `the ${expected.algorithm} checksum of the request body does not match`);
      }
    },
  };
}

interface HashSession {
  hash: Hash;
  /** How many leading bytes of the upload the hash has seen. */
  covered: number;
}

/**
 * The running SHA-256 of each upload this process is receiving, so completion never re-reads the
 * file. Bounded: an evicted upload is re-hashed from storage when it is next appended to.
 */
export class ContentHashes {
  private readonly sessions = new Map<string, HashSession>();

  constructor(private readonly capacity: number) {}

  /**
   * Hands over the session covering exactly `offset` bytes, if this process has one. It leaves the
   * cache: the caller puts it back once its bytes are committed, so a failed append never leaves a
   * digest behind that covers bytes the upload does not hold.
   */
  take(id: string, offset: number): HashSession | null {
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    return session && session.covered === offset ? session : null;
  }

  put(id: string, session: HashSession): void {
    this.sessions.delete(id);
    this.sessions.set(id, session);
    while (this.sessions.size > this.capacity) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
  }

  forget(id: string): void {
    this.sessions.delete(id);
  }
}

export function newSha256(): Hash {
  return createHash('sha256');
}
