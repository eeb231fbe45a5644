import { Type, type Static } from '@sinclair/typebox';
import type { TokenRecord, User } from '../../core/account.js';
import { FerryError } from '../../core/errors.js';
import { PASSWORD_RULES, USERNAME_RULES, type IssuedKey, type Session } from '../../core/accounts.js';
import { bearerSecret } from '../auth.js';
import type { HttpContext } from '../context.js';
import type { HttpReply } from '../exchange.js';
import { clientAddress, enforceLimit } from '../rate-limit.js';
import type { ApiRegistry } from './registry.js';
import { errorResponses } from './schemas.js';

const SignupBody = Type.Object(
  {
    username: Type.String({ ...USERNAME_RULES, description: "Letters, digits, '.', '_' and '-'; unique whatever the case" }),
    password: Type.String(PASSWORD_RULES),
  },
  { additionalProperties: false },
);

/** Only bounded, not held to the signup rules: a change of rules must not lock out existing accounts. */
const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: USERNAME_RULES.maxLength }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_RULES.maxLength }),
  },
  { additionalProperties: false },
);

const NewKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'What the key is for, to recognise it in the list' }),
    expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 366 * 24 * 60 * 60, description: 'Without it the key lives until revoked' })),
  },
  { additionalProperties: false },
);

const UserJson = Type.Object(
  {
    id: Type.String(),
    username: Type.String({ description: 'Lower-cased' }),
    kind: Type.Union([Type.Literal('person'), Type.Literal('service')], { description: 'A service account has no password and acts only through API keys' }),
    tenant: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'User', additionalProperties: false },
);

const SessionJson = Type.Object(
  {
    token: Type.String({ description: 'Send as `Authorization: Bearer <token>`' }),
    expiresAt: Type.String({ format: 'date-time' }),
    user: UserJson,
  },
  { title: 'Session', additionalProperties: false },
);

const KeyFields = {
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'null: until revoked' }),
};
const KeyJson = Type.Object(KeyFields, { title: 'ApiKey', additionalProperties: false });
const NewKeyJson = Type.Object(
  { ...KeyFields, key: Type.String({ description: 'Shown only in this answer. Send as `Authorization: Bearer <key>` or `X-API-Key: <key>`' }) },
  { title: 'NewApiKey', additionalProperties: false },
);

export function userJson(user: User): Static<typeof UserJson> {
  return { id: user.id, username: user.username, kind: user.kind, tenant: user.tenant, createdAt: user.createdAt.toISOString() };
}

export function keyJson(record: TokenRecord): Static<typeof KeyJson> {
  return { id: record.id, name: record.name, createdAt: record.createdAt.toISOString(), expiresAt: record.expiresAt?.toISOString() ?? null };
}

export function newKeyJson(issued: IssuedKey): Static<typeof NewKeyJson> {
  return { ...keyJson(issued.record), key: issued.key };
}

function sessionJson(session: Session): Static<typeof SessionJson> {
  return { token: session.token, expiresAt: session.expiresAt.toISOString(), user: userJson(session.user) };
}

/** An answer carrying a secret must not be kept by any cache on the way (RFC 6749 §5.1). */
function sendSecret(reply: HttpReply, status: number, body: Record<string, unknown>): Promise<void> {
  return reply.code(status).header('Cache-Control', 'no-store').send(body);
}

/**
 * Signup, login, logout, the current user and API keys. With FERRY_AUTH=none every request already
 * acts for the local user, but these routes keep working, so accounts and keys can be prepared
 * before switching to `required`.
 */
export function registerAuthRoutes(api: ApiRegistry, ctx: HttpContext, apiPrefix: string): void {
  const prefix = `${apiPrefix}/auth`;
  const { accounts, config } = ctx;
  const { logins } = ctx.limiters;

  api.route({
    method: 'POST',
    path: `${prefix}/signup`,
    summary: 'Create an account and sign in',
    tag: 'auth',
    public: true,
    body: SignupBody,
    responses: {
      201: { description: 'The account and a session token', schema: SessionJson },
      ...errorResponses({ 400: 'The body breaks the username or password rules', 409: 'The username is taken (`username_taken`)', 429: 'Too many signups from this address; see Retry-After' }),
    },
  }, async (call) => {
    await enforceLimit(logins.signupsByAddress, clientAddress(call.request, config), call.reply);
    const session = await accounts.signup(call.body.username, call.body.password, config.sessionTtlSeconds);
    await sendSecret(call.reply, 201, sessionJson(session));
  });

  api.route({
    method: 'POST',
    path: `${prefix}/login`,
    summary: 'Sign in with a username and password',
    tag: 'auth',
    public: true,
    body: LoginBody,
    responses: {
      200: { description: 'A session token', schema: SessionJson },
      ...errorResponses({ 401: 'Wrong username or password, alike (`invalid_credentials`)', 429: 'Too many attempts from this address or for this username; see Retry-After' }),
    },
  }, async (call) => {
    await enforceLimit(logins.byAddress, clientAddress(call.request, config), call.reply);
    await enforceLimit(logins.byName, call.body.username.toLowerCase(), call.reply);
    const session = await accounts.login(call.body.username, call.body.password, config.sessionTtlSeconds);
    await sendSecret(call.reply, 200, sessionJson(session));
  });

  api.route({
    method: 'POST',
    path: `${prefix}/logout`,
    summary: 'Revoke the token this request presents (a session token, or an API key)',
    tag: 'auth',
    responses: { 204: { description: 'The token no longer works' }, ...errorResponses({ 401: 'No valid token' }) },
  }, async (call) => {
    const secret = bearerSecret(call.request);
    // With FERRY_AUTH=none a request may carry no token at all: there is nothing to revoke.
    if (secret !== null) await accounts.revoke(secret);
    await call.reply.code(204).send();
  });

  api.route({
    method: 'GET',
    path: `${prefix}/me`,
    summary: 'The user the token acts for',
    tag: 'auth',
    responses: { 200: { description: 'The current user', schema: UserJson }, ...errorResponses({ 401: 'No valid token' }) },
  }, async (call) => {
    const user = await accounts.getUser(call.principal!.userId);
    if (!user) throw new FerryError('unauthorized', 'the account no longer exists');
    await call.reply.send(userJson(user));
  });

  api.route({
    method: 'POST',
    path: `${prefix}/keys`,
    summary: 'Create an API key for the current user',
    tag: 'auth',
    body: NewKeyBody,
    responses: { 201: { description: 'The key, with its secret shown this once', schema: NewKeyJson }, ...errorResponses({ 400: 'Invalid body', 401: 'No valid token' }) },
  }, async (call) => {
    const issued = await accounts.createApiKey(call.principal!.userId, call.body.name, call.body.expiresInSeconds ?? null);
    await sendSecret(call.reply, 201, newKeyJson(issued));
  });

  api.route({
    method: 'GET',
    path: `${prefix}/keys`,
    summary: "The current user's API keys, without their secrets",
    tag: 'auth',
    responses: { 200: { description: 'Oldest first', schema: Type.Object({ keys: Type.Array(KeyJson) }) }, ...errorResponses({ 401: 'No valid token' }) },
  }, async (call) => {
    const keys = await accounts.listApiKeys(call.principal!.userId);
    await call.reply.send({ keys: keys.map(keyJson) });
  });

  api.route({
    method: 'DELETE',
    path: `${prefix}/keys/:id`,
    summary: 'Revoke one of the current user\'s API keys',
    tag: 'auth',
    responses: { 204: { description: 'The key no longer works' }, ...errorResponses({ 401: 'No valid token', 404: 'The user has no such key' }) },
  }, async (call) => {
    await accounts.revokeApiKey(call.principal!.userId, call.params.id);
    await call.reply.code(204).send();
  });
}
