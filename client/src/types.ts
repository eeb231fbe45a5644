/** Wire types of the Ferry API, as the client sees them (see the README and /api/v1/openapi.json). */

/** A download URL that needs no token (FerryClient.fileLink). */
export interface FileLink {
  readonly url: string;
  /** Null when the server has no accounts: the URL then needs nothing. */
  readonly expiresAt: string | null;
}

export interface FerryFile {
  id: string;
  /** Folders are `/`-separated prefixes. */
  name: string;
  size: number;
  type: string;
  sha256: string;
  sha1: string | null;
  md5: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface FileList {
  files: FerryFile[];
  /** Files matching the filters, on all pages. */
  total: number;
  limit: number;
  offset: number;
}

export interface ListOptions {
  limit?: number;
  offset?: number;
  sort?: 'name' | 'size' | 'time';
  order?: 'asc' | 'desc';
  /** Only names containing this text, ignoring case. */
  q?: string;
  /** Only names under this folder, at any depth. */
  folder?: string;
}

export interface User {
  id: string;
  username: string;
  kind: 'person' | 'service';
  tenant: string;
  createdAt: string;
}

export interface Session {
  token: string;
  expiresAt: string;
  user: User;
}

/** A proof-of-possession challenge: HMAC-SHA256 keyed with the decoded nonce over the ranges. */
export interface Challenge {
  algorithm: 'hmac-sha256';
  /** base64url. */
  nonce: string;
  /** Inclusive byte ranges. */
  ranges: { start: number; end: number }[];
  expiresAt: string;
}

/** An upload of the native chunk API. */
export interface UploadStatus {
  id: string;
  name: string;
  size: number;
  type: string;
  sha256: string | null;
  state: 'open' | 'paused' | 'completed';
  chunkSize: number;
  chunkCount: number;
  receivedChunks: number;
  /** Indexes of the chunks still to send, ascending. */
  missing: number[];
  /** Completed from stored content: no bytes had to be sent. */
  instant: boolean;
  expiresAt: string | null;
  challenge?: Challenge;
  file?: FerryFile;
}
