import { FerryError } from '../../core/errors.js';
import type { TokenRecord, User } from '../../core/account.js';
import type { AccountRecords, StoredToken } from '../types.js';
import { foundToken, fromTokenRow, fromUserRow, toMillis, type FoundTokenColumns, type TokenRow, type UserRow } from '../rows.js';
import type { SqliteDatabase } from './database.js';

export class SqliteAccountRecords implements AccountRecords {
  constructor(private readonly sqlite: SqliteDatabase) {}

  async insertUser(user: User, passwordHash: string | null): Promise<void> {
    try {
      await this.sqlite.write(() => {
        this.sqlite.db
          .prepare('INSERT INTO users (id, username, password_hash, kind, tenant, created_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(user.id, user.username.toLowerCase(), passwordHash, user.kind, user.tenant, user.createdAt.getTime());
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new FerryError('username_taken', 'that username is taken', { cause: err });
      }
      throw err;
    }
  }

  async setQuota(userId: string, quotaBytes: number | null): Promise<boolean> {
    return this.sqlite.write(() => this.sqlite.db.prepare('UPDATE users SET quota_bytes = ? WHERE id = ?').run(quotaBytes, userId).changes === 1);
  }

  async getUser(id: string): Promise<User | null> {
    const row = this.sqlite.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row ? fromUserRow(row) : null;
  }

  async findUserByName(username: string): Promise<{ user: User; passwordHash: string | null } | null> {
    const row = this.sqlite.db.prepare('SELECT * FROM users WHERE username = ?').get(username.toLowerCase()) as UserRow | undefined;
    return row ? { user: fromUserRow(row), passwordHash: row.password_hash } : null;
  }

  async listUsers(kind: User['kind']): Promise<User[]> {
    const rows = this.sqlite.db.prepare('SELECT * FROM users WHERE kind = ? ORDER BY created_at, id').all(kind) as UserRow[];
    return rows.map(fromUserRow);
  }

  async insertToken(token: TokenRecord, tokenHash: string): Promise<void> {
    await this.sqlite.write(() => {
      this.sqlite.db
        .prepare('INSERT INTO tokens (id, token_hash, user_id, kind, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(token.id, tokenHash, token.userId, token.kind, token.name, token.createdAt.getTime(), toMillis(token.expiresAt));
    });
  }

  async findToken(tokenHash: string, now: Date): Promise<StoredToken | null> {
    const found = this.tokenWhere('t.token_hash', tokenHash, now);
    return found && { token: found.token, user: found.user };
  }

  async findTokenById(id: string, now: Date): Promise<(StoredToken & { tokenHash: string }) | null> {
    return this.tokenWhere('t.id', id, now);
  }

  private tokenWhere(column: 't.token_hash' | 't.id', value: string, now: Date): (StoredToken & { tokenHash: string }) | null {
    const row = this.sqlite.db
      .prepare(
        `SELECT t.id, t.user_id, t.kind, t.name, t.created_at, t.expires_at, t.token_hash,
                u.username, u.kind AS user_kind, u.tenant, u.created_at AS user_created_at
         FROM tokens t JOIN users u ON u.id = t.user_id
         WHERE ${column} = ? AND (t.expires_at IS NULL OR t.expires_at > ?)`,
      )
      .get(value, now.getTime()) as (TokenRow & FoundTokenColumns) | undefined;
    return row ? foundToken(row) : null;
  }


  async listTokens(userId: string, kind: TokenRecord['kind']): Promise<TokenRecord[]> {
    const rows = this.sqlite.db
      .prepare('SELECT id, user_id, kind, name, created_at, expires_at FROM tokens WHERE user_id = ? AND kind = ? ORDER BY created_at, id')
      .all(userId, kind) as TokenRow[];
    return rows.map(fromTokenRow);
  }

  async deleteToken(userId: string, tokenId: string): Promise<boolean> {
    return this.sqlite.write(() => this.sqlite.db.prepare('DELETE FROM tokens WHERE id = ? AND user_id = ?').run(tokenId, userId).changes > 0);
  }

  async deleteTokenByHash(tokenHash: string): Promise<boolean> {
    return this.sqlite.write(() => this.sqlite.db.prepare('DELETE FROM tokens WHERE token_hash = ?').run(tokenHash).changes > 0);
  }

  async deleteExpiredTokens(now: Date): Promise<number> {
    return this.sqlite.write(
      () => this.sqlite.db.prepare('DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now.getTime()).changes,
    );
  }
}
