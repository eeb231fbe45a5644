/** An answer of the server that is not a success: `status` and the API's stable `code`. */
export class FerryApiError extends Error {
  override name = 'FerryApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The server could not be reached (after the retries). `cause` is the last network error. */
export class FerryNetworkError extends Error {
  override name = 'FerryNetworkError';
  constructor(readonly url: string, options: { cause: unknown }) {
    super(`cannot reach ${url}: ${describe(options.cause)}`, options);
  }
}

/** The upload was cancelled with `cancel()`: the server's upload and the saved state are gone. */
export class UploadCancelledError extends Error {
  override name = 'UploadCancelledError';
  constructor() {
    super('the upload was cancelled');
  }
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // undici wraps the socket error: `fetch failed` with cause ECONNREFUSED etc.
  const inner = (cause as { cause?: unknown }).cause;
  if (inner instanceof Error) return (inner as { code?: string }).code ?? inner.message;
  return cause.message;
}

/** Whether `err` is an abort (of an AbortSignal), whatever its exact class. */
export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}
