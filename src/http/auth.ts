import type { AccountService } from '../core/accounts.js';
import { FerryError } from '../core/errors.js';
import { LOCAL_USER, type Principal } from '../core/principal.js';
import type { HttpRequest } from './exchange.js';

/** Who a request acts for, whatever protocol it speaks. */
export interface Authenticator {
  /** Throws `unauthorized` when the request carries no valid credential. */
  principal(request: HttpRequest): Promise<Principal>;
}

export function createAuthenticator(mode: 'required' | 'none', accounts: AccountService): Authenticator {
  if (mode === 'none') return { principal: async () => LOCAL_USER };
  return {
    principal: async (request) => {
      const secret = bearerSecret(request);
      const principal = secret === null ? null : await accounts.authenticate(secret);
      if (!principal) throw new FerryError('unauthorized', secret === null ? 'sign in: this needs a bearer token' : 'the token is invalid or expired');
      return principal;
    },
  };
}

/** The secret of `Authorization: Bearer <secret>`, or of `X-API-Key` for clients that cannot set Authorization. */
export function bearerSecret(request: HttpRequest): string | null {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(authorization);
    return match ? match[1]! : null;
  }
  const key = request.headers['x-api-key'];
  return typeof key === 'string' && key !== '' ? key : null;
}
