import { FerryError } from '../core/errors.js';
import type { HttpReply, HttpRequest } from './exchange.js';

export type Handler = (request: HttpRequest, reply: HttpReply) => Promise<void>;

interface Route {
  readonly pattern: string;
  readonly segments: readonly string[];
  readonly handler: Handler;
}

/**
 * Method + path routing for a handful of fixed routes. `:name` segments become decoded params; a
 * trailing slash is ignored, so `/files` and `/files/` are one route.
 */
export class Router {
  private readonly routes = new Map<string, Route[]>();

  on(method: string, pattern: string, handler: Handler): this {
    const list = this.routes.get(method) ?? [];
    list.push({ pattern, segments: split(pattern), handler });
    this.routes.set(method, list);
    return this;
  }

  /**
   * The handler for the request, with params and route filled in; null when no route matches. HEAD
   * without a route of its own is answered as GET (RFC 9110 §9.3.2); node:http sends no body for it.
   */
  match(request: HttpRequest): Handler | null {
    return this.find(request, request.method) ?? (request.method === 'HEAD' ? this.find(request, 'GET') : null);
  }

  /** The methods the request's path has routes for (HEAD wherever GET is), for a 405's Allow. */
  allowed(request: HttpRequest): string[] {
    const segments = split(request.path);
    const methods = [...this.routes].filter(([, routes]) => routes.some((route) => matchSegments(route.segments, segments, () => '') !== null)).map(([method]) => method);
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    return methods;
  }

  private find(request: HttpRequest, method: string): Handler | null {
    const segments = split(request.path);
    for (const route of this.routes.get(method) ?? []) {
      const params = matchSegments(route.segments, segments);
      if (params) {
        request.params = params;
        request.route = route.pattern;
        return route.handler;
      }
    }
    return null;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((segment, index, all) => segment !== '' || (index > 0 && index < all.length - 1));
}

function matchSegments(pattern: readonly string[], actual: readonly string[], decode = decodeSegment): Record<string, string> | null {
  if (pattern.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (const [index, expected] of pattern.entries()) {
    const segment = actual[index]!;
    if (expected.startsWith(':')) params[expected.slice(1)] = decode(segment);
    else if (expected !== segment) return null;
  }
  return params;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new FerryError('invalid_request', 'the URL is not validly percent-encoded');
  }
}
