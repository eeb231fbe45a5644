/**
 * Ferry as a separate process (`node dist/src/cli/main.js serve`), for tests that must kill it:
 * start, kill (SIGKILL by default), restart on the same data dir and address, stop. Every wait is
 * bounded; children still alive when this process exits are killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The CLI, compiled: dist/test/helpers -> dist/src/cli/main.js. */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const OUTPUT_LIMIT = 64 * 1024;

const alive = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
});

export interface ProcessServerOptions {
  /** The data dir; the caller creates and removes it. */
  readonly dataDir: string;
  /** Extra FERRY_* (or other) variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for /healthz after spawning. */
  readonly startTimeoutMs?: number;
}

export class ProcessServer {
  private child: ChildProcess | null = null;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  private log = '';
  private currentPort = 0;

  private constructor(private readonly options: ProcessServerOptions) {}

  /** Spawns the server on a free loopback port and waits until /healthz answers 200. */
  static async start(options: ProcessServerOptions): Promise<ProcessServer> {
    const server = new ProcessServer(options);
    try {
      await server.spawnOnFreePort(await freePort());
    } catch (err) {
      // Another process may have taken the port between the probe and the bind: once more elsewhere.
      if (!/EADDRINUSE/.test(server.log)) throw err;
      await server.spawnOnFreePort(await freePort());
    }
    return server;
  }

  get port(): number { return this.currentPort; }
  /** e.g. http://127.0.0.1:PORT */
  get url(): string { return `http://127.0.0.1:${this.currentPort}`; }
  /** The tus / IETF endpoint, e.g. http://127.0.0.1:PORT/files/ */
  get endpoint(): string { return `${this.url}/files/`; }
  get dataDir(): string { return this.options.dataDir; }
  get pid(): number | undefined { return this.child?.pid; }
  get running(): boolean { return this.child !== null; }
  /** The last stdout and stderr lines of every process this object started. */
  output(): string { return this.log; }

  /** Sends `signal` (SIGKILL by default) and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) throw new Error('the server process is not running');
    child.kill(signal);
    const result = await boundedWait(exited, timeoutMs, `server process ${child.pid} to exit after ${signal}`).catch(async (err: unknown) => {
      child.kill('SIGKILL');
      await boundedWait(exited, 5_000, `server process ${child.pid} to exit after SIGKILL`);
      throw err;
    });
    return result;
  }

  /**
   * Starts the server again on the same data dir, on the same port when it is free (so upload URLs
   * stay valid), else on another one. Kills the running process first, if any.
   */
  async restart(): Promise<void> {
    if (this.child) await this.kill('SIGKILL');
    try {
      await this.spawnOnFreePort(this.currentPort);
    } catch (err) {
      if (!/EADDRINUSE/.test(this.log)) throw err;
      await this.spawnOnFreePort(await freePort());
    }
  }

  /** Asks the server to shut down (SIGTERM), killing it if it takes too long. No-op when not running. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.child) return;
    try {
      await this.kill('SIGTERM', timeoutMs);
    } catch {
      // kill() already fell back to SIGKILL.
    }
  }

  private async spawnOnFreePort(port: number): Promise<void> {
    this.currentPort = port;
    const child = spawn(process.execPath, [MAIN, 'serve'], {
      env: {
        ...process.env,
        FERRY_HOST: '127.0.0.1',
        FERRY_PORT: String(port),
        FERRY_DATA_DIR: this.options.dataDir,
        FERRY_LOG_LEVEL: 'warn',
        FERRY_AUTH: 'none',
        // stop() cuts what still streams at once; tests of the drain itself ask for a grace period.
        FERRY_SHUTDOWN_GRACE_SECONDS: '0',
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    alive.add(child);
    this.child = child;
    const append = (data: string) => {
      this.log = (this.log + data).slice(-OUTPUT_LIMIT);
    };
    child.stdout!.setEncoding('utf8').on('data', append);
    child.stderr!.setEncoding('utf8').on('data', append);
    child.on('error', (err) => append(`\n[spawn error] ${err.message}\n`));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        alive.delete(child);
        if (this.child === child) this.child = null;
        resolve({ code, signal });
      });
    });
    const spawnError = once(child, 'spawn').then(() => null, (err: Error) => err);

    const deadline = Date.now() + (this.options.startTimeoutMs ?? 20_000);
    const exited = this.exited;
    let gone = false;
    void exited.then(() => { gone = true; });
    for (;;) {
      const failure = await Promise.race([spawnError, Promise.resolve(null)]);
      if (failure) throw new Error(`cannot spawn the server: ${failure.message}`);
      if (gone) {
        const { code, signal } = await exited;
        throw new Error(`the server exited (${code ?? signal}) before it was healthy:\n${this.log}`);
      }
      if (await healthy(this.url)) return;
      if (Date.now() > deadline) {
        await this.kill('SIGKILL').catch(() => undefined);
        throw new Error(`the server was not healthy within ${this.options.startTimeoutMs ?? 20_000} ms:\n${this.log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A port nothing listens on right now, on the loopback address. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  probe.close();
  await once(probe, 'close');
  return port;
}

function healthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/healthz`, { agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function boundedWait<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
