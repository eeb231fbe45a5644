import { createInterface } from 'node:readline';
import { FerryClient } from '../../client/src/node.js';
import { parseCommandArgs, UsageError } from './args.js';
import { configPath, normalizeUrl, readConfig, writeConfig, type Env } from './client-config.js';

export const LOGIN_USAGE = `  login [<url>] [--username <name>] [--password-stdin] [--json]
            sign in and keep the token in the config file (FERRY_CLIENT_CONFIG, else
            $XDG_CONFIG_HOME/ferry/client.json); the password is asked for on a terminal,
            or read from FERRY_PASSWORD or from stdin with --password-stdin
`;

/** `ferry login`: username + password -> a session token saved for the other commands. */
export async function login(args: string[], env: Env, out: NodeJS.WriteStream): Promise<void> {
  const { values, positionals } = parseCommandArgs('login', args, {
    url: { type: 'string' },
    username: { type: 'string', short: 'u' },
    'password-stdin': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length > 1) throw new UsageError('login: expected at most one URL');
  const path = configPath(env);
  const saved = await readConfig(path);
  const rawUrl = positionals[0] ?? values.url ?? env.FERRY_URL ?? saved.url;
  if (!rawUrl) throw new UsageError('login: which server? e.g. `ferry login http://127.0.0.1:8080`');
  const url = normalizeUrl(rawUrl);
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  const username = values.username ?? env.FERRY_USERNAME ?? (interactive ? await ask('Username: ', false) : undefined);
  if (!username) throw new UsageError('login: pass --username (or FERRY_USERNAME)');
  const password = values['password-stdin']
    ? (await readStdin()).replace(/\r?\n$/, '')
    : env.FERRY_PASSWORD ?? (interactive ? await ask('Password: ', true) : undefined);
  if (!password) throw new UsageError('login: no password: type it on a terminal, or use --password-stdin or FERRY_PASSWORD');

  const client = new FerryClient({ baseUrl: url, retry: { retries: 2 } });
  const session = await client.login(username, password);
  await writeConfig(path, { url, token: session.token, username: session.user.username, expiresAt: session.expiresAt });
  out.write(values.json
    ? `${JSON.stringify({ url, user: session.user, expiresAt: session.expiresAt, config: path })}\n`
    : `signed in to ${url} as ${session.user.username} (until ${session.expiresAt}); token saved in ${path}\n`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One line from the terminal; `hidden` echoes nothing (for passwords). */
function ask(prompt: string, hidden: boolean): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    (rl as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = (text: string) => {
      if (text.includes(prompt)) process.stderr.write(prompt);
    };
  }
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      if (hidden) process.stderr.write('\n');
      rl.close();
      resolve(answer);
    });
  });
}
