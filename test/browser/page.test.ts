/**
 * The upload page at `/` (web/, built into dist/web by `npm run build`) in headless Debian
 * Chromium, served by Ferry itself: sign up, two files whose connection is cut part-way, a reload
 * that resumes them without sending stored chunks again, an instant upload, rename and delete in
 * the library, the page's headers (CSP, caching), a page with no console errors or CSP
 * violations, Simplified Chinese for a zh-CN browser, and FERRY_AUTH=none without sign-in.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page, Route } from 'playwright-core';
import { downloadSha256, makeTempDir, MiB, removeDir, sha256OfFile } from '../helpers/e2e.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CHROMIUM, launchChromium, type SourceBlob } from './harness.js';

const KiB = 1024;
/** The native API's smallest chunk when the client names none (see ChunkedUploads.chunking). */
const CHUNK = MiB;
const UPLOAD_MS = 60_000;
const OUTPUT = fileURLToPath(new URL('../../../test-output/', import.meta.url));

interface Source extends SourceBlob {
  readonly sha256: string;
}

/** A source written to a file: picking a path gives the File its modification time, the same each time, as a person picking it again would. */
interface OnDisk extends Source {
  readonly path: string;
}

async function onDisk(dir: string, name: string, size: number): Promise<OnDisk> {
  const src = source(name, size);
  const path = join(dir, name);
  await writeFile(path, src.buffer);
  return { ...src, path };
}

function source(name: string, size: number): Source {
  const buffer = randomBytes(size);
  return { name, mimeType: 'application/octet-stream', buffer, sha256: createHash('sha256').update(buffer).digest('hex') };
}

interface FileJson {
  readonly id: string;
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
}

/** Console errors and uncaught exceptions of a page, across reloads. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  return problems;
}

/** A chunk PUT of the native API: its upload id and index. */
function chunkOf(url: string): { upload: string; index: number } | null {
  const match = /\/api\/v1\/uploads\/([^/]+)\/chunks\/(\d+)$/.exec(new URL(url).pathname);
  return match ? { upload: match[1]!, index: Number(match[2]) } : null;
}

async function uploadState(page: Page, name: string): Promise<string | undefined> {
  return (await page.locator('#uploads li', { has: page.locator(`.row-name[title="${name}"]`) }).getAttribute('data-state')) ?? undefined;
}

async function waitForState(page: Page, name: string, state: string): Promise<void> {
  const row = page.locator(`#uploads li[data-state="${state}"]`, { has: page.locator(`.row-name[title="${name}"]`) });
  await row.first().waitFor({ timeout: UPLOAD_MS }).catch(async (err: Error) => {
    throw new Error(`${name} did not reach ${state} (it is ${await uploadState(page, name)}): ${err.message}`);
  });
}

describe('the upload page in headless Chromium', () => {
  let ferry: TestServer;
  let open: TestServer;
  let browser: Browser;
  let dir: string;

  before(async () => {
    dir = await makeTempDir('ferry-page-');
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    [ferry, open, browser] = await Promise.all([
      startTestServer({ auth: 'required', defaultChunkSize: CHUNK }),
      startTestServer({ auth: 'none', defaultChunkSize: CHUNK }),
      launchChromium(),
    ]);
    await mkdir(OUTPUT, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await Promise.allSettled([ferry?.stop(), open?.stop(), removeDir(dir)]);
  });

  async function newPage(locale = 'en-US'): Promise<Page> {
    const context = await browser.newContext({ locale, viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  test('serves the built page with a strict CSP and caching headers', async () => {
    const page = await fetch(`${ferry.url}/`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const csp = page.headers.get('content-security-policy')!;
    for (const directive of ["default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "worker-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]) {
      assert.ok(csp.split('; ').includes(directive), `the CSP has ${directive}: ${csp}`);
    }
    assert.ok(!csp.includes('unsafe-inline'), 'no inline scripts or styles');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.match(html, /<meta name="ferry-auth" content="required">/, 'the page is told the server requires sign-in');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');

    const etag = page.headers.get('etag')!;
    assert.equal((await fetch(`${ferry.url}/`, { headers: { 'if-none-match': etag, 'accept-encoding': 'gzip' } })).status, 304);
    assert.match((await (await fetch(`${open.url}/`)).text()), /<meta name="ferry-auth" content="none">/);

    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${ferry.url}${script}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(asset.headers.get('content-type')!, /^text\/javascript/);
    assert.ok(asset.headers.get('etag'));
    await asset.arrayBuffer();
    const missing = await fetch(`${ferry.url}/assets/nothing-here.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');
  });

  test('sign up, two files through a cut connection and a reload, resumed; instant upload; rename and delete', async () => {
    const page = await newPage();
    const problems = watchProblems(page);
    const response = await page.goto(`${ferry.url}/`);
    assert.ok(response?.headers()['content-security-policy'], 'the page carries a CSP');

    // Sign up.
    await page.getByRole('heading', { name: 'Sign in to Ferry' }).waitFor();
    await page.screenshot({ path: `${OUTPUT}page-sign-in.png` });
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByLabel('Username').fill('page-user');
    await page.getByLabel('Password').fill('a long enough password');
    await page.locator('#auth-submit').click();
    await page.getByRole('heading', { name: 'Upload files' }).waitFor();
    await page.getByText('Signed in as page-user').waitFor();
    const token = await page.evaluate(() => localStorage.getItem('ferry.token'));
    assert.ok(token, 'the session token is kept for the next visit');
    const auth = { Authorization: `Bearer ${token}` };

    // Two files; the connection is cut after two chunks of each reach the server.
    const files = [await onDisk(dir, 'alpha.bin', 6 * MiB + 1_000), await onDisk(dir, 'beta.bin', 5 * MiB + 77_777)];
    const chunkCount = (src: OnDisk) => Math.ceil(src.buffer.length / CHUNK);
    const ALLOWED = 2;
    const passed = new Map<string, number>();
    const held: Route[] = [];
    let cut = false;
    const storedBefore = new Map<string, Set<number>>();
    let enoughStored!: () => void;
    const stored = new Promise<void>((resolve) => { enoughStored = resolve; });
    page.on('response', (answer) => {
      const chunk = chunkOf(answer.url());
      if (cut || !chunk || answer.request().method() !== 'PUT' || answer.status() !== 200) return;
      const set = storedBefore.get(chunk.upload) ?? new Set<number>();
      storedBefore.set(chunk.upload, set.add(chunk.index));
      if (storedBefore.size === 2 && [...storedBefore.values()].every((s) => s.size >= ALLOWED)) enoughStored();
    });
    await page.route('**/api/v1/uploads/*/chunks/*', async (route) => {
      const chunk = chunkOf(route.request().url())!;
      const count = passed.get(chunk.upload) ?? 0;
      if (cut) return route.abort('connectionreset');
      if (count >= ALLOWED) return void held.push(route);
      passed.set(chunk.upload, count + 1);
      return route.continue();
    });
    await page.setInputFiles('#pick-files', files.map((f) => f.path));
    await stored;
    // Every upload is stalled on held chunks now: the rows show partial progress.
    await page.waitForFunction(() => [...document.querySelectorAll('#uploads .bar')].every((bar) => Number(bar.getAttribute('aria-valuenow')) > 0));
    await page.screenshot({ path: `${OUTPUT}page-mid-upload.png`, fullPage: true });
    assert.equal(await page.locator('#uploads li').count(), 2, 'one row per file');

    // Cut: the held chunks and every later attempt fail as a reset connection would.
    cut = true;
    for (const route of held.splice(0)) await route.abort('connectionreset');
    for (const src of files) await waitForState(page, src.name, 'failed');
    const message = await page.locator('#uploads li[data-state="failed"] .row-status').first().textContent();
    assert.match(message!, /Cannot reach the server/, 'the failure is said in words');
    await page.screenshot({ path: `${OUTPUT}page-connection-lost.png` });
    const uploadIds = [...storedBefore.keys()];
    assert.equal(uploadIds.length, 2);

    // Reload (the connection is back only after it, so no retry of the old page sends anything):
    // the page lists both unfinished uploads; picking the files again resumes them.
    await page.reload();
    await page.unroute('**/api/v1/uploads/*/chunks/*');
    await page.getByRole('heading', { name: 'Unfinished uploads' }).waitFor();
    assert.deepEqual((await page.locator('#unfinished-list li').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.name))).sort(), ['alpha.bin', 'beta.bin']);
    const sentAfter: { upload: string; index: number }[] = [];
    page.on('request', (request) => {
      const chunk = chunkOf(request.url());
      if (chunk && request.method() === 'PUT') sentAfter.push(chunk);
    });
    await page.setInputFiles('#pick-files', files.map((f) => f.path));
    for (const src of files) await waitForState(page, src.name, 'done');
    assert.ok(await page.locator('#unfinished').isHidden(), 'nothing is left unfinished');

    for (const id of uploadIds) {
      const again = sentAfter.filter((c) => c.upload === id).map((c) => c.index);
      assert.ok(again.length > 0, `upload ${id} continued after the reload`);
      const resent = again.filter((index) => storedBefore.get(id)!.has(index));
      assert.deepEqual(resent, [], `chunks stored before the cut are not sent again (upload ${id})`);
    }
    assert.deepEqual(new Set(sentAfter.map((c) => c.upload)), new Set(uploadIds), 'the reload continued the same two uploads, no new ones');
    assert.equal(sentAfter.length + [...storedBefore.values()].reduce((sum, s) => sum + s.size, 0), files.reduce((sum, f) => sum + chunkCount(f), 0),
      'every chunk was stored exactly once over both page loads');

    // On the server: the files, their SHA-256 and their bytes are the sources'.
    const list = async () => ((await (await fetch(`${ferry.url}/api/v1/files?sort=name`, { headers: auth })).json()) as { files: FileJson[] }).files;
    const stored1 = await list();
    for (const src of files) {
      const file = stored1.find((f) => f.name === src.name);
      assert.ok(file, `${src.name} is in the library`);
      assert.equal(file.size, src.buffer.length);
      assert.equal(file.sha256, src.sha256, `${src.name}: the server's SHA-256 is the source's`);
      const download = await downloadSha256(`${ferry.url}/api/v1/files/${file.id}/content`, { headers: auth });
      assert.equal(download.sha256, src.sha256, `${src.name}: the stored bytes are the source's`);
    }
    await page.locator('#library-body tr').nth(1).waitFor();

    // The same file again completes at once: "instant", and no chunk is sent.
    const putsBefore = sentAfter.length;
    await page.getByRole('button', { name: 'Clear finished' }).click();
    await page.setInputFiles('#pick-files', [files[0]!.path]);
    await waitForState(page, files[0]!.name, 'instant');
    assert.equal(sentAfter.length, putsBefore, 'an instant upload sends no chunk');
    const instantRow = page.locator('#uploads li[data-state="instant"]');
    assert.match((await instantRow.textContent())!, /Instant/);
    await page.locator('#library-body tr').nth(2).waitFor();
    await page.screenshot({ path: `${OUTPUT}page-instant.png`, fullPage: true });

    // Download alpha.bin from the library list: a signed link the browser saves to disk itself.
    const alpha = stored1.find((f) => f.name === 'alpha.bin')!;
    const [saved] = await Promise.all([page.waitForEvent('download'), page.locator(`#library-body tr[data-id="${alpha.id}"]`).getByRole('button', { name: 'Download: alpha.bin' }).click()]);
    assert.equal(saved.suggestedFilename(), 'alpha.bin');
    assert.match(saved.url(), new RegExp(`/api/v1/files/${alpha.id}/content\\?link=`), 'a link, not a blob of the whole file');
    assert.equal((await sha256OfFile((await saved.path())!)).sha256, files.find((f) => f.name === 'alpha.bin')!.sha256);

    // Rename beta.bin into a folder, from the library list.
    const beta = stored1.find((f) => f.name === 'beta.bin')!;
    await page.getByRole('button', { name: 'Rename: beta.bin' }).click();
    const input = page.getByLabel('New name for beta.bin');
    await input.fill('reports/beta-final.bin');
    await input.press('Enter');
    await page.locator(`#library-body tr[data-id="${beta.id}"] .file-name[title="reports/beta-final.bin"]`).waitFor();
    assert.equal((await list()).find((f) => f.id === beta.id)?.name, 'reports/beta-final.bin', 'renamed on the server');

    // Delete it.
    await page.getByRole('button', { name: 'Delete: reports/beta-final.bin' }).click();
    await page.getByText('Delete “reports/beta-final.bin”?').waitFor();
    await page.locator(`#library-body tr[data-id="${beta.id}"] [data-action="confirm-delete"]`).click();
    await page.locator(`#library-body tr[data-id="${beta.id}"]`).waitFor({ state: 'detached' });
    const remaining = await list();
    assert.equal(remaining.find((f) => f.id === beta.id), undefined, 'deleted on the server');
    assert.deepEqual(remaining.map((f) => f.name), ['alpha.bin', 'alpha.bin'], 'the instant upload is a second file of the same content');

    // The only console errors are the connection resets the test caused.
    const unexpected = problems.filter((text) => !/^Failed to load resource: net::ERR_CONNECTION_RESET/.test(text));
    assert.deepEqual(unexpected, [], 'no console errors, CSP violations or uncaught exceptions');
    await page.context().close();
  });

  test('a zh-CN browser gets the page in Simplified Chinese, with a switch to English', async () => {
    const page = await newPage('zh-CN');
    const problems = watchProblems(page);
    await page.goto(`${ferry.url}/`);
    await page.getByRole('heading', { name: '登录 Ferry' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.equal(await page.locator('#auth-submit').textContent(), '登录');
    await page.screenshot({ path: `${OUTPUT}page-zh-CN.png` });
    await page.getByLabel('语言').selectOption('en');
    await page.getByRole('heading', { name: 'Sign in to Ferry' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    // The choice is remembered over the browser's language.
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to Ferry' }).waitFor();
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  test('pause, resume and cancel from the keyboard', async () => {
    const page = await newPage();
    const problems = watchProblems(page);
    await page.goto(`${open.url}/`);
    await page.getByRole('heading', { name: 'Upload files' }).waitFor();
    // Chunks wait here until released, so the upload is caught while it sends.
    let hold = true;
    const held: Route[] = [];
    const uploadIds = new Set<string>();
    let chunkHeld!: () => void;
    let someHeld = new Promise<void>((resolve) => { chunkHeld = resolve; });
    await page.route('**/api/v1/uploads/*/chunks/*', async (route) => {
      uploadIds.add(chunkOf(route.request().url())!.upload);
      if (!hold) return route.continue();
      held.push(route);
      chunkHeld();
    });
    const release = async () => {
      hold = false;
      // Chunks the pause aborted in the page are gone: continuing them fails, and the task sends them again.
      for (const route of held.splice(0)) await route.continue().catch(() => undefined);
    };

    await page.setInputFiles('#pick-files', [{ name: 'paused.bin', mimeType: 'application/octet-stream', buffer: randomBytes(3 * MiB + 5) }]);
    await someHeld;
    await page.getByRole('button', { name: 'Pause: paused.bin' }).focus();
    await page.keyboard.press('Enter');
    await waitForState(page, 'paused.bin', 'paused');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.action), 'resume', 'the keyboard stays on the row: Pause became Resume');
    await release();
    await page.keyboard.press('Enter');
    await waitForState(page, 'paused.bin', 'done');

    hold = true;
    someHeld = new Promise<void>((resolve) => { chunkHeld = resolve; });
    const before = new Set(uploadIds);
    await page.setInputFiles('#pick-files', [{ name: 'cancelled.bin', mimeType: 'application/octet-stream', buffer: randomBytes(2 * MiB) }]);
    await someHeld;
    const cancelled = [...uploadIds].find((id) => !before.has(id))!;
    await page.getByRole('button', { name: 'Cancel: cancelled.bin' }).click();
    await page.locator('#uploads .row-name[title="cancelled.bin"]').waitFor({ state: 'detached' });
    await release();
    assert.equal((await fetch(`${open.url}/api/v1/uploads/${cancelled}`)).status, 410, 'the cancelled upload is gone on the server');
    const names = ((await (await fetch(`${open.url}/api/v1/files`)).json()) as { files: FileJson[] }).files.map((f) => f.name);
    assert.ok(names.includes('paused.bin') && !names.includes('cancelled.bin'), `only the paused and resumed file is in the library: ${names}`);
    assert.deepEqual(problems.filter((text) => !/^Failed to load resource/.test(text)), []);
    await page.context().close();
  });

  test('with FERRY_AUTH=none the page needs no sign-in; files dropped on it and a picked folder upload at once', async () => {
    const page = await newPage();
    const problems = watchProblems(page);
    await page.goto(`${open.url}/`);
    await page.getByRole('heading', { name: 'Upload files' }).waitFor();
    assert.ok(await page.locator('#signout').isHidden(), 'nothing to sign out of');
    const sources = [source('open.txt', 700 * KiB), source('empty.txt', 0)];
    // A drop as the browser delivers it: dragenter and dragover, then drop with the files.
    const transfer = await page.evaluateHandle((files) => {
      const data = new DataTransfer();
      for (const file of files) data.items.add(new File([Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0))], file.name, { type: 'text/plain' }));
      return data;
    }, sources.map((src) => ({ name: src.name, base64: src.buffer.toString('base64') })));
    await page.dispatchEvent('#drop', 'dragenter', { dataTransfer: transfer });
    await page.dispatchEvent('#drop', 'dragover', { dataTransfer: transfer });
    assert.ok(await page.locator('#drop.active').isVisible(), 'the drop zone lights up while files are dragged over');
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
    for (const src of sources) await waitForState(page, src.name, 'done');
    const files = ((await (await fetch(`${open.url}/api/v1/files`)).json()) as { files: FileJson[] }).files;
    for (const src of sources) assert.equal(files.find((f) => f.name === src.name)?.sha256, src.sha256, `${src.name} is stored intact`);
    await page.locator('#library-body tr').nth(1).waitFor();

    // A picked folder: each file is named by its path inside it, which makes library folders.
    const album = join(dir, 'album');
    await mkdir(join(album, 'sub'), { recursive: true });
    await writeFile(join(album, 'a.txt'), 'first');
    await writeFile(join(album, 'sub', 'b.txt'), 'second');
    await page.setInputFiles('#pick-folder', album);
    for (const name of ['album/a.txt', 'album/sub/b.txt']) await waitForState(page, name, 'done');
    const named = ((await (await fetch(`${open.url}/api/v1/files?folder=album/`)).json()) as { files: FileJson[] }).files.map((f) => f.name).sort();
    assert.deepEqual(named, ['album/a.txt', 'album/sub/b.txt']);
    assert.deepEqual(problems, []);
    await page.context().close();
  });
});
