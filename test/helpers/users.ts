/**
 * Users with API keys, written straight into the server's metadata store, for tests of routes that
 * need several users without going through signup.
 */
import { randomBytes } from 'node:crypto';
import { hashSecret } from '../../src/core/accounts.js';
import type { RunningServer } from '../../src/server.js';

export interface TestUser {
  readonly id: string;
  readonly username: string;
  /** `Authorization: Bearer <key>`, to spread into request headers. */
  readonly auth: { readonly Authorization: string };
}

export async function createUser(server: RunningServer, username: string, tenant = 'default'): Promise<TestUser> {
  const id = randomBytes(16).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const now = new Date();
  await server.meta.accounts.insertUser({ id, username, kind: 'person', tenant, createdAt: now }, null);
  await server.meta.accounts.insertToken(
    { id: randomBytes(16).toString('hex'), userId: id, kind: 'api_key', name: 'test', createdAt: now, expiresAt: null },
    hashSecret(secret),
  );
  return { id, username, auth: { Authorization: `Bearer ${secret}` } };
}
