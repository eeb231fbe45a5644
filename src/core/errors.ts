/**
 * Domain errors carry a stable machine-readable code and the HTTP status the edge should answer
 * with. Lower layers throw these; only the HTTP layer turns them into responses.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_metadata: 400,
  invalid_checksum: 400,
  unsupported_checksum: 400,
  inconsistent_length: 400,
  invalid_concat: 400,
  upload_not_found: 404,
  upload_gone: 410,
  upload_locked: 423,
  offset_mismatch: 409,
  final_upload_patch: 403,
  too_large: 413,
  body_exceeds_length: 413,
  unsupported_media_type: 415,
  missing_tus_resumable: 412,
  /** A download's If-Match names no current version of the file. */
  precondition_failed: 412,
  checksum_mismatch: 460,
  range_not_satisfiable: 416,
  not_completed: 409,
  client_aborted: 400,
  storage_full: 507,
  /** The user's storage quota (FERRY_QUOTA_BYTES) has no room for the bytes. */
  quota_exceeded: 507,
  /** The user has FERRY_MAX_OPEN_UPLOADS unfinished uploads already. */
  too_many_uploads: 429,
  invalid_json: 400,
  invalid_name: 400,
  invalid_digest: 400,
  digest_mismatch: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  username_taken: 409,
  rate_limited: 429,
  file_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  upload_paused: 409,
  upload_incomplete: 409,
  sha256_mismatch: 422,
  /** A file named by its SHA-1 (filestore-server clients) has another SHA-1. */
  sha1_mismatch: 422,
  chunk_out_of_range: 400,
  chunk_length_mismatch: 400,
  service_unavailable: 503,
  /**
   * Storage holds an upload's blob as complete while its record is still open: the process that
   * completed it died before recording that. Appends recover the completion instead.
   */
  blob_complete: 409,
  /** The status comes from the hook's answer (any 4xx); 403 is the fallback. */
  rejected_by_hook: 403,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Values a protocol adapter may need to render the error (e.g. the expected offset). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown>; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.status = options.status ?? ERROR_STATUS[code];
    this.details = options.details ?? {};
  }
}

export function isFerryError(err: unknown, code?: ErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code);
}
