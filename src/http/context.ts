import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { UploadService } from '../core/uploads.js';
import { uploadUrl } from './headers.js';

/** The endpoint tus and the IETF draft share. */
export const FILES_PREFIX = '/files';

export interface HttpContext {
  readonly uploads: UploadService;
  readonly config: Config;
}

export function fileUrl(ctx: HttpContext, request: FastifyRequest, id: string): string {
  return uploadUrl(request, ctx.config.publicUrl, FILES_PREFIX, id);
}

/** The upload id from the route, as the client sent it; the core decides whether it exists. */
export function routeId(request: FastifyRequest): string {
  return (request.params as { id?: string }).id ?? '';
}
