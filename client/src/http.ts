import { FerryApiError, FerryNetworkError, isAbort } from './errors.js';

/** How failed requests are retried: network errors, 5xx, 408 and 429, with exponential backoff. */
export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  retries: number;
  /** The first wait; each next one doubles, with ±25 % jitter (default 250 ms). */
  baseDelayMs: number;
  /** The longest wait (default 5 s); a `Retry-After` is honoured up to this. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 250, maxDelayMs: 5_000 };

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** JSON-encoded when it is not bytes. */
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Statuses answered without throwing (besides 2xx). */
  accept?: readonly number[];
  /** Retries for this request instead of the policy's (0: the caller retries, e.g. from a new offset). */
  retries?: number;
}

/** Requests to one server with one token, retried by a policy. */
export class Transport {
  constructor(
    readonly baseUrl: string,
    public token: string | undefined,
    private readonly fetchImpl: FetchLike,
    readonly retry: RetryPolicy,
  ) {}

  /** A path on the server, or an absolute URL the server handed out (e.g. a tus Location) as it is. */
  url(path: string): string {
    if (/^https?:\/\//i.test(path)) return path;
    return `${this.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  /** Sends a request, retrying what may succeed later; throws FerryApiError on other failures. */
  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path);
    const headers: Record<string, string> = { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...options.headers };
    let body: BodyInit | undefined;
    if (options.body instanceof Uint8Array) body = options.body as unknown as BodyInit;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const retries = options.retries ?? this.retry.retries;
    for (let attempt = 0; ; attempt += 1) {
      let response: Response;
      try {
        response = await this.fetchImpl(url, { method: options.method ?? 'GET', headers, body, signal: options.signal ?? null });
      } catch (err) {
        if (isAbort(err) || options.signal?.aborted) throw err;
        if (attempt >= retries) throw new FerryNetworkError(this.baseUrl, { cause: err });
        await sleep(backoff(this.retry, attempt), options.signal);
        continue;
      }
      if (response.ok || options.accept?.includes(response.status)) return response;
      if (retryable(response.status) && attempt < retries) {
        await response.body?.cancel().catch(() => undefined);
        await sleep(Math.max(backoff(this.retry, attempt), retryAfter(response, this.retry)), options.signal);
        continue;
      }
      throw await apiError(response);
    }
  }

  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(path, options);
    return (await response.json()) as T;
  }
}

/** Statuses worth asking again after a while. */
export function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function backoff(policy: RetryPolicy, attempt: number): number {
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return delay * (0.75 + Math.random() * 0.5);
}

function retryAfter(response: Response, policy: RetryPolicy): number {
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(policy.maxDelayMs, seconds * 1000) : 0;
}

/** The API's error body as an error; a body that is not the API's gets the status text. */
export async function apiError(response: Response): Promise<FerryApiError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string }; code?: string; title?: string };
    const code = body.error?.code ?? body.code;
    const message = body.error?.message ?? body.title;
    if (code && message) return new FerryApiError(response.status, code, message);
  } catch {
    // not JSON: fall through
  }
  return new FerryApiError(response.status, `http_${response.status}`, `the server answered ${response.status} ${response.statusText}`.trim());
}

/** Waits `ms`, or rejects with the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
