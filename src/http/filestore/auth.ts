import { FerryError } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';
import { bearerSecret } from '../auth.js';
import { ownerOf, type HttpContext } from '../context.js';
import type { HttpRequest } from '../exchange.js';
import type { Params } from './params.js';

/**
 * Who a filestore request acts for. Ferry's own credentials (Authorization: Bearer, X-API-Key)
 * come first; the course's clients put their token in a `token` query or form parameter, so a
 * Ferry token (session or API key) is taken from there too. The course's `username` parameter is
 * ignored: the token alone says who is asking.
 */
export async function filestorePrincipal(ctx: HttpContext, request: HttpRequest, params: Params): Promise<Principal> {
  const token = params.get('token');
  if (ctx.config.auth === 'none' || bearerSecret(request) !== null || token === null) return ownerOf(ctx, request);
  const principal = await ctx.accounts.authenticate(token);
  if (!principal) throw new FerryError('unauthorized', 'the token is invalid or expired');
  return principal;
}

/**
 * The caller, when the headers or the query say who it is; null when only a form field further
 * into the body could (a multipart form's `token`). Checked before any of the body is read.
 */
export async function callerBeforeBody(ctx: HttpContext, request: HttpRequest, query: Params): Promise<Principal | null> {
  const known = ctx.config.auth === 'none' || bearerSecret(request) !== null || query.get('token') !== null;
  return known ? filestorePrincipal(ctx, request, query) : null;
}
