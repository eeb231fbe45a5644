import type { Principal } from './principal.js';
import type { Metadata } from './upload.js';

/** What a pre-create hook is told about an upload about to be created. */
export interface PreCreateRequest {
  readonly owner: Principal;
  readonly size: number | null;
  readonly metadata: Metadata;
}

/**
 * Asked before every upload is created, whatever the protocol; throws a FerryError to refuse it
 * (its status and message reach the client).
 */
export interface PreCreateHook {
  check(request: PreCreateRequest): Promise<void>;
}
