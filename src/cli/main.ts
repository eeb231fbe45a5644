#!/usr/bin/env node
import { ConfigError, loadConfig } from '../config.js';
import { startServer } from '../server.js';

const USAGE = `Usage: ferry <command>

Commands:
  serve     start the upload server (settings from FERRY_* variables or FERRY_CONFIG)
  help      show this text
`;

async function serve(): Promise<void> {
  const server = await startServer(loadConfig());
  server.log.info({ url: server.url }, 'ferry is listening');
  const stop = (signal: string) => {
    server.log.info({ signal }, 'shutting down');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === 'serve') {
    await serve();
    return 0;
  }
  process.stdout.write(USAGE);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== 0) process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`ferry: ${err.message}\n`);
    else process.stderr.write(`ferry: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
