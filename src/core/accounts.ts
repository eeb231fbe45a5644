import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MetaStore } from '../meta/types.js';
import type { TokenKind, TokenRecord, User } from './account.js';
import { FerryError } from './errors.js';
import type { Principal } from './principal.js';

/** Names are ASCII so that case-insensitive uniqueness is plain lower-casing, with no Unicode look-alikes. */
export const USERNAME_RULES = { minLength: 3, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' } as const;
export const PASSWORD_RULES = { minLength: 8, maxLength: 1024 } as const;
export const TENANT_RULES = { minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' } as const;
/** The tenant of people who sign up themselves, and of the implicit local user. */
export const DEFAULT_TENANT = 'default';

/**
 * How long a file link works: enough to start a download, however large; a download that started
 * goes on after the link expires.
 */
export const FILE_LINK_TTL_SECONDS = 10 * 60;
/** `<token id>.<expiry, Unix seconds>.<signature>` */
const FILE_LINK = /^([0-9a-f]{32})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;
/** The prefix tells a leaked secret's kind at a glance, and lets secret scanners recognise it. */
const SECRET_PREFIX: Readonly<Record<TokenKind, string>> = { session: 'fs_', api_key: 'fk_' };

export interface Session {
  readonly user: User;
  /** The bearer secret; it exists only in this answer, the store keeps its hash. */
  readonly token: string;
  readonly expiresAt: Date;
}

export interface IssuedKey {
  readonly record: TokenRecord;
  /** The bearer secret, shown once. */
  readonly key: string;
}

export interface AccountServiceDeps {
  readonly meta: MetaStore;
  readonly now?: () => Date;
}

/** Users, passwords, session tokens and API keys. */
export class AccountService {
  private readonly meta: MetaStore;
  private readonly now: () => Date;
  private dummyHash: Promise<string> | null = null;

  constructor(deps: AccountServiceDeps) {
    this.meta = deps.meta;
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Creates a person and signs them in. Throws `username_taken` or `invalid_request`. The session
   * lifetime is the caller's setting: core reads no configuration.
   */
  async signup(username: string, password: string, sessionTtlSeconds: number): Promise<Session> {
    checkPassword(password);
    const user = this.newUser(username, 'person', DEFAULT_TENANT);
    await this.meta.accounts.insertUser(user, await hashPassword(password));
    return this.startSession(user, sessionTtlSeconds);
  }

  /**
   * Throws `invalid_credentials` alike for an unknown name, a wrong password and a service account,
   * and spends one Argon2 verification in each case so the answer's timing does not tell them apart.
   * The signup rules are not applied here: tightening them must not lock out existing accounts.
   */
  async login(username: string, password: string, sessionTtlSeconds: number): Promise<Session> {
    const found = await this.meta.accounts.findUserByName(username.toLowerCase());
    const stored = found?.passwordHash ?? null;
    const matches = await verifyPassword(stored ?? (await this.dummy()), password);
    if (!found || stored === null || !matches) throw new FerryError('invalid_credentials', 'wrong username or password');
    return this.startSession(found.user, sessionTtlSeconds);
  }

  /** Revokes a session token or API key; unknown secrets are ignored, the result is the same. */
  async revoke(secret: string): Promise<void> {
    await this.meta.accounts.deleteTokenByHash(hashSecret(secret));
  }

  /** Who a bearer secret (session token or API key) acts for; null when it is unknown, revoked or expired. */
  async authenticate(secret: string): Promise<Principal | null> {
    const found = await this.meta.accounts.findToken(hashSecret(secret), this.now());
    return found ? { userId: found.user.id, tenant: found.user.tenant } : null;
  }

  /**
   * A link to one file for the holder of `secret`, for clients that cannot send a header with a
   * download (a browser's link). Its signature is an HMAC of the file id and the expiry keyed with
   * the token's stored hash: the link works for that file only, until it expires or the token is
   * revoked, on every node, and no secret has to be shared or kept. Null for an unknown secret.
   */
  async signFileLink(secret: string, fileId: string): Promise<{ link: string; expiresAt: Date } | null> {
    const tokenHash = hashSecret(secret);
    const found = await this.meta.accounts.findToken(tokenHash, this.now());
    if (!found) return null;
    const expires = Math.floor(this.now().getTime() / 1000) + FILE_LINK_TTL_SECONDS;
    return { link: `${found.token.id}.${expires}.${fileLinkSignature(tokenHash, fileId, expires)}`, expiresAt: new Date(expires * 1000) };
  }

  /** Who a file link acts for; null when it is malformed, for another file, expired, altered, or its token is gone. */
  async verifyFileLink(link: string, fileId: string): Promise<Principal | null> {
    const match = FILE_LINK.exec(link);
    if (!match) return null;
    const expires = Number(match[2]);
    if (expires * 1000 <= this.now().getTime()) return null;
    const found = await this.meta.accounts.findTokenById(match[1]!, this.now());
    if (!found) return null;
    const valid = timingSafeEqual(Buffer.from(fileLinkSignature(found.tokenHash, fileId, expires)), Buffer.from(match[3]!));
    return valid ? { userId: found.user.id, tenant: found.user.tenant } : null;
  }

  /** Deletes expired sessions and keys; they already fail authentication, this frees their rows. */
  sweepExpired(): Promise<number> {
    return this.meta.accounts.deleteExpiredTokens(this.now());
  }

  async getUser(id: string): Promise<User | null> {
    return this.meta.accounts.getUser(id);
  }

  /** A key for scripts and servers; without `expiresInSeconds` it lives until revoked. */
  async createApiKey(userId: string, name: string, expiresInSeconds: number | null = null): Promise<IssuedKey> {
    const createdAt = this.now();
    const expiresAt = expiresInSeconds === null ? null : new Date(createdAt.getTime() + expiresInSeconds * 1000);
    const { record, secret } = await this.issue(userId, 'api_key', name, createdAt, expiresAt);
    return { record, key: secret };
  }

  listApiKeys(userId: string): Promise<TokenRecord[]> {
    return this.meta.accounts.listTokens(userId, 'api_key');
  }

  /** Another user's key is as unknown as a key that never existed. */
  async revokeApiKey(userId: string, keyId: string): Promise<void> {
    if (!(await this.meta.accounts.deleteToken(userId, keyId))) throw new FerryError('not_found', 'no such API key');
  }

  /** An account for a business server: no password, so it can only act through its API keys. */
  async createServiceAccount(name: string, tenant: string): Promise<{ user: User; key: IssuedKey }> {
    const user = this.newUser(name, 'service', checkName(tenant, TENANT_RULES, 'tenant'));
    await this.meta.accounts.insertUser(user, null);
    return { user, key: await this.createApiKey(user.id, 'initial') };
  }

  /**
   * The user a business server acts for, created on first use: it has no password and no token,
   * so only that business server's requests reach its library.
   */
  async delegatedUser(username: string, tenant: string): Promise<Principal> {
    const existing = await this.meta.accounts.findUserByName(username.toLowerCase());
    if (existing) return { userId: existing.user.id, tenant: existing.user.tenant };
    const user = this.newUser(username, 'person', checkName(tenant, TENANT_RULES, 'tenant'));
    try {
      await this.meta.accounts.insertUser(user, null);
      return { userId: user.id, tenant: user.tenant };
    } catch (err) {
      // Created by a concurrent first request for the same user.
      const created = await this.meta.accounts.findUserByName(user.username);
      if (!created) throw err;
      return { userId: created.user.id, tenant: created.user.tenant };
    }
  }

  listServiceAccounts(): Promise<User[]> {
    return this.meta.accounts.listUsers('service');
  }

  private newUser(username: string, kind: User['kind'], tenant: string): User {
    return { id: randomId(), username: checkName(username, USERNAME_RULES, 'username').toLowerCase(), kind, tenant, createdAt: this.now() };
  }

  private async startSession(user: User, ttlSeconds: number): Promise<Session> {
    const createdAt = this.now();
    const expiresAt = new Date(createdAt.getTime() + ttlSeconds * 1000);
    const { secret } = await this.issue(user.id, 'session', null, createdAt, expiresAt);
    return { user, token: secret, expiresAt };
  }

  private async issue(userId: string, kind: TokenKind, name: string | null, createdAt: Date, expiresAt: Date | null) {
    const secret = SECRET_PREFIX[kind] + randomBytes(32).toString('base64url');
    const record: TokenRecord = { id: randomId(), userId, kind, name, createdAt, expiresAt };
    await this.meta.accounts.insertToken(record, hashSecret(secret));
    return { record, secret };
  }

  /** Made on first need rather than at construction, with the same parameters as real hashes. */
  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(32).toString('base64url'));
    return this.dummyHash;
  }
}

/**
 * Argon2 is loaded with the first password: a node that only takes uploads from tokens never maps
 * it (it costs several MiB of resident memory, which every upload node would pay).
 */
let argon2: Promise<typeof import('@node-rs/argon2')> | null = null;
const loadArgon2 = () => (argon2 ??= import('@node-rs/argon2'));

/** Library defaults (19 MiB, 2 passes, 1 lane): OWASP's recommended Argon2id floor. */
async function hashPassword(password: string): Promise<string> {
  const lib = await loadArgon2();
  return lib.hash(password, { algorithm: lib.Algorithm.Argon2id });
}

async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  return (await loadArgon2()).verify(hashed, password);
}

/** Secrets are random and long, so a fast hash suffices: only the hash is stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function fileLinkSignature(tokenHash: string, fileId: string, expires: number): string {
  return createHmac('sha256', tokenHash).update(`file-link.${fileId}.${expires}`).digest('base64url');
}

function randomId(): string {
  return randomBytes(16).toString('hex');
}

/** Usernames and tenants share one shape; `what` names which one was wrong. */
function checkName(value: string, rules: typeof USERNAME_RULES | typeof TENANT_RULES, what: string): string {
  const { minLength, maxLength, pattern } = rules;
  if (value.length < minLength || value.length > maxLength || !new RegExp(pattern).test(value)) {
    throw new FerryError('invalid_request', `a ${what} has ${minLength} to ${maxLength} letters, digits, '.', '_' or '-'`);
  }
  return value;
}

function checkPassword(password: string): void {
  const { minLength, maxLength } = PASSWORD_RULES;
  if (password.length < minLength || password.length > maxLength) {
    throw new FerryError('invalid_request', `a password has ${minLength} to ${maxLength} characters`);
  }
}
