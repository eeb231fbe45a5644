#!/usr/bin/env node
import { ConfigError, loadConfig, ROLES, type Config } from '../config.js';
import { FerryError } from '../core/errors.js';
import { startServer } from '../server.js';
import { SERVICE_ACCOUNT_USAGE, serviceAccount, UsageError } from './service-account.js';

const USAGE = `Usage: ferry <command>

Settings come from FERRY_* variables or FERRY_CONFIG.

Commands:
  serve [--role all|api|worker]
            start the upload server: \`all\` (default) serves HTTP and runs the background
            jobs; \`api\` serves HTTP only; \`worker\` runs the jobs and serves only
            /healthz, /readyz and /metrics (FERRY_ROLE sets the same)
${SERVICE_ACCOUNT_USAGE}  help      show this text
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
  const server = await startServer(loadConfig(process.env, serveOptions(args)));
  server.log.info({ url: server.url }, 'ferry is listening');
  const stop = (signal: string) => {
    server.log.info({ signal }, 'shutting down');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'serve') {
    await serve(args);
    return 0;
  }
  if (command === 'service-account') {
    await serviceAccount(args, loadConfig(), process.stdout);
    return 0;
  }
  process.stdout.write(USAGE);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== 0) process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`ferry: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    // Expected failures (a bad setting, a taken name) are one line; anything else is a bug with its stack.
    if (err instanceof ConfigError || err instanceof FerryError) process.stderr.write(`ferry: ${err.message}\n`);
    else process.stderr.write(`ferry: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
