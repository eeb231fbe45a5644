import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { LOCAL_USER } from '../../src/core/principal.js';
import { at, insertUser, randomId, sampleToken, sampleUser, T0, useStore, type StoreFactory } from './conformance-fixtures.js';

const byId = <T extends { id: string }>(items: readonly T[]) => [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** AccountRecords: users and their bearer tokens. */
export function accountConformance(factory: StoreFactory): void {
  describe('users', () => {
    const store = useStore(factory);

    it('holds the local user of FERRY_AUTH=none from the start (core/principal.ts)', async () => {
      const local = await store().accounts.getUser(LOCAL_USER.userId);
      assert.ok(local);
      assert.equal(local.username, LOCAL_USER.username);
      assert.equal(local.tenant, LOCAL_USER.tenant);
      assert.equal((await store().accounts.findUserByName('LOCAL'))?.user.id, LOCAL_USER.userId);
    });

    it('returns an inserted user exactly as given', async () => {
      const user = await insertUser(store(), { kind: 'person', tenant: 'tenant-a' });
      assert.deepEqual(await store().accounts.getUser(user.id), user);
      assert.deepEqual(await store().accounts.findUserByName(user.username), { user, passwordHash: 'argon2-hash' });
    });

    it('answers null for an unknown id or name', async () => {
      await insertUser(store(), { username: 'bob' });
      assert.equal(await store().accounts.getUser(randomId()), null);
      assert.equal(await store().accounts.findUserByName('bobby'), null);
      assert.equal(await store().accounts.findUserByName('bo'), null);
    });

    it('stores names lower-cased and finds them whatever the case', async () => {
      const user = sampleUser({ username: 'Alice' });
      await store().accounts.insertUser(user, 'hash-of-alice');
      const stored = { ...user, username: 'alice' };
      assert.deepEqual(await store().accounts.getUser(user.id), stored);
      for (const name of ['ALICE', 'alice', 'aLiCe']) {
        assert.deepEqual(await store().accounts.findUserByName(name), { user: stored, passwordHash: 'hash-of-alice' }, name);
      }
    });

    it('refuses a taken name in another case with username_taken, keeping the first user', async () => {
      const first = await insertUser(store(), { username: 'alice' });
      const second = sampleUser({ username: 'ALICE' });
      await assert.rejects(store().accounts.insertUser(second, 'other-hash'), (err) => isFerryError(err, 'username_taken'));
      assert.equal(await store().accounts.getUser(second.id), null);
      assert.deepEqual(await store().accounts.findUserByName('Alice'), { user: first, passwordHash: 'argon2-hash' });
    });

    it('keeps a null password hash for service accounts', async () => {
      const service = await insertUser(store(), { kind: 'service', tenant: 'billing' }, null);
      assert.deepEqual(await store().accounts.findUserByName(service.username), { user: service, passwordHash: null });
      assert.equal((await store().accounts.getUser(service.id))?.kind, 'service');
    });
    it('lists the users of one kind, oldest first', async () => {
      // Ids in the opposite order, so that only the creation time can put `older` first.
      const newer = await insertUser(store(), { id: '1'.repeat(32), createdAt: at(2) });
      const older = await insertUser(store(), { id: 'f'.repeat(32), createdAt: at(1) });
      const service = await insertUser(store(), { kind: 'service', createdAt: at(3) }, null);
      assert.deepEqual(await store().accounts.listUsers('person'), [older, newer]);
      const services = await store().accounts.listUsers('service');
      assert.deepEqual(services.filter((user) => user.id !== LOCAL_USER.userId), [service]);
    });
  });

  describe('tokens', () => {
    const store = useStore(factory);

    it('finds a token by its hash, with its user', async () => {
      const user = await insertUser(store(), { username: 'carol' });
      const token = sampleToken(user.id, { kind: 'api_key', name: 'ci', expiresAt: at(60) });
      await store().accounts.insertToken(token, 'hash-1');
      assert.deepEqual(await store().accounts.findToken('hash-1', T0), { token, user });
      assert.equal(await store().accounts.findToken('hash-2', T0), null);
      assert.equal(await store().accounts.findToken(token.id, T0), null, 'the public id is not the secret');
    });

    it('finds a token by its id, with its user and its hash, until it expires or is deleted', async () => {
      const user = await insertUser(store(), { username: 'dora' });
      const token = sampleToken(user.id, { expiresAt: at(60) });
      await store().accounts.insertToken(token, 'hash-by-id');
      assert.deepEqual(await store().accounts.findTokenById(token.id, T0), { token, user, tokenHash: 'hash-by-id' });
      assert.equal(await store().accounts.findTokenById('hash-by-id', T0), null, 'the hash is not the id');
      assert.equal(await store().accounts.findTokenById(randomId(), T0), null);
      assert.equal(await store().accounts.findTokenById(token.id, at(60)), null, 'expired');
      await store().accounts.deleteTokenByHash('hash-by-id');
      assert.equal(await store().accounts.findTokenById(token.id, T0), null, 'revoked');
    });

    it('refuses a token of a user that does not exist', async () => {
      await assert.rejects(store().accounts.insertToken(sampleToken(randomId()), 'orphan-hash'));
      assert.equal(await store().accounts.findToken('orphan-hash', T0), null);
    });

    it('stops finding a token once it expires, and never expires a token without expiry', async () => {
      const user = await insertUser(store());
      const expiring = sampleToken(user.id, { expiresAt: at(30) });
      const forever = sampleToken(user.id, { kind: 'api_key', expiresAt: null });
      await store().accounts.insertToken(expiring, 'expiring');
      await store().accounts.insertToken(forever, 'forever');

      assert.equal((await store().accounts.findToken('expiring', new Date(at(30).getTime() - 1)))?.token.id, expiring.id);
      assert.equal(await store().accounts.findToken('expiring', at(30)), null, 'expired at exactly expiresAt');
      assert.equal(await store().accounts.findToken('expiring', at(31)), null);
      assert.deepEqual(await store().accounts.findToken('forever', new Date('2999-01-01T00:00:00.000Z')), { token: forever, user });
    });

    it('lists the tokens of one user and one kind', async () => {
      const [dave, erin] = [await insertUser(store()), await insertUser(store())];
      const sessions = [sampleToken(dave.id), sampleToken(dave.id, { createdAt: at(1) })];
      const keys = [sampleToken(dave.id, { kind: 'api_key', name: 'deploy', expiresAt: null })];
      const erinsSession = sampleToken(erin.id);
      for (const [index, token] of [...sessions, ...keys, erinsSession].entries()) await store().accounts.insertToken(token, `hash-${index}`);

      assert.deepEqual(byId(await store().accounts.listTokens(dave.id, 'session')), byId(sessions));
      assert.deepEqual(await store().accounts.listTokens(dave.id, 'api_key'), keys);
      assert.deepEqual(await store().accounts.listTokens(erin.id, 'session'), [erinsSession]);
      assert.deepEqual(await store().accounts.listTokens(erin.id, 'api_key'), []);
    });

    it('deletes a token only for the user who owns it', async () => {
      const [owner, other] = [await insertUser(store()), await insertUser(store())];
      const token = sampleToken(owner.id, { kind: 'api_key' });
      await store().accounts.insertToken(token, 'owned');

      assert.equal(await store().accounts.deleteToken(other.id, token.id), false);
      assert.equal((await store().accounts.findToken('owned', T0))?.token.id, token.id);
      assert.equal(await store().accounts.deleteToken(owner.id, randomId()), false);

      assert.equal(await store().accounts.deleteToken(owner.id, token.id), true);
      assert.equal(await store().accounts.findToken('owned', T0), null);
      assert.deepEqual(await store().accounts.listTokens(owner.id, 'api_key'), []);
      assert.equal(await store().accounts.deleteToken(owner.id, token.id), false);
    });

    it('deletes a token by its hash, and no other', async () => {
      const user = await insertUser(store());
      const [gone, kept] = [sampleToken(user.id), sampleToken(user.id)];
      await store().accounts.insertToken(gone, 'gone');
      await store().accounts.insertToken(kept, 'kept');
      assert.equal(await store().accounts.deleteTokenByHash('gone'), true);
      assert.equal(await store().accounts.deleteTokenByHash('gone'), false);
      assert.equal(await store().accounts.deleteTokenByHash('never'), false);
      assert.equal(await store().accounts.findToken('gone', T0), null);
      assert.equal((await store().accounts.findToken('kept', T0))?.token.id, kept.id);
    });

    it('deletes the tokens expired at a time and counts them', async () => {
      const [one, two] = [await insertUser(store()), await insertUser(store())];
      const now = at(60);
      const tokens = {
        past: sampleToken(one.id, { expiresAt: at(10) }),
        exact: sampleToken(two.id, { expiresAt: now }),
        future: sampleToken(one.id, { expiresAt: at(61) }),
        forever: sampleToken(two.id, { kind: 'api_key', expiresAt: null }),
      };
      for (const [hash, token] of Object.entries(tokens)) await store().accounts.insertToken(token, hash);

      assert.equal(await store().accounts.deleteExpiredTokens(now), 2);
      assert.equal(await store().accounts.deleteExpiredTokens(now), 0);
      assert.deepEqual(await store().accounts.listTokens(one.id, 'session'), [tokens.future]);
      assert.deepEqual(await store().accounts.listTokens(two.id, 'session'), []);
      assert.deepEqual(await store().accounts.listTokens(two.id, 'api_key'), [tokens.forever]);
      assert.equal((await store().accounts.findToken('future', now))?.token.id, tokens.future.id);
    });
  });
}
