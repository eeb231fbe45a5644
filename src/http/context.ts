import type { HttpRequest } from './exchange.js';
import type { Config } from '../config.js';
import type { UploadService } from '../core/uploads.js';
import { uploadUrl } from './headers.js';

/** The endpoint tus and the IETF draft share. */
export const FILES_PREFIX = '/files';

export interface HttpContext {
  readonly uploads: UploadService;
  readonly config: Config;
}

export function fileUrl(ctx: HttpContext, request: HttpRequest, id: string): string {
  return uploadUrl(request, ctx.config.publicUrl, FILES_PREFIX, id);
}

/** The upload id from the route, as the client sent it; the core decides whether it exists. */
export function routeId(request: HttpRequest): string {
  return (request.params as { id?: string }).id ?? '';
}
