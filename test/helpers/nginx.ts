/**
 * Debian's nginx running deploy/nginx.conf as a child process: the deployed file itself, with only
 * its listen port, upstream node addresses, pid file and access log swapped for a test's. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, refusesConnections, removeDir, until, withTimeout } from './e2e.js';
import { freePort } from './process-server.js';

export const NGINX = '/usr/sbin/nginx';
/** dist/test/helpers -> the repository's deploy/nginx.conf */
const DEPLOYED_CONFIG = fileURLToPath(new URL('../../../deploy/nginx.conf', import.meta.url));
const OUTPUT_LIMIT = 64 * 1024;

/**
 * deploy/nginx.conf with the test's addresses. Throws when the file no longer has exactly what is
 * replaced (one listen, pid and access_log line, one upstream server line per node), so a change to it
 * cannot quietly leave the test running something else.
 */
export function testConfig(deployed: string, options: { port: number; upstreams: readonly string[]; dir: string }): string {
  const swap = (text: string, pattern: RegExp, replacement: (groups: string[], index: number) => string, expected: number, what: string): string => {
    const found = text.match(pattern)?.length ?? 0;
    if (found !== expected) throw new Error(`deploy/nginx.conf: expected ${expected} ${what}, found ${found}`);
    let index = 0;
    return text.replace(pattern, (_line, ...groups: string[]) => replacement(groups, index++));
  };
  let config = swap(deployed, /^(\s*listen )8080;$/gm, ([indent]) => `${indent}127.0.0.1:${options.port};`, 1, '`listen 8080;` line');
  config = swap(config, /^pid \S+;$/gm, () => `pid ${join(options.dir, 'nginx.pid')};`, 1, '`pid` line');
  config = swap(config, /^(\s*access_log )\S+( ferry;)$/gm, ([head, tail]) => `${head}${join(options.dir, 'access.log')}${tail}`, 1, '`access_log` line');
  // The nodes' addresses; the deployed server parameters (max_fails, fail_timeout) stay.
  config = swap(config, /^(\s*server )api-\d+:8080((?: [^;]*)?;)$/gm, ([head, tail], index) => `${head}${options.upstreams[index]}${tail}`, options.upstreams.length, 'upstream `server api-N:8080` lines');
  return config;
}

export class Nginx {
  private log = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<unknown>,
    private readonly dir: string,
    readonly url: string,
  ) {}

  /** nginx on `port` (a free one by default) in front of `upstreams` (host:port each), once it accepts connections. */
  static async start(upstreams: readonly string[], port?: number): Promise<Nginx> {
    try {
      await access(NGINX);
    } catch {
      throw new Error(`${NGINX} is missing: apt-get install nginx-light (.ci/run does)`);
    }
    const dir = await makeTempDir('ferry-nginx-');
    port ??= await freePort();
    const configPath = join(dir, 'nginx.conf');
    await writeFile(configPath, testConfig(await readFile(DEPLOYED_CONFIG, 'utf8'), { port, upstreams, dir }));
    const child = spawn(NGINX, ['-p', dir, '-c', configPath, '-e', 'stderr', '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    const nginx = new Nginx(child, exited, dir, `http://127.0.0.1:${port}`);
    const append = (data: string) => { nginx.log = (nginx.log + data).slice(-OUTPUT_LIMIT); };
    child.stdout!.setEncoding('utf8').on('data', append);
    child.stderr!.setEncoding('utf8').on('data', append);
    let gone = false;
    void exited.then(() => { gone = true; });
    try {
      await until(async () => {
        if (gone) throw new Error(`nginx exited at start:\n${nginx.log}`);
        return !(await refusesConnections(nginx.url));
      }, 'nginx to accept connections', 10_000);
    } catch (err) {
      await nginx.stop();
      throw err;
    }
    return nginx;
  }

  /** Its access and error log lines, last ones first to go. */
  output(): string { return this.log; }

  /** Stops nginx (SIGQUIT lets it finish; SIGKILL after 5 s) and removes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGQUIT');
      await withTimeout(this.exited, 5_000, 'nginx to quit').catch(async () => {
        this.child.kill('SIGKILL');
        await this.exited;
      });
    }
    await removeDir(this.dir);
  }
}
