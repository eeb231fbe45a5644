import { FerryError } from '../../core/errors.js';
import type { TokenRecord, User } from '../../core/account.js';
import { foundToken, fromTokenRow, fromUserRow, toMillis, type FoundTokenColumns, type TokenRow, type UserRow } from '../rows.js';
import type { AccountRecords, StoredToken } from '../types.js';
import type { PostgresDatabase } from './database.js';

const UNIQUE_VIOLATION = '23505';
/** Named in migrations.ts: only a clash on the name means the name is taken. */
const USERNAME_CONSTRAINT = 'users_username_key';

export class PostgresAccountRecords implements AccountRecords {
  constructor(private readonly db: PostgresDatabase) {}

  async insertUser(user: User, passwordHash: string | null): Promise<void> {
    try {
      await this.db.query(
        'INSERT INTO users (id, username, password_hash, kind, tenant, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [user.id, user.username.toLowerCase(), passwordHash, user.kind, user.tenant, user.createdAt.getTime()],
      );
    } catch (err) {
      const { code, constraint } = err as { code?: string; constraint?: string };
      if (code === UNIQUE_VIOLATION && constraint === USERNAME_CONSTRAINT) {
        throw new FerryError('username_taken', 'that username is taken', { cause: err });
      }
      throw err;
    }
  }

  async setQuota(userId: string, quotaBytes: number | null): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE users SET quota_bytes = $1 WHERE id = $2', [quotaBytes, userId]);
    return rowCount === 1;
  }

  async getUser(id: string): Promise<User | null> {
    const { rows: [row] } = await this.db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return row ? fromUserRow(row) : null;
  }

  async findUserByName(username: string): Promise<{ user: User; passwordHash: string | null } | null> {
    const { rows: [row] } = await this.db.query<UserRow>('SELECT * FROM users WHERE username = $1', [username.toLowerCase()]);
    return row ? { user: fromUserRow(row), passwordHash: row.password_hash } : null;
  }

  async listUsers(kind: User['kind']): Promise<User[]> {
    const { rows } = await this.db.query<UserRow>('SELECT * FROM users WHERE kind = $1 ORDER BY created_at, id', [kind]);
    return rows.map(fromUserRow);
  }

  async insertToken(token: TokenRecord, tokenHash: string): Promise<void> {
    await this.db.query(
      'INSERT INTO tokens (id, token_hash, user_id, kind, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [token.id, tokenHash, token.userId, token.kind, token.name, token.createdAt.getTime(), toMillis(token.expiresAt)],
    );
  }

  async findToken(tokenHash: string, now: Date): Promise<StoredToken | null> {
    const found = await this.tokenWhere('t.token_hash', tokenHash, now);
    return found && { token: found.token, user: found.user };
  }

  async findTokenById(id: string, now: Date): Promise<(StoredToken & { tokenHash: string }) | null> {
    return this.tokenWhere('t.id', id, now);
  }

  private async tokenWhere(column: 't.token_hash' | 't.id', value: string, now: Date): Promise<(StoredToken & { tokenHash: string }) | null> {
    const { rows: [row] } = await this.db.query<TokenRow & FoundTokenColumns>(
      `SELECT t.id, t.user_id, t.kind, t.name, t.created_at, t.expires_at, t.token_hash,
              u.username, u.kind AS user_kind, u.tenant, u.created_at AS user_created_at
       FROM tokens t JOIN users u ON u.id = t.user_id
       WHERE ${column} = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)`,
      [value, now.getTime()],
    );
    return row ? foundToken(row) : null;
  }


  async listTokens(userId: string, kind: TokenRecord['kind']): Promise<TokenRecord[]> {
    const { rows } = await this.db.query<TokenRow>(
      'SELECT id, user_id, kind, name, created_at, expires_at FROM tokens WHERE user_id = $1 AND kind = $2 ORDER BY created_at, id',
      [userId, kind],
    );
    return rows.map(fromTokenRow);
  }

  async deleteToken(userId: string, tokenId: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM tokens WHERE id = $1 AND user_id = $2', [tokenId, userId]);
    return rowCount === 1;
  }

  async deleteTokenByHash(tokenHash: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM tokens WHERE token_hash = $1', [tokenHash]);
    return rowCount === 1;
  }

  async deleteExpiredTokens(now: Date): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM tokens WHERE expires_at <= $1', [now.getTime()]);
    return rowCount ?? 0;
  }
}
