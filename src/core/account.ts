export type UserKind = 'person' | 'service';

export interface User {
  readonly id: string;
  /** Unique, compared case-insensitively (stored lower-cased). */
  readonly username: string;
  /** People log in with a password; service accounts (a business server) only use API keys. */
  readonly kind: UserKind;
  readonly tenant: string;
  readonly createdAt: Date;
}

export type TokenKind = 'session' | 'api_key';

/** A bearer credential. Only a hash of the secret is ever stored. */
export interface TokenRecord {
  /** Public id, to list and revoke a token without knowing its secret. */
  readonly id: string;
  readonly userId: string;
  readonly kind: TokenKind;
  readonly name: string | null;
  readonly createdAt: Date;
  /** null: valid until revoked (API keys may have no expiry). */
  readonly expiresAt: Date | null;
}
