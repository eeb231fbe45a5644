import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, ProcessServer } from '../helpers/process-server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const CHUNK = 64 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `ferry <args>` as a process; `onStart` gets the child (to signal it). */
function ferry(args: string[], env: Record<string, string>, options: { stdin?: string; onStart?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => { stdout += data; });
    child.stderr.setEncoding('utf8').on('data', (data: string) => { stderr += data; });
    child.stdin.end(options.stdin ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // 'exit' may come before the pipes are drained.
      setImmediate(() => resolve({ code, stdout, stderr }));
    });
    options.onStart?.(child);
  });
}

/** Requests the server has answered with this method on routes containing `route`, from its metrics. */
async function answered(url: string, method: string, route: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('ferry_http_request_duration_seconds_count') && line.includes(route) && line.includes(`method="${method}"`))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

/** PUTs of chunks the server has answered. */
const chunkPuts = (url: string) => answered(url, 'PUT', 'chunks');

/**
 * A proxy to `target` that holds the first chunk PUTs until `width` of them are in flight at once,
 * then lets everything through, recording the most chunk PUTs ever in flight. A client that sends
 * fewer at a time never opens the gate: after 10 s the held requests go on, and `widest` tells.
 */
async function chunkGate(target: string, width: number): Promise<{ url: string; widest: () => number; close: () => Promise<void> }> {
  let inFlight = 0;
  let widest = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const release = setTimeout(open, 10_000);
  const server: Server = createServer((req, res) => {
    const chunk = req.method === 'PUT' && /\/chunks\/\d+$/.test(req.url ?? '');
    void (async () => {
      if (chunk) {
        inFlight += 1;
        widest = Math.max(widest, inFlight);
        if (inFlight >= width) open();
        await gate;
      }
      const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', () => { if (chunk) inFlight -= 1; });
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    })();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    widest: () => widest,
    close: async () => {
      clearTimeout(release);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** `ferry <args>` on a pseudo-terminal (util-linux `script`): what a person sees, stdout and stderr together. */
function ferryOnTerminal(args: string[], env: Record<string, string>): Promise<Run> {
  const command = [process.execPath, MAIN, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => { stdout += data; });
    child.stderr.setEncoding('utf8').on('data', (data: string) => { stderr += data; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ferry client commands against a server process', () => {
  let server: ProcessServer;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-cli-client-'));
    server = await ProcessServer.start({ dataDir: join(dir, 'data'), env: { FERRY_AUTH: 'required' } });
    const signup = await fetch(`${server.url}/api/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'dora', password: 'correct horse battery' }),
    });
    assert.equal(signup.status, 201);
    env = { FERRY_CLIENT_CONFIG: join(dir, 'config', 'client.json'), FERRY_CLIENT_STATE: join(dir, 'state', 'uploads.json'), HOME: dir };
  });

  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses wrong credentials in one line, then logs in and keeps the token', async () => {
    const wrong = await ferry(['login', server.url, '--username', 'dora', '--password-stdin'], env, { stdin: 'not the password\n' });
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, 'ferry: wrong username or password\n');

    const right = await ferry(['login', server.url, '--username', 'dora', '--password-stdin', '--json'], env, { stdin: 'correct horse battery\n' });
    assert.equal(right.code, 0, right.stderr);
    const answer = JSON.parse(right.stdout) as { url: string; user: { username: string } };
    assert.deepEqual([answer.url, answer.user.username], [server.url, 'dora']);
    const config = JSON.parse(await readFile(env.FERRY_CLIENT_CONFIG!, 'utf8')) as { url: string; token: string };
    assert.match(config.token, /^fs_/);
    assert.doesNotMatch(right.stdout, new RegExp(config.token));
  });

  it('resumes an upload interrupted with SIGINT without sending stored chunks again', async () => {
    const path = join(dir, 'big.bin');
    const bytes = randomBytes(24 * 1024 * 1024);
    await writeFile(path, bytes);
    const chunkCount = bytes.length / CHUNK;
    const token = (JSON.parse(await readFile(env.FERRY_CLIENT_CONFIG!, 'utf8')) as { token: string }).token;
    const auth = { authorization: `Bearer ${token}` };
    const uploadStatus = async (id: string) => (await (await fetch(`${server.url}/api/v1/uploads/${id}`, { headers: auth })).json()) as { receivedChunks: number; missing: number[]; chunkCount: number };

    let uploadId = '';
    const first = await ferry(['upload', path, '--chunk-size', '64K', '--parallel', '1', '--json'], env, {
      onStart: (child) => {
        void (async () => {
          for (let i = 0; i < 1000 && child.exitCode === null; i += 1) {
            await new Promise((resolve) => setTimeout(resolve, 10));
            const state = await readFile(env.FERRY_CLIENT_STATE!, 'utf8').catch(() => '{}');
            uploadId ||= (Object.values(JSON.parse(state) as Record<string, { uploadId?: string }>)[0]?.uploadId ?? '');
            if (uploadId && (await uploadStatus(uploadId)).receivedChunks >= 20) {
              child.kill('SIGINT');
              return;
            }
          }
        })();
      },
    });
    assert.equal(first.code, 130, first.stderr);
    assert.equal(first.stderr, 'ferry: interrupted; run the same command again to resume\n');
    const interrupted = JSON.parse(first.stdout) as { files: unknown[]; interrupted: boolean };
    assert.deepEqual([interrupted.files.length, interrupted.interrupted], [0, true]);

    await new Promise((resolve) => setTimeout(resolve, 200));
    const stored = await uploadStatus(uploadId);
    assert.equal(stored.chunkCount, chunkCount);
    assert.ok(stored.receivedChunks >= 20 && stored.receivedChunks < chunkCount, `${stored.receivedChunks} of ${chunkCount} stored`);
    const putsBefore = await chunkPuts(server.url);

    const second = await ferry(['upload', path, '--chunk-size', '64K', '--parallel', '3', '--json'], env);
    assert.equal(second.code, 0, second.stderr);
    const done = JSON.parse(second.stdout) as { files: { id: string; uploadId: string; resumed: boolean; instant: boolean; chunksSent: number; sha256: string }[]; failed: unknown[] };
    assert.equal(done.files.length, 1);
    const [file] = done.files;
    assert.deepEqual([file!.uploadId, file!.resumed, file!.instant], [uploadId, true, false]);
    assert.equal(file!.chunksSent, chunkCount - stored.receivedChunks);
    assert.equal((await chunkPuts(server.url)) - putsBefore, chunkCount - stored.receivedChunks, 'the server saw only the missing chunks');
    assert.equal(file!.sha256, sha256(bytes));

    // The same file again is instant; `get` brings it back intact.
    const again = await ferry(['upload', path, '--url', server.url], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^instant +big\.bin .*\(no bytes sent\)$/m);
    const target = join(dir, 'back.bin');
    const got = await ferry(['get', file!.id, target, '--json'], env);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(JSON.parse(got.stdout), { file: JSON.parse(got.stdout).file, path: target, resumedFrom: 0, receivedBytes: bytes.length });
    assert.equal(sha256(await readFile(target)), sha256(bytes));

    // A download cut short left a .part file: `get` asks for the rest with Range.
    const partial = join(dir, 'partial.bin');
    await writeFile(`${partial}.part`, bytes.subarray(0, 5_000_000));
    const rest = await ferry(['get', file!.id, partial, '--json'], env);
    assert.equal(rest.code, 0, rest.stderr);
    const resumed = JSON.parse(rest.stdout) as { resumedFrom: number; receivedBytes: number };
    assert.deepEqual([resumed.resumedFrom, resumed.receivedBytes], [5_000_000, bytes.length - 5_000_000]);
    assert.equal(sha256(await readFile(partial)), sha256(bytes));
    const human = await ferry(['get', file!.id, partial], env);
    assert.match(human.stdout, /^saved big\.bin \(24 MiB\) to .*partial\.bin\n$/);
  });

  it('resumes a tus upload interrupted with SIGINT from the offset the server holds', async () => {
    const path = join(dir, 'tus-big.bin');
    const bytes = randomBytes(16 * 1024 * 1024);
    await writeFile(path, bytes);
    const token = (JSON.parse(await readFile(env.FERRY_CLIENT_CONFIG!, 'utf8')) as { token: string }).token;
    const offsetOf = async (url: string) => Number((await fetch(url, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` } })).headers.get('upload-offset'));
    const args = ['upload', path, '--protocol', 'tus', '--chunk-size', '64K', '--json'];

    // Watched through the metrics: a HEAD would make the server cut the PATCH in flight.
    const patchesBefore = await answered(server.url, 'PATCH', 'files');
    let url = '';
    const first = await ferry(args, env, {
      onStart: (child) => {
        void (async () => {
          for (let i = 0; i < 1000 && child.exitCode === null; i += 1) {
            await new Promise((resolve) => setTimeout(resolve, 10));
            const state = await readFile(env.FERRY_CLIENT_STATE!, 'utf8').catch(() => '{}');
            url ||= (Object.values(JSON.parse(state) as Record<string, { tusUrl?: string }>).find((saved) => saved.tusUrl)?.tusUrl ?? '');
            if (url && (await answered(server.url, 'PATCH', 'files')) - patchesBefore >= 20) {
              child.kill('SIGINT');
              return;
            }
          }
        })();
      },
    });
    assert.equal(first.code, 130, first.stderr);
    assert.equal((JSON.parse(first.stdout) as { interrupted: boolean }).interrupted, true);
    const stored = await offsetOf(url);
    assert.ok(stored >= 20 * CHUNK && stored < bytes.length, `${stored} of ${bytes.length} stored`);

    const second = await ferry(args, env);
    assert.equal(second.code, 0, second.stderr);
    const [file] = (JSON.parse(second.stdout) as { files: { resumed: boolean; uploadId: string; sentBytes: number; sha256: string }[] }).files;
    assert.deepEqual([file!.resumed, file!.uploadId, file!.sentBytes], [true, url.split('/').pop(), bytes.length - stored]);
    assert.equal(file!.sha256, sha256(bytes));
  });

  it('keeps --parallel N chunks in flight at once', async () => {
    const path = join(dir, 'wide.bin');
    const bytes = randomBytes(12 * CHUNK);
    await writeFile(path, bytes);
    const token = (JSON.parse(await readFile(env.FERRY_CLIENT_CONFIG!, 'utf8')) as { token: string }).token;
    const gate = await chunkGate(server.url, 3);
    try {
      const run = await ferry(['upload', path, '--chunk-size', '64K', '--parallel', '3', '--url', gate.url, '--token', token, '--json'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.equal((JSON.parse(run.stdout) as { files: { sha256: string }[] }).files[0]!.sha256, sha256(bytes));
      assert.equal(gate.widest(), 3);
    } finally {
      await gate.close();
    }
  });

  it('uploads over tus with --protocol tus', async () => {
    const path = join(dir, 'over-tus.bin');
    const bytes = randomBytes(5 * CHUNK + 17);
    await writeFile(path, bytes);
    const run = await ferry(['upload', path, '--protocol', 'tus', '--chunk-size', '128K', '--json'], env);
    assert.equal(run.code, 0, run.stderr);
    const [file] = (JSON.parse(run.stdout) as { files: { name: string; sha256: string; chunksSent: number; instant: boolean; id: string }[] }).files;
    assert.deepEqual([file!.name, file!.sha256, file!.chunksSent, file!.instant], ['over-tus.bin', sha256(bytes), 3, false]);
    const back = join(dir, 'over-tus.back');
    assert.equal((await ferry(['get', file!.id, back], env)).code, 0);
    assert.equal(sha256(await readFile(back)), sha256(bytes));

    const wrong = await ferry(['upload', path, '--protocol', 'ftp'], env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^ferry: upload: --protocol takes native or tus\n/);
  });

  it('draws a progress bar per file and a total on a terminal', async () => {
    const root = join(dir, 'shown');
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'one.bin'), randomBytes(3 * CHUNK));
    await writeFile(join(root, 'two.bin'), randomBytes(2 * CHUNK));
    const run = await ferryOnTerminal(['upload', root, '--chunk-size', '64K'], env);
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /\[[#-]{24}\] (hashing|uploading) +shown\/one\.bin/);
    assert.match(run.stdout, /\[[#-]{24}\] total +file 1\/2/);
    assert.match(run.stdout, /\[[#-]{24}\] total +file 2\/2/);
    assert.match(run.stdout, /uploaded +shown\/two\.bin/);
    assert.match(run.stdout, /2 of 2 files uploaded/);
  });


  it('uploads folders with relative names, lists, gets and removes with --json documents', async () => {
    const root = join(dir, 'album');
    await mkdir(join(root, '2026'), { recursive: true });
    await writeFile(join(root, 'a.txt'), 'first');
    await writeFile(join(root, '2026', 'b.txt'), 'second');
    const up = await ferry(['upload', root, '--json'], env);
    assert.equal(up.code, 0, up.stderr);
    const uploaded = JSON.parse(up.stdout) as { files: { id: string; name: string }[] };
    assert.deepEqual(uploaded.files.map((file) => file.name), ['album/2026/b.txt', 'album/a.txt']);

    const listed = await ferry(['ls', '--folder', 'album', '--sort', 'name', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { files: { name: string }[] }).files.map((file) => file.name), ['album/2026/b.txt', 'album/a.txt']);
    const human = await ferry(['ls', '--folder', 'album'], env);
    assert.match(human.stdout, /album\/a\.txt/);

    const removed = await ferry(['rm', ...uploaded.files.map((file) => file.id), '--json'], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(JSON.parse(removed.stdout), { removed: uploaded.files.map((file) => file.id) });
    const missing = await ferry(['get', uploaded.files[0]!.id], env);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
  });

  it('says in one line that a server is down, that a token is refused, or that the command is wrong', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const ls = await ferry(['ls', '--url', down, '--token', 'fs_whatever'], env);
    assert.equal(ls.code, 1);
    assert.match(ls.stderr, /^ferry: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(is the server running\?\)\n$/);
    for (const args of [['upload', join(dir, 'big.bin')], ['get', 'f0000000000000000000000000000000'], ['rm', 'f0000000000000000000000000000000']]) {
      const run = await ferry([...args, '--url', down, '--token', 'fs_whatever', '--json'], env);
      assert.equal(run.code, 1, args[0]);
      assert.match(run.stderr, /^ferry: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(is the server running\?\)\n$/, args[0]);
      assert.equal(run.stdout, '');
    }
    const login = await ferry(['login', down, '--username', 'dora', '--password-stdin'], env, { stdin: 'x\n' });
    assert.equal(login.code, 1);
    assert.equal(login.stderr.trim().split('\n').length, 1);
    assert.match(login.stderr, /cannot reach/);

    const refused = await ferry(['ls', '--token', 'fs_not-a-real-token'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ferry: the server refused the token .*ferry login.*\n$/);

    const usage = await ferry(['upload', '--parallel', 'many', 'x'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^ferry: upload: --parallel takes a whole number/);
  });

  it('logs out: revokes the session, forgets the token, keeps the server, and says so again harmlessly', async () => {
    const before = JSON.parse(await readFile(env.FERRY_CLIENT_CONFIG!, 'utf8')) as { url: string; token: string };
    const out = await ferry(['logout', '--json'], env);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), { url: server.url, revoked: true, removed: true, config: env.FERRY_CLIENT_CONFIG });
    assert.deepEqual(JSON.parse(await readFile(env.FERRY_CLIENT_CONFIG!, 'utf8')), { url: server.url });
    const me = await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${before.token}` } });
    assert.equal(me.status, 401, 'the token no longer works');

    const again = await ferry(['logout'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `not signed in (no token in ${env.FERRY_CLIENT_CONFIG})\n`);
    const ls = await ferry(['ls'], env);
    assert.equal(ls.code, 1);
    assert.match(ls.stderr, /^ferry: not signed in to .*ferry login.*\n$/);

    // A server that cannot be reached: the token is forgotten here, and the line says it still works there.
    const down = `http://127.0.0.1:${await freePort()}`;
    await writeFile(env.FERRY_CLIENT_CONFIG!, JSON.stringify({ url: down, token: 'fs_elsewhere', username: 'dora', expiresAt: '2030-01-01T00:00:00.000Z' }));
    const unreachable = await ferry(['logout'], env);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^ferry: removed the token of dora at .* but could not revoke it \(cannot reach .*\); it stays valid until 2030-01-01T00:00:00\.000Z\n$/);
    assert.deepEqual(JSON.parse(await readFile(env.FERRY_CLIENT_CONFIG!, 'utf8')), { url: down });
  });
});
