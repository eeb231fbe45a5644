import { createHash, createHmac } from 'node:crypto';
import type { ClientCrypto } from '../crypto.js';

/** Node's hashing for the client: node:crypto, incremental. */
export const nodeCrypto: ClientCrypto = {
  createSha256() {
    const hash = createHash('sha256');
    return { update: (bytes) => { hash.update(bytes); }, digestHex: () => hash.digest('hex') };
  },
  async sha256(bytes) {
    return createHash('sha256').update(bytes).digest();
  },
  async hmacSha256(key, parts) {
    const hmac = createHmac('sha256', key);
    for (const part of parts) hmac.update(part);
    return hmac.digest();
  },
};
