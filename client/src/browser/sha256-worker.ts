/**
 * The browser's whole-file SHA-256, off the page's thread: hash-wasm's incremental SHA-256 (Web
 * Crypto has no incremental digest). One worker serves every hash of the page, each by its id;
 * messages arrive in the order they were posted, so updates and the digest never race.
 */
import { createSHA256, type IHasher } from 'hash-wasm';
import type { HashReply, HashRequest } from './worker-hash.js';

const hashers = new Map<number, Promise<IHasher>>();
const scope = self as unknown as { onmessage: ((event: MessageEvent<HashRequest>) => void) | null; postMessage(reply: HashReply): void };

scope.onmessage = ({ data }) => {
  const hasher = hashers.get(data.id) ?? createSHA256();
  hashers.set(data.id, hasher);
  hasher.then((h) => {
    if (data.op === 'update') {
      h.update(new Uint8Array(data.bytes));
      scope.postMessage({ id: data.id, seq: data.seq });
    } else {
      hashers.delete(data.id);
      scope.postMessage({ id: data.id, seq: data.seq, hex: h.digest('hex') });
    }
  }).catch((err: unknown) => {
    hashers.delete(data.id);
    scope.postMessage({ id: data.id, seq: data.seq, error: err instanceof Error ? err.message : String(err) });
  });
};
