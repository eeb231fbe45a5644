import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, type Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  /** The tus / IETF endpoint, e.g. http://127.0.0.1:PORT/files/ */
  readonly endpoint: string;
  /** Stops the server and removes its data dir. */
  stop(): Promise<void>;
}

/** A Ferry server in this process, on a free port, with a fresh data dir unless one is given. */
export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), 'ferry-test-')));
  // Stopping cuts whatever still streams at once, as tests of interrupted uploads expect.
  const server = await startServer({ ...DEFAULTS, dataDir, port: 0, logLevel: 'silent', auth: 'none', shutdownGraceSeconds: 0, ...overrides });
  return {
    ...server,
    dataDir,
    endpoint: `${server.url}/files/`,
    stop: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
