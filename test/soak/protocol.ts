/**
 * What every soak protocol driver provides: start an upload, make one attempt at progress (which
 * may be cut), and say where the completed bytes and the server's record of them are found.
 */
import type { Step } from './attempt.js';

export type Storage = 'local' | 's3';

export interface Plan {
  /** Unique in the run, e.g. `w3-17`. */
  readonly label: string;
  readonly protocol: string;
  readonly name: string;
  readonly data: Buffer;
  readonly sha256: string;
}

/** How the audit finds the upload's row: by id, or through the protocol's own name for it. */
export type UploadRef =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'flow'; readonly identifier: string }
  | { readonly kind: 'fupload'; readonly taskId: number };

export interface Session {
  readonly ref: UploadRef;
  /** One attempt: sends some or all of what is missing. True once the server says it is complete. */
  advance(step: Step): Promise<boolean>;
  /** The completed bytes' path on any node, or null when the API cannot serve them to this user. */
  downloadPath(): string | null;
}

export interface Protocol {
  readonly name: string;
  /** Whether the protocol works on this storage (e.g. byte ranges need in-place writes). */
  supports(storage: Storage): boolean;
  /** Creates the upload (no bytes, or a first piece that is never cut). */
  begin(plan: Plan, step: Step, storage: Storage): Promise<Session>;
}
