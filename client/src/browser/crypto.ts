import type { ClientCrypto } from '../crypto.js';
import { WorkerHashes } from './worker-hash.js';

/**
 * The browser's hashing for the client. The whole-file SHA-256 runs in a Web Worker (hash-wasm).
 * Chunk digests and proofs use Web Crypto where the page has it; a page served over plain http
 * from an address other than localhost is not a secure context and has no `crypto.subtle`, so
 * there hash-wasm does those too (loaded only then).
 */
export function browserCrypto(): ClientCrypto {
  // Vite finds the worker through this exact `new Worker(new URL(...))` form and builds it as its own file.
  const hashes = new WorkerHashes(() => new Worker(new URL('./sha256-worker.ts', import.meta.url), { type: 'module' }));
  const crypto: ClientCrypto = { createSha256: () => hashes.create() };
  if (globalThis.crypto?.subtle) return crypto;
  return {
    ...crypto,
    async sha256(bytes) {
      const { createSHA256 } = await import('hash-wasm');
      return (await createSHA256()).update(bytes).digest('binary');
    },
    async hmacSha256(key, parts) {
      const { createHMAC, createSHA256 } = await import('hash-wasm');
      const hmac = await createHMAC(createSHA256(), key);
      for (const part of parts) hmac.update(part);
      return hmac.digest('binary');
    },
  };
}
