/**
 * flow.js and resumable.js, the published libraries, in headless Debian Chromium against Ferry's
 * /api/v1/flow. The page (fixtures/page.js) is served from another origin than Ferry, so every
 * request goes through CORS; files are picked on an <input type=file> as a user would. Every case
 * compares the SHA-256 of the source with the one in the answer that completes the file and with
 * the downloaded content, and checks request by request what the library sent and got back.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { downloadSha256 } from '../helpers/e2e.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/users.js';
import { cephS3 } from '../storage/s3-ceph.js';
import {
  CHROMIUM, Recorder, launchChromium, openPage, packageVersion, pickFiles, servePage, startUploader,
  type PageServer, type Rules, type SourceBlob, type Xhr,
} from './harness.js';

const KiB = 1024;
const UPLOAD_MS = 20_000;

interface Source extends SourceBlob {
  readonly sha256: string;
}

function source(name: string, size: number, mimeType = 'application/octet-stream'): Source {
  const buffer = randomBytes(size);
  return { name, mimeType, buffer, sha256: createHash('sha256').update(buffer).digest('hex') };
}

/** flow.js and resumable.js: floor(size / chunkSize) chunks (the last one longer), or ceil with forceChunkSize. */
function chunkCount(size: number, chunkSize: number, force = false): number {
  return force ? Math.ceil(size / chunkSize) : Math.max(1, Math.floor(size / chunkSize));
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const sorted = (numbers: Iterable<number>) => [...numbers].sort((a, b) => a - b);
const chunksOf = (xhrs: readonly Xhr[]) => sorted(xhrs.map((x) => x.chunk));

interface FileJson {
  readonly id: string;
  readonly name: string;
  readonly size: number;
  readonly type: string;
  readonly sha256: string;
}
interface Answer {
  readonly chunk: number;
  readonly receivedChunks: number;
  readonly totalChunks: number;
  readonly done: boolean;
  readonly file?: FileJson;
}

function parse(response: string | undefined): Answer | null {
  try {
    return JSON.parse(response ?? '') as Answer;
  } catch {
    return null;
  }
}

/**
 * The file the upload completed as. At least one answer says done and carries the file; when the
 * last chunks are stored at the same moment, each of their answers does, with the same file.
 */
function completedFile(posts: readonly Xhr[], simultaneous: number): FileJson {
  const done = posts.map((x) => parse(x.response)).filter((a): a is Answer => a?.done === true);
  assert.ok(done.length >= 1, 'an answer completes the file');
  for (const answer of done) {
    assert.ok(answer.file, 'an answer that says done carries the file');
    assert.equal(answer.receivedChunks, answer.totalChunks);
    assert.deepEqual(answer.file, done[0]!.file, 'every answer that says done names the same file');
  }
  const notDone = posts.filter((x) => parse(x.response)?.done === false).length;
  assert.equal(notDone + done.length, posts.length, 'every answer is JSON with done');
  assert.ok(done.length <= simultaneous, `only answers of chunks stored at the end (at most simultaneousUploads) say done, not ${done.length}`);
  return done[0]!.file!;
}

/** The file matches the source by name, size and SHA-256, and so do the bytes Ferry serves. */
async function assertStored(server: TestServer, headers: Record<string, string>, file: FileJson, src: Source): Promise<void> {
  assert.equal(file.name, src.name);
  assert.equal(file.size, src.buffer.length);
  assert.equal(file.sha256, src.sha256, 'the SHA-256 in the completing answer is the source\'s');
  const download = await downloadSha256(`${server.url}/api/v1/files/${file.id}/content`, { headers });
  assert.equal(download.status, 200);
  assert.equal(download.bytes, src.buffer.length);
  assert.equal(download.sha256, src.sha256, 'the downloaded content is the source');
}

/** Every POST answered 200 and each chunk number 1..count was POSTed exactly once. */
function assertEachChunkOnce(posts: readonly Xhr[], count: number, what: string): void {
  assert.deepEqual(chunksOf(posts), range(1, count), `${what}: every chunk POSTed exactly once`);
  assert.deepEqual(posts.filter((x) => x.status !== 200).map((x) => [x.chunk, x.status, x.response]), [], `${what}: every POST answered 200`);
}

/** The library's fileSuccess message is the completing answer: what an application reads the file from. */
function assertSuccessMessage(message: string, file: FileJson): void {
  const answer = parse(message);
  assert.equal(answer?.done, true, `fileSuccess carries the completing answer, not ${message}`);
  assert.equal(answer?.file?.id, file.id);
}

describe('flow.js and resumable.js in headless Chromium', () => {
  let ferry: TestServer;
  let open: TestServer;
  let pageServer: PageServer;
  let browser: Browser;
  let auth: Record<string, string>;
  const pages: Page[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    [ferry, open, pageServer, browser] = await Promise.all([
      startTestServer({ auth: 'required' }), startTestServer({ auth: 'none' }), servePage(), launchChromium(),
    ]);
    auth = { ...(await createUser(ferry, 'browser')).auth };
  });
  after(async () => {
    await Promise.allSettled(pages.map((page) => page.context().close()));
    await browser?.close();
    await Promise.allSettled([ferry?.stop(), open?.stop(), pageServer?.close()]);
  });

  async function newPage(server: TestServer): Promise<{ page: Page; rec: Recorder }> {
    const rec = new Recorder(`${server.url}/api/v1/flow`);
    const page = await openPage(browser, pageServer.url, rec);
    pages.push(page);
    assert.notEqual(new URL(pageServer.url).origin, new URL(server.url).origin, 'the page is cross-origin to Ferry');
    return { page, rec };
  }

  test('flow.js, multipart: two files upload simultaneously and both are stored intact', async () => {
    const { page, rec } = await newPage(ferry);
    const chunkSize = 128 * KiB;
    const files = [source('alpha.bin', 3 * 1024 * KiB + 1_000), source('beta.bin', 2 * 1024 * KiB + 77_777)];
    const started = await startUploader(page, rec, 'flow', {
      target: `${ferry.url}/api/v1/flow`, headers: auth, chunkSize, simultaneousUploads: 4,
      testChunks: false, prioritizeFirstAndLastChunk: true,
    });
    assert.equal(started.version, packageVersion('@flowjs/flow.js'), 'the page runs the installed flow.js');
    await pickFiles(page, files);
    const successes = await rec.waitForFiles(2, UPLOAD_MS);

    const identifiers = files.map((f) => `${f.buffer.length}-${f.name.replace(/[^0-9a-zA-Z_-]/g, '')}`);
    assert.deepEqual(sorted(successes.map((e) => e.file.size)), sorted(files.map((f) => f.buffer.length)));
    assert.equal(rec.requests(1, 'GET').length, 0, 'testChunks: false sends no test requests');
    for (const [i, src] of files.entries()) {
      const posts = rec.requests(1, 'POST', identifiers[i]);
      const count = chunkCount(src.buffer.length, chunkSize);
      assertEachChunkOnce(posts, count, src.name);
      for (const post of posts) {
        assert.equal(post.kind, 'multipart');
        assert.deepEqual(post.queryParams, {}, 'multipart flow.js sends its parameters as fields only');
        assert.equal(post.part?.field, 'file');
        assert.equal(post.part?.size, Number(post.params.flowCurrentChunkSize));
        assert.equal(post.params.flowTotalChunks, String(count));
        assert.equal(post.params.flowChunkSize, String(chunkSize));
        assert.equal(post.params.flowTotalSize, String(src.buffer.length));
        assert.equal(post.headers.Authorization, auth.Authorization);
      }
      const last = posts.find((x) => x.chunk === count)!;
      assert.equal(Number(last.params.flowCurrentChunkSize), src.buffer.length - (count - 1) * chunkSize, 'the last chunk takes the remainder');
      const file = completedFile(posts, 4);
      await assertStored(ferry, auth, file, src);
      assertSuccessMessage(successes.find((e) => e.file.identifier === identifiers[i])!.message, file);
    }

    // Both files had chunks in flight at the same moment, and several chunks went at once.
    const inFlight = new Set<Xhr>();
    let both = false;
    let most = 0;
    for (const { xhr, what } of rec.timeline) {
      if (xhr.method !== 'POST') continue;
      if (what === 'sent') inFlight.add(xhr); else inFlight.delete(xhr);
      most = Math.max(most, inFlight.size);
      const ids = new Set([...inFlight].map((x) => x.params.flowIdentifier));
      both ||= identifiers.every((id) => ids.has(id));
    }
    assert.ok(both, 'chunks of both files were in flight together');
    assert.equal(most, 4, 'simultaneousUploads: 4 chunks in flight at once');
    assert.equal(rec.wirePosts.length, rec.requests(1, 'POST').length, 'every POST the page made reached the wire once');
  });

  /**
   * Session 1 uploads until the library stalls: chunks in `rules.hold` and from `rules.holdFrom` on
   * never leave the page, chunks in `rules.dropAnswer` reach Ferry but their answers never reach the
   * library. The page is reloaded and the same file picked again (same identifier); the library
   * tests every chunk and must POST exactly those Ferry does not hold.
   */
  async function resumeAfterReload(lib: 'flow' | 'resumable', src: Source, chunkSize: number, rules: Required<Rules>, server = ferry, headers = auth): Promise<void> {
    const { page, rec } = await newPage(server);
    const options = { target: `${server.url}/api/v1/flow`, headers, chunkSize, simultaneousUploads: 3, testChunks: true };
    const count = chunkCount(src.buffer.length, chunkSize);
    assert.ok(rules.holdFrom < count);

    await startUploader(page, rec, lib, options, rules);
    await pickFiles(page, [src]);
    const stuck = () => rec.requests(1, 'POST').filter((x) => x.fate === 'held' || (x.fate === 'answer-dropped' && x.status !== undefined));
    const pending = () => rec.xhrs.filter((x) => x.session === 1 && x.fate !== 'held' && x.status === undefined);
    const ended = () => rec.events.length > 0;
    await rec.waitFor(() => ended() || (stuck().length === options.simultaneousUploads && pending().length === 0), UPLOAD_MS, 'the upload to stall part-way');
    assert.deepEqual(rec.events, [], 'no fileSuccess or fileError before the reload');

    const first = rec.requests(1, 'POST');
    const answered = first.filter((x) => x.fate === 'sent');
    const dropped = first.filter((x) => x.fate === 'answer-dropped');
    const expectedStored = range(1, rules.holdFrom - 1).filter((n) => !rules.hold.includes(n));
    assert.deepEqual(chunksOf(first.filter((x) => x.fate === 'held')), sorted([...rules.hold, rules.holdFrom]), 'held: the chosen chunks and the first from holdFrom');
    assert.deepEqual(chunksOf(dropped), [...rules.dropAnswer]);
    assert.deepEqual(sorted([...chunksOf(answered), ...chunksOf(dropped)]), expectedStored, 'before the reload Ferry got these chunks');
    for (const post of [...answered, ...dropped]) {
      assert.equal(post.status, 200, `chunk ${post.chunk}`);
      assert.equal(parse(post.response)?.done, false, `chunk ${post.chunk} did not complete the file`);
    }
    const firstTests = rec.requests(1, 'GET');
    assert.deepEqual(firstTests.filter((x) => x.status !== 204).map((x) => [x.chunk, x.status]), [], 'a new file: every test answers 204');
    assert.deepEqual(chunksOf(firstTests), sorted([...expectedStored, ...rules.hold, rules.holdFrom]), 'every chunk was tested before it was sent');
    assert.equal(rec.wirePosts.length, answered.length + dropped.length, 'held chunks never reached the wire');

    await page.reload();
    await startUploader(page, rec, lib, options);
    await pickFiles(page, [src]);
    const [success] = await rec.waitForFiles(1, UPLOAD_MS);

    const tests = rec.requests(2, 'GET');
    const posts = rec.requests(2, 'POST');
    const missing = range(1, count).filter((n) => !expectedStored.includes(n));
    assert.deepEqual(chunksOf(tests), range(1, count), 'after the reload every chunk is tested once');
    assert.deepEqual(chunksOf(tests.filter((x) => x.status === 200)), expectedStored, 'the test answers 200 for exactly the stored chunks (the dropped answers included)');
    assert.deepEqual(chunksOf(tests.filter((x) => x.status === 204)), missing, 'and 204 for the others');
    const testedStored = tests.filter((x) => x.status === 200).map((x) => x.chunk);
    const resent = posts.filter((x) => testedStored.includes(x.chunk)).map((x) => x.chunk);
    assert.deepEqual(resent, [], 'no chunk answered 200 by the test was POSTed again');
    assert.deepEqual(chunksOf(posts), missing, 'exactly the missing chunks were POSTed, once each');
    assert.deepEqual(posts.filter((x) => x.status !== 200).map((x) => [x.chunk, x.status, x.response]), []);
    assert.equal(rec.wirePosts.filter((p) => p.session === 2).length, missing.length, 'on the wire too');
    for (const x of [...tests, ...posts]) {
      assert.equal(x.params[`${lib}Identifier`], `${src.buffer.length}-${src.name.replace(/[^0-9a-zA-Z_-]/g, '')}`, 'the same identifier after the reload');
    }
    const file = completedFile(posts, 3);
    await assertStored(server, headers, file, src);
    assertSuccessMessage(success!.message, file);
  }

  test('flow.js, testChunks: a page reloaded part-way resumes without re-sending stored chunks', async () => {
    await resumeAfterReload('flow', source('resume-flow.bin', 3 * 1024 * KiB + 12_345), 64 * KiB, { hold: [4], holdFrom: 20, dropAnswer: [7] });
  });

  test('resumable.js, testChunks: a page reloaded part-way resumes without re-sending stored chunks', async () => {
    await resumeAfterReload('resumable', source('resume-resumable.bin', 5 * 512 * KiB + 4_321), 128 * KiB, { hold: [3], holdFrom: 15, dropAnswer: [9] });
  });

  test('flow.js with its default 1 MiB chunks on S3 storage (Ceph RGW), resumed after a reload', async () => {
    const s3 = await cephS3();
    const onS3 = await startTestServer({ ...s3.config(), auth: 'required' });
    try {
      const headers = { ...(await createUser(onS3, 'on-s3')).auth };
      await resumeAfterReload('flow', source('on-s3.bin', 9 * 1024 * KiB + 12_345), 1024 * KiB, { hold: [3], holdFrom: 7, dropAnswer: [5] }, onS3, headers);
      const staged = await s3.leftovers('staging/');
      assert.deepEqual(staged, { uploads: [], objects: [] }, 'no chunk object or multipart upload is left');
    } finally {
      await onS3.stop();
      await s3.dispose();
    }
  });

  test('flow.js, octet mode (raw chunks, parameters in the query), without accounts', async () => {
    const { page, rec } = await newPage(open);
    const chunkSize = 256 * KiB;
    const src = source('octet.png', 2 * 1024 * KiB + 999, 'image/png');
    await startUploader(page, rec, 'flow', { target: `${open.url}/api/v1/flow`, chunkSize, method: 'octet' });
    await pickFiles(page, [src]);
    const [success] = await rec.waitForFiles(1, UPLOAD_MS);

    const count = chunkCount(src.buffer.length, chunkSize);
    const posts = rec.requests(1, 'POST');
    assertEachChunkOnce(posts, count, src.name);
    for (const post of posts) {
      assert.equal(post.kind, 'octet');
      assert.equal(post.bodySize, Number(post.queryParams.flowCurrentChunkSize), 'the raw body is the chunk');
      assert.equal(post.queryParams.flowTotalChunks, String(count));
    }
    assert.deepEqual(rec.requests(1, 'GET').map((x) => x.status), Array(count).fill(204), 'testChunks by default: every chunk tested, none stored');
    assert.deepEqual([...new Set(rec.wirePosts.map((p) => p.contentType))], ['image/png'], "the raw body goes with the file's type");
    const file = completedFile(posts, 3);
    await assertStored(open, {}, file, src);
    assertSuccessMessage(success!.message, file);
  });

  // flow.js sends no type parameter: in octet mode the chunk's Content-Type is the file's type
  // (multipart mode carries it as the part's type).
  test('flow.js, octet mode: the file keeps the media type its chunks were sent with', async () => {
    const { page, rec } = await newPage(ferry);
    const src = source('typed-octet.png', 300 * KiB, 'image/png');
    await startUploader(page, rec, 'flow', { target: `${ferry.url}/api/v1/flow`, headers: auth, chunkSize: 128 * KiB, method: 'octet', testChunks: false });
    await pickFiles(page, [src]);
    await rec.waitForFiles(1, UPLOAD_MS);
    assert.deepEqual([...new Set(rec.wirePosts.map((p) => p.contentType))], ['image/png']);
    const file = completedFile(rec.requests(1, 'POST'), 3);
    await assertStored(ferry, auth, file, src);
    assert.equal(file.type, 'image/png');
  });

  test('flow.js, forceChunkSize: ceil(size / chunkSize) chunks, the last one short', async () => {
    const { page, rec } = await newPage(ferry);
    const chunkSize = 96 * KiB;
    const src = source('forced.txt', 1024 * KiB + 5, 'text/plain');
    await startUploader(page, rec, 'flow', { target: `${ferry.url}/api/v1/flow`, headers: auth, chunkSize, forceChunkSize: true, testChunks: false });
    await pickFiles(page, [src]);
    const [success] = await rec.waitForFiles(1, UPLOAD_MS);

    const count = chunkCount(src.buffer.length, chunkSize, true);
    const posts = rec.requests(1, 'POST');
    assertEachChunkOnce(posts, count, src.name);
    assert.equal(posts.find((x) => x.chunk === count)!.part?.size, src.buffer.length - (count - 1) * chunkSize);
    assert.equal(posts[0]!.part?.type, 'text/plain', "the chunk's part carries the file's type");
    const file = completedFile(posts, 3);
    assert.equal(file.type, 'text/plain');
    await assertStored(ferry, auth, file, src);
    assertSuccessMessage(success!.message, file);
  });

  test('resumable.js, octet mode with forceChunkSize and resumableType', async () => {
    const { page, rec } = await newPage(ferry);
    const chunkSize = 200 * KiB;
    const src = source('resumable-octet.json', 1024 * KiB + 333, 'application/json');
    await startUploader(page, rec, 'resumable', { target: `${ferry.url}/api/v1/flow`, headers: auth, chunkSize, forceChunkSize: true, method: 'octet' });
    await pickFiles(page, [src]);
    const [success] = await rec.waitForFiles(1, UPLOAD_MS);

    const count = chunkCount(src.buffer.length, chunkSize, true);
    const posts = rec.requests(1, 'POST');
    assertEachChunkOnce(posts, count, src.name);
    for (const post of posts) {
      assert.equal(post.kind, 'octet');
      assert.equal(post.queryParams.resumableType, 'application/json');
      assert.equal(post.headers['Content-Type'], 'application/octet-stream');
    }
    const file = completedFile(posts, 3);
    assert.equal(file.type, 'application/json', 'resumableType names the media type');
    await assertStored(ferry, auth, file, src);
    assertSuccessMessage(success!.message, file);
  });
});
