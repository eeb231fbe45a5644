import { FerryClient, FerryNetworkError } from '../../client/src/node.js';
import { parseCommandArgs, UsageError } from './args.js';
import { CliError, configPath, normalizeUrl, readConfig, writeConfig, type Env } from './client-config.js';
import { describeError } from './client-output.js';

export const LOGOUT_USAGE = `  logout [--json]
            revoke the saved session on the server and remove its token from the config
            file (the server URL stays for the next login); signed out already is not an error
`;

/** Session tokens; API keys (`fk_`) are revoked through the keys API, not by signing out. */
const SESSION_PREFIX = 'fs_';

/** `ferry logout`: revokes the saved session token, then forgets it. */
export async function logout(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseCommandArgs('logout', args, { json: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError('logout: takes no arguments');
  const path = configPath(env);
  const { token, username, expiresAt, ...kept } = await readConfig(path);
  const say = (json: Record<string, unknown>, line: string) => process.stdout.write(values.json ? `${JSON.stringify({ url: kept.url ?? null, ...json, config: path })}\n` : `${line}\n`);
  if (!token) {
    say({ revoked: false, removed: false }, `not signed in (no token in ${path})`);
    return 0;
  }

  const who = `${username ?? 'the saved user'} at ${kept.url ?? 'the saved server'}`;
  let revoked = false;
  let failure: unknown;
  if (token.startsWith(SESSION_PREFIX) && kept.url) {
    try {
      revoked = await new FerryClient({ baseUrl: normalizeUrl(kept.url), token, retry: { retries: 2 } }).logout();
    } catch (err) {
      failure = err;
    }
  }
  // Forget the token whatever the server said: the person asked to be signed out here.
  await writeConfig(path, kept);
  if (failure !== undefined) {
    const reason = failure instanceof FerryNetworkError ? describeError(failure) : `the server refused: ${describeError(failure)}`;
    throw new CliError(`removed the token of ${who} from ${path}, but could not revoke it (${reason}); it stays valid until ${expiresAt ?? 'it expires'}`);
  }
  const what = !token.startsWith(SESSION_PREFIX)
    ? 'the saved token is not a session, so it was not revoked (revoke an API key with DELETE /api/v1/auth/keys/{id})'
    : revoked ? 'the session is revoked' : 'the session had already ended';
  say({ revoked, removed: true }, `signed out ${who}: ${what}; token removed from ${path}`);
  return 0;
}
