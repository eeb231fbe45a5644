import type { HttpRequest } from './exchange.js';
import type { Config } from '../config.js';
import type { AccountService } from '../core/accounts.js';
import type { ChunkedUploads } from '../core/chunked.js';
import type { LibraryService } from '../core/library.js';
import type { NamedUploads } from '../core/named-uploads.js';
import type { Principal } from '../core/principal.js';
import type { UploadService } from '../core/uploads.js';
import type { RequestLimiters } from '../limits/rate-limit.js';
import type { Authenticator } from './auth.js';
import { uploadUrl } from './headers.js';

/** The endpoint tus and the IETF draft share. */
export const FILES_PREFIX = '/files';

export interface HttpContext {
  readonly uploads: UploadService;
  readonly chunked: ChunkedUploads;
  /** Chunked uploads named by the client, per protocol. */
  readonly named: { readonly flow: NamedUploads };
  readonly library: LibraryService;
  readonly accounts: AccountService;
  readonly auth: Authenticator;
  readonly config: Config;
  readonly limiters: RequestLimiters;
}

export function fileUrl(ctx: HttpContext, request: HttpRequest, id: string): string {
  return uploadUrl(request, ctx.config.publicUrl, FILES_PREFIX, id);
}

/** The upload id from the route, as the client sent it; the core decides whether it exists. */
export function routeId(request: HttpRequest): string {
  return (request.params as { id?: string }).id ?? '';
}

const owners = new WeakMap<HttpRequest, Promise<Principal>>();

/** The user the request acts for, authenticated once per request. */
export function ownerOf(ctx: HttpContext, request: HttpRequest): Promise<Principal> {
  let owner = owners.get(request);
  if (!owner) {
    owner = ctx.auth.principal(request);
    owners.set(request, owner);
  }
  return owner;
}
