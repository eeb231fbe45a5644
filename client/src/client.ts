import type { ClientCrypto } from './crypto.js';
import { download, type DownloadOptions, type DownloadResult, type DownloadTarget } from './download.js';
import { DEFAULT_RETRY, Transport, type FetchLike, type RetryPolicy } from './http.js';
import type { UploadSource } from './source.js';
import { MemoryStateStore, type StateStore } from './state.js';
import type { FerryFile, FileLink, FileList, ListOptions, Session, User } from './types.js';
import { TusUpload } from './tus.js';
import { NativeUpload, type UploadOptions, type UploadResult, type UploadTask } from './upload.js';

export interface FerryClientOptions {
  /** The server, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A session token or API key; `login()` sets one. */
  token?: string;
  /** Default: the global fetch. Wrap it to observe or fault requests. */
  fetch?: FetchLike;
  /** Hashing; without `createSha256` uploads declare no SHA-256 (no instant upload). */
  crypto?: ClientCrypto;
  /** Where unfinished uploads are remembered. Default: this process's memory. */
  state?: StateStore;
  retry?: Partial<RetryPolicy>;
}

/**
 * A client of one Ferry server. Platform-neutral: it uses fetch and Web Crypto; file access,
 * whole-file hashing and state persistence come in through `UploadSource`, `ClientCrypto`,
 * `StateStore` and `DownloadTarget` (see `client/src/node.ts` for Node's).
 */
export class FerryClient {
  protected readonly transport: Transport;
  protected readonly crypto: ClientCrypto | undefined;
  protected readonly state: StateStore;

  constructor(options: FerryClientOptions) {
    const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.transport = new Transport(options.baseUrl, options.token, fetchImpl, { ...DEFAULT_RETRY, ...options.retry });
    this.crypto = options.crypto;
    this.state = options.state ?? new MemoryStateStore();
  }

  get baseUrl(): string { return this.transport.baseUrl; }
  get token(): string | undefined { return this.transport.token; }
  set token(token: string | undefined) { this.transport.token = token; }

  /** Signs in; the client then uses the session's token. */
  async login(username: string, password: string): Promise<Session> {
    const session = await this.transport.json<Session>('/api/v1/auth/login', { method: 'POST', body: { username, password } });
    this.token = session.token;
    return session;
  }

  /** Creates an account and signs in. */
  async signup(username: string, password: string): Promise<Session> {
    const session = await this.transport.json<Session>('/api/v1/auth/signup', { method: 'POST', body: { username, password } });
    this.token = session.token;
    return session;
  }

  /**
   * Revokes the client's token on the server and forgets it. True when the server revoked it now;
   * false when it no longer accepted it anyway (expired or already revoked).
   */
  async logout(): Promise<boolean> {
    const response = await this.transport.request('/api/v1/auth/logout', { method: 'POST', accept: [401] });
    await response.body?.cancel().catch(() => undefined);
    this.token = undefined;
    return response.ok;
  }

  /** The user the token acts for. */
  me(): Promise<User> {
    return this.transport.json<User>('/api/v1/auth/me');
  }

  /** One page of the library. */
  list(options: ListOptions = {}): Promise<FileList> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options)) if (value !== undefined) query.set(key, String(value));
    const text = query.toString();
    return this.transport.json<FileList>(`/api/v1/files${text ? `?${text}` : ''}`);
  }

  file(id: string): Promise<FerryFile> {
    return this.transport.json<FerryFile>(`/api/v1/files/${encodeURIComponent(id)}`);
  }

  rename(id: string, name: string): Promise<FerryFile> {
    return this.transport.json<FerryFile>(`/api/v1/files/${encodeURIComponent(id)}`, { method: 'PATCH', body: { name } });
  }

  /**
   * A URL that downloads the file without a token (for a browser's link or another program),
   * good for a few minutes or until the token is revoked, for this file only.
   */
  async fileLink(id: string): Promise<FileLink> {
    const link = await this.transport.json<FileLink>(`/api/v1/files/${encodeURIComponent(id)}/link`, { method: 'POST' });
    return { ...link, url: this.transport.url(link.url) };
  }

  async remove(id: string): Promise<void> {
    await this.transport.request(`/api/v1/files/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** An upload to control with pause / resume / cancel, over `options.protocol` (native by default); `start()` runs it. */
  createUpload(source: UploadSource, options: UploadOptions = {}): UploadTask {
    const context = { transport: this.transport, crypto: this.crypto, state: this.state };
    return options.protocol === 'tus' ? new TusUpload(context, source, options) : new NativeUpload(context, source, options);
  }

  /** Uploads a source: resumes saved state, completes instantly when it can, else sends what is missing. */
  upload(source: UploadSource, options: UploadOptions = {}): Promise<UploadResult> {
    return this.createUpload(source, options).start();
  }

  /** Downloads a file to a target, continuing what an earlier attempt left. */
  download(id: string, target: DownloadTarget, options: DownloadOptions = {}): Promise<DownloadResult> {
    return download(this.transport, id, target, options);
  }
}
