#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432:glibc.malloc.mmap_threshold=16777216 node --max-semi-space-size=1
import { ConfigError, loadConfig, ROLES, type Config } from '../config.js';
import { FerryError } from '../core/errors.js';
import { FerryApiError, FerryNetworkError } from '../../client/src/node.js';
import { CliError } from './client-config.js';
import { describeError } from './client-output.js';
import { FILES_USAGE, get, ls, rm } from './files-commands.js';
import { login, LOGIN_USAGE } from './login-command.js';
import { logout, LOGOUT_USAGE } from './logout-command.js';
import { UsageError } from './args.js';
import { QUOTA_USAGE, quota } from './quota-command.js';
import { SERVICE_ACCOUNT_USAGE } from './service-account-usage.js';
import { upload, UPLOAD_USAGE } from './upload-command.js';

const USAGE = `Usage: ferry <command>

Server settings come from FERRY_* variables or FERRY_CONFIG. The client commands (login, logout,
upload, ls, get, rm) find the server and token in --url / --token, FERRY_URL / FERRY_TOKEN, or
the file \`ferry login\` writes; --json prints one JSON document. Exit codes: 0 done, 1 failed,
2 usage, 130 interrupted (rerun to resume).

Commands:
  serve [--role all|api|worker]
            start the upload server: \`all\` (default) serves HTTP and runs the background
            jobs; \`api\` serves HTTP only; \`worker\` runs the jobs and serves only
            /healthz, /readyz and /metrics (FERRY_ROLE sets the same)
${SERVICE_ACCOUNT_USAGE}${QUOTA_USAGE}${LOGIN_USAGE}${LOGOUT_USAGE}${UPLOAD_USAGE}${FILES_USAGE}  help      show this text
`;

/** `serve`'s flags: `--role <role>` or `--role=<role>`. */
function serveOptions(args: readonly string[]): Partial<Config> {
  const options: { role?: Config['role'] } = {};
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith('--role=') ? ['--role', arg.slice('--role='.length)] : [arg, undefined];
    if (flag !== '--role') throw new UsageError(`serve: unknown option ${arg}`);
    const value = inline ?? args[(i += 1)];
    if (!value || !(ROLES as readonly string[]).includes(value)) throw new UsageError(`serve: --role takes one of ${ROLES.join(', ')}`);
    options.role = value as Config['role'];
  }
  return options;
}

async function serve(args: readonly string[]): Promise<void> {
  // Loaded here, not at the top: the client commands need none of the server's modules.
  const { startServer } = await import('../server.js');
  const server = await startServer(loadConfig(process.env, serveOptions(args)));
  server.log.info({ url: server.url }, 'ferry is listening');
  const stop = (signal: string) => {
    server.log.info({ signal }, 'shutting down');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

const CLIENT_COMMANDS: Record<string, (args: string[], env: NodeJS.ProcessEnv) => Promise<number>> = { logout, upload, ls, get, rm };

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'serve') {
    await serve(args);
    return 0;
  }
  if (command === 'service-account') {
    const { serviceAccount } = await import('./service-account.js');
    await serviceAccount(args, loadConfig(), process.stdout);
    return 0;
  }
  if (command === 'quota') {
    await quota(args, loadConfig(), process.stdout);
    return 0;
  }
  if (command === 'login') {
    await login(args, process.env, process.stdout);
    return 0;
  }
  const client = command === undefined ? undefined : CLIENT_COMMANDS[command];
  if (client) return client(args, process.env);
  process.stdout.write(USAGE);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== 0) process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`ferry: ${err.message}\nRun \`ferry help\` for the commands and their options.\n`);
      process.exit(2);
    }
    // Expected failures (a bad setting, a taken name) are one line; anything else is a bug with its stack.
    if (err instanceof ConfigError || err instanceof FerryError || err instanceof CliError) process.stderr.write(`ferry: ${err.message}\n`);
    else if (err instanceof FerryApiError || err instanceof FerryNetworkError) process.stderr.write(`ferry: ${describeError(err)}\n`);
    else process.stderr.write(`ferry: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
