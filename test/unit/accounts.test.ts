import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AccountService, hashSecret } from '../../src/core/accounts.js';
import { isFerryError } from '../../src/core/errors.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/index.js';

const TTL_SECONDS = 60;

async function median(runs: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = process.hrtime.bigint();
    await work().catch(() => undefined);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

const invalidCredentials = (err: unknown) => isFerryError(err, 'invalid_credentials');

describe('AccountService', () => {
  // An in-memory store, and a clock the tests move by hand.
  let meta: SqliteMetaStore;
  let accounts: AccountService;
  let now: Date;
  const advance = (seconds: number) => { now = new Date(now.getTime() + seconds * 1000); };
  beforeEach(() => {
    meta = new SqliteMetaStore(':memory:');
    now = new Date('2026-01-01T00:00:00.000Z');
    accounts = new AccountService({ meta, now: () => now });
  });
  afterEach(() => meta.close());

  it('signs up a person with a lower-cased name and a session that authenticates', async () => {
    const session = await accounts.signup('Alice.B-1_', 'correct horse', TTL_SECONDS);
    assert.equal(session.user.username, 'alice.b-1_');
    assert.equal(session.user.kind, 'person');
    assert.equal(session.user.tenant, 'default');
    assert.match(session.token, /^fs_[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
    assert.deepEqual(await accounts.authenticate(session.token), { userId: session.user.id, tenant: 'default' });
    const stored = await meta.accounts.findUserByName('ALICE.B-1_');
    assert.match(stored!.passwordHash!, /^\$argon2id\$v=19\$/);
    assert.equal((await meta.accounts.findToken(hashSecret(session.token), new Date('2026-01-01T00:00:01Z')))?.user.id, session.user.id);
  });

  it('refuses a name taken in another case, and names or passwords outside the rules', async () => {
    await accounts.signup('alice', 'password1', TTL_SECONDS);
    await assert.rejects(accounts.signup('ALICE', 'password2', TTL_SECONDS), (err) => isFerryError(err, 'username_taken'));
    for (const name of ['ab', 'a'.repeat(65), 'with space', 'émile', 'a/b', '']) {
      await assert.rejects(accounts.signup(name, 'password1', TTL_SECONDS), (err) => isFerryError(err, 'invalid_request'), name);
    }
    for (const password of ['short', 'x'.repeat(1025)]) {
      await assert.rejects(accounts.signup('bob', password, TTL_SECONDS), (err) => isFerryError(err, 'invalid_request'));
    }
  });

  it('logs in whatever the case of the name; a wrong password, an unknown name and a service account fail alike', async () => {
    const { user } = await accounts.signup('carol', 'password1', TTL_SECONDS);
    const session = await accounts.login('CaRoL', 'password1', TTL_SECONDS);
    assert.equal(session.user.id, user.id);
    assert.ok(await accounts.authenticate(session.token));

    const service = await accounts.createServiceAccount('billing', 'acme');
    await assert.rejects(accounts.login('carol', 'password2', TTL_SECONDS), invalidCredentials);
    await assert.rejects(accounts.login('nobody', 'password1', TTL_SECONDS), invalidCredentials);
    await assert.rejects(accounts.login(service.user.username, '', TTL_SECONDS), invalidCredentials);
    await assert.rejects(accounts.login('local', 'password1', TTL_SECONDS), invalidCredentials);
  });

  it('spends about as long on an unknown name as on a wrong password', async () => {
    await accounts.signup('dave', 'password1', TTL_SECONDS);
    await accounts.login('nobody', 'password1', TTL_SECONDS).catch(() => undefined); // makes the dummy hash
    const wrongPassword = await median(5, () => accounts.login('dave', 'password2', TTL_SECONDS));
    const unknownName = await median(5, () => accounts.login('nobody', 'password2', TTL_SECONDS));
    // Without the dummy verification an unknown name answers in well under 1% of the time.
    assert.ok(unknownName > wrongPassword * 0.25, `unknown ${unknownName} ms vs wrong password ${wrongPassword} ms`);
  });

  it('ends a session after the configured lifetime', async () => {
    const session = await accounts.signup('erin', 'password1', TTL_SECONDS);
    advance(TTL_SECONDS - 1);
    assert.ok(await accounts.authenticate(session.token));
    advance(1);
    assert.equal(await accounts.authenticate(session.token), null);
  });

  it('sweeps expired sessions and keys, keeping live ones', async () => {
    const expiring = await accounts.signup('fay', 'password1', TTL_SECONDS);
    const lasting = await accounts.createApiKey(expiring.user.id, 'ci');
    advance(TTL_SECONDS);
    assert.equal(await accounts.sweepExpired(), 1);
    assert.equal(await meta.accounts.findToken(hashSecret(expiring.token), new Date(0)), null, 'the row is gone, not just expired');
    assert.ok(await accounts.authenticate(lasting.key));
    assert.equal(await accounts.sweepExpired(), 0);
  });

  it('revokes a presented token; unknown secrets are ignored', async () => {
    const first = await accounts.signup('frank', 'password1', TTL_SECONDS);
    const second = await accounts.login('frank', 'password1', TTL_SECONDS);
    await accounts.revoke(first.token);
    await accounts.revoke('fs_never-issued');
    assert.equal(await accounts.authenticate(first.token), null);
    assert.ok(await accounts.authenticate(second.token), 'other sessions stay');
  });

  it('issues API keys that never expire unless asked, lists them without secrets, revokes only the owner\'s', async () => {
    const { user } = await accounts.signup('grace', 'password1', TTL_SECONDS);
    const { user: other } = await accounts.signup('heidi', 'password1', TTL_SECONDS);
    const forever = await accounts.createApiKey(user.id, 'ci');
    advance(1);
    const brief = await accounts.createApiKey(user.id, 'brief', 120);
    assert.match(forever.key, /^fk_[A-Za-z0-9_-]{43}$/);
    assert.equal(forever.record.expiresAt, null);
    assert.deepEqual((await accounts.listApiKeys(user.id)).map((key) => key.id), [forever.record.id, brief.record.id]);
    assert.ok(!JSON.stringify(await accounts.listApiKeys(user.id)).includes(forever.key));

    advance(365 * 24 * 60 * 60);
    assert.equal((await accounts.authenticate(forever.key))?.userId, user.id);
    assert.equal(await accounts.authenticate(brief.key), null);

    await assert.rejects(accounts.revokeApiKey(other.id, forever.record.id), (err) => isFerryError(err, 'not_found'));
    assert.ok(await accounts.authenticate(forever.key));
    await accounts.revokeApiKey(user.id, forever.record.id);
    assert.equal(await accounts.authenticate(forever.key), null);
    await assert.rejects(accounts.revokeApiKey(user.id, forever.record.id), (err) => isFerryError(err, 'not_found'));
  });

  it('creates service accounts in a tenant, with a first key, and lists them', async () => {
    const { user, key } = await accounts.createServiceAccount('Backend', 'acme');
    assert.deepEqual([user.username, user.kind, user.tenant], ['backend', 'service', 'acme']);
    assert.deepEqual(await accounts.authenticate(key.key), { userId: user.id, tenant: 'acme' });
    assert.deepEqual((await accounts.listServiceAccounts()).map((account) => account.username), ['local', 'backend']);
    await assert.rejects(accounts.createServiceAccount('other', 'no spaces'), (err) => isFerryError(err, 'invalid_request'));
    await assert.rejects(accounts.createServiceAccount('backend', 'acme'), (err) => isFerryError(err, 'username_taken'));
  });
});
