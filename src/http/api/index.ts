import type { HttpContext } from '../context.js';
import type { Router } from '../router.js';
import { registerAuthRoutes } from './auth-routes.js';
import { registerFilesApi } from './files-routes.js';
import { registerUploadsApi } from './uploads-routes.js';
import { registerFlowRoutes } from '../flow/routes.js';
import { ApiRegistry } from './registry.js';

export const API_PREFIX = '/api/v1';

/** Every /api/v1 route, and the OpenAPI document generated from their declarations. */
export function registerApi(router: Router, ctx: HttpContext): ApiRegistry {
  const api = new ApiRegistry(router, ctx);
  registerAuthRoutes(api, ctx, API_PREFIX);
  registerFilesApi(api, ctx, API_PREFIX);
  registerUploadsApi(api, ctx, API_PREFIX);
  registerFlowRoutes(api, ctx, API_PREFIX);
  router.on('GET', `${API_PREFIX}/openapi.json`, async (_request, reply) => {
    await reply.send(api.document());
  });
  return api;
}
