/**
 * End to end with tuspy, the Python tus client as Debian packages it (python3-tuspy, module
 * tusclient), against Ferry in this process. A small script, tuspy_client.py beside this file's
 * source, drives the library; each case compares the stored bytes with the source by SHA-256.
 *
 * CI installs python3-tuspy; where it is missing these tests fail (they do not skip), saying so.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  MiB,
  downloadSha256,
  extendedFilename,
  idOfUrl,
  makeTempDir,
  removeDir,
  tusOffset,
  writeRandomFile,
  type SourceFile,
} from '../helpers/e2e.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { LOCAL_USER } from '../../src/core/principal.js';

const PYTHON = '/usr/bin/python3';
/** The script lives in the source tree (tsc copies no .py files): dist/test/e2e -> test/e2e. */
const SCRIPT = fileURLToPath(new URL('../../../test/e2e/tuspy_client.py', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;

interface TuspyJob {
  endpoint?: string;
  url?: string;
  file: string;
  chunk_size: number;
  metadata?: Record<string, string>;
  checksum?: boolean;
  chunks?: number;
  stop_at?: number;
}

interface TuspyResult {
  url: string;
  /** The offset the uploader started from: the server's, when it was given an upload URL. */
  initial_offset: number;
  /** The offset the server acknowledged after each PATCH. */
  offsets: number[];
  offset: number;
}

/** Null when tuspy can be imported by /usr/bin/python3, else why not. */
function tuspyProblem(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import tusclient.client, tusclient.uploader'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.error) return `${PYTHON} cannot be run: ${probe.error.message}`;
  if (probe.status !== 0) return `${PYTHON} cannot import tusclient: ${probe.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

const running = new Set<ChildProcess>();

/** Runs the driver script with one job; rejects with its stderr when it fails or takes too long. */
function runTuspy(job: TuspyJob): Promise<TuspyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (data: string) => { stdout += data; });
    child.stderr!.setEncoding('utf8').on('data', (data: string) => { stderr += data; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tuspy did not finish within ${RUN_TIMEOUT_MS} ms\nstderr:\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', (err) => { clearTimeout(timer); running.delete(child); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (code !== 0) {
        reject(new Error(`tuspy exited with ${code ?? signal}\nstderr:\n${stderr}\nstdout:\n${stdout}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as TuspyResult);
      } catch {
        reject(new Error(`tuspy printed no result\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }
    });
  });
}

describe('tuspy (python3-tuspy) against Ferry', () => {
  let server: TestServer;
  let dir: string;
  let source: SourceFile;
  let problem: string | null;

  before(async () => {
    problem = tuspyProblem();
    dir = await makeTempDir('ferry-e2e-tuspy-');
    source = await writeRandomFile(join(dir, 'source.bin'), 3 * MiB + 777);
    server = await startTestServer();
  });

  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await server?.stop();
    await removeDir(dir);
  });

  /** Fails the test, loudly, where tuspy is missing: CI installs it, so a missing one is a broken setup. */
  function requireTuspy(): void {
    if (problem !== null) {
      assert.fail(`python3-tuspy is required for these tests (apt-get install -y python3-tuspy): ${problem}`);
    }
  }

  async function assertStoredMatchesSource(uploadUrl: string): Promise<void> {
    const download = await downloadSha256(uploadUrl);
    assert.equal(download.status, 200, `GET ${uploadUrl}`);
    assert.equal(download.bytes, source.size);
    assert.equal(download.sha256, source.sha256, 'SHA-256 of the downloaded bytes');
    assert.equal(download.headers.etag, `"${source.sha256}"`);
    const stored = await server.uploads.get(LOCAL_USER, idOfUrl(uploadUrl));
    assert.equal(stored.state, 'completed');
    assert.equal(stored.sha256, source.sha256, 'SHA-256 the server recorded');
  }

  test('a full upload with upload(), in chunks, with UTF-8 metadata', async () => {
    requireTuspy();
    const filename = 'données été.bin';
    const result = await runTuspy({ endpoint: server.endpoint, file: source.path, chunk_size: MiB, metadata: { filename } });
    assert.ok(result.url.startsWith(server.endpoint), `${result.url} is under ${server.endpoint}`);
    assert.equal(result.initial_offset, 0);
    assert.deepEqual(result.offsets, [MiB, 2 * MiB, 3 * MiB, source.size], 'one PATCH per chunk, each acknowledged');
    await assertStoredMatchesSource(result.url);
    const download = await downloadSha256(result.url);
    assert.equal(extendedFilename(download.headers['content-disposition']), filename);
  });

  test('a full upload with Upload-Checksum (sha1) on every chunk', async () => {
    requireTuspy();
    const result = await runTuspy({ endpoint: server.endpoint, file: source.path, chunk_size: 768 * 1024, checksum: true });
    assert.equal(result.offset, source.size);
    assert.equal(result.offsets.length, Math.ceil(source.size / (768 * 1024)));
    await assertStoredMatchesSource(result.url);
  });

  test('a few chunks with upload_chunk(), then a new uploader for the URL continues from the server offset', async () => {
    requireTuspy();
    const chunk = 512 * 1024;
    const first = await runTuspy({ endpoint: server.endpoint, file: source.path, chunk_size: chunk, chunks: 3 });
    assert.deepEqual(first.offsets, [chunk, 2 * chunk, 3 * chunk]);
    const { offset: serverOffset } = await tusOffset(first.url);
    assert.equal(serverOffset, 3 * chunk, 'the server holds the three chunks');

    const second = await runTuspy({ url: first.url, file: source.path, chunk_size: chunk });
    assert.equal(second.url, first.url, 'the same upload');
    assert.equal(second.initial_offset, serverOffset, 'the new uploader started from the server offset, not zero');
    assert.equal(second.offsets[0], serverOffset + chunk, 'its first PATCH appended after the stored bytes');
    assert.equal(second.offset, source.size);
    await assertStoredMatchesSource(first.url);
  });

  test('upload(stop_at=N) at an odd offset, then a new uploader for the URL finishes it', async () => {
    requireTuspy();
    const stopAt = MiB + 1_001;
    const first = await runTuspy({ endpoint: server.endpoint, file: source.path, chunk_size: 400 * 1024, stop_at: stopAt });
    assert.equal(first.offset, stopAt);
    const { offset: serverOffset } = await tusOffset(first.url);
    assert.equal(serverOffset, stopAt);
    const before = await server.uploads.get(LOCAL_USER, idOfUrl(first.url));
    assert.equal(before.state, 'open');

    const second = await runTuspy({ url: first.url, file: source.path, chunk_size: MiB });
    assert.equal(second.initial_offset, stopAt, 'the new uploader started from the server offset');
    assert.equal(second.offset, source.size);
    await assertStoredMatchesSource(first.url);
  });
});
