import { createHash } from 'node:crypto';
import type { MetaStore } from '../meta/types.js';
import type { Principal } from './principal.js';

export interface AccountServiceDeps {
  readonly meta: MetaStore;
  readonly now?: () => Date;
}

/** Users, passwords, session tokens and API keys. */
export class AccountService {
  private readonly meta: MetaStore;
  private readonly now: () => Date;

  constructor(deps: AccountServiceDeps) {
    this.meta = deps.meta;
    this.now = deps.now ?? (() => new Date());
  }

  /** Who a bearer secret (session token or API key) acts for; null when it is unknown, revoked or expired. */
  async authenticate(secret: string): Promise<Principal | null> {
    const found = await this.meta.accounts.findToken(hashSecret(secret), this.now());
    return found ? { userId: found.user.id, tenant: found.user.tenant } : null;
  }
}

/** Secrets are random and long, so a fast hash suffices: only the hash is stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
