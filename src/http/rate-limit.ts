import { isIPv4 } from 'node:net';
import type { Config } from '../config.js';
import { FerryError } from '../core/errors.js';
import type { RateDecision, RateLimiter } from '../limits/rate-limit.js';
import { bearerSecret } from './auth.js';
import { ownerOf, type HttpContext } from './context.js';
import { OPERATIONAL_PATHS } from './drain.js';
import type { HttpReply, HttpRequest } from './exchange.js';

interface Counted {
  readonly name: string;
  readonly decision: RateDecision;
}

/**
 * Counts the request against its client address and, when it carries a credential, its user; over
 * either limit it is refused (429) before any of it is handled, saying when to come back and why
 * (Retry-After, and the IETF RateLimit and RateLimit-Policy fields). Requests are counted, not
 * bytes, so the many chunk requests of a fast upload cost one each and the defaults leave room for
 * them. Allowed answers carry no count, so that equal requests get equal answers.
 */
export async function limitRequest(ctx: HttpContext, request: HttpRequest, reply: HttpReply): Promise<void> {
  const { limiters } = ctx;
  // Probes from load balancers and monitoring are never limited: they all come from a few addresses.
  if (OPERATIONAL_PATHS.has(request.path)) return;
  const counted: Counted[] = [];
  if (limiters.byAddress) {
    const decision = await limiters.byAddress.hit(clientAddress(request, ctx.config));
    counted.push({ name: 'address', decision });
    if (!decision.allowed) refuse(reply, counted);
  }
  if (limiters.byUser && ctx.config.auth === 'required' && bearerSecret(request) !== null) {
    // Authenticated once per request (ownerOf remembers it); a bad credential is the handler's to answer.
    const principal = await ownerOf(ctx, request).catch(() => null);
    if (principal) {
      const decision = await limiters.byUser.hit(principal.userId);
      counted.push({ name: 'user', decision });
      if (!decision.allowed) refuse(reply, counted);
    }
  }
}

/** Counts an attempt against one limiter; over the limit, answers 429 with when to try again. */
export async function enforceLimit(limiter: RateLimiter, key: string, reply: HttpReply): Promise<void> {
  const decision = await limiter.hit(key);
  if (!decision.allowed) refuse(reply, [{ name: 'attempts', decision }]);
}

/** Refuses with 429, naming the policies counted and, of the last one (the one that refused), when it opens again. */
function refuse(reply: HttpReply, counted: readonly Counted[]): never {
  const refused = counted.at(-1)!;
  reply
    .header('Retry-After', String(refused.decision.retryAfterSeconds))
    .header('RateLimit-Policy', counted.map(({ name, decision }) => `"${name}";q=${decision.limit};w=${decision.windowSeconds}`).join(', '))
    .header('RateLimit', `"${refused.name}";r=${refused.decision.remaining};t=${refused.decision.resetSeconds}`);
  throw new FerryError('rate_limited', 'too many requests; try again later');
}

/**
 * The client's address: the peer, unless the peer is a trusted proxy; then the nearest address in
 * X-Forwarded-For that is not one. Without trusted proxies the header is ignored: it is the client's
 * own claim, and trusting it would let anyone pick a fresh address per request.
 */
export function clientAddress(request: HttpRequest, config: Pick<Config, 'trustedProxies'>): string {
  let address = plainAddress(request.raw.socket.remoteAddress ?? 'unknown');
  if (!config.trustedProxies.includes(address)) return address;
  const forwarded = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded ?? '').split(',').map((hop) => plainAddress(hop.trim())).filter(Boolean);
  while (hops.length > 0 && config.trustedProxies.includes(address)) address = hops.pop()!;
  return address;
}

/** An IPv4 peer of a dual-stack socket arrives as ::ffff:a.b.c.d; it is the same client as a.b.c.d. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
