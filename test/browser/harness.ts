/**
 * What the browser tests share: headless Debian Chromium through playwright-core, a small static
 * server on its own port (an origin other than Ferry's, so every request to Ferry is cross-origin
 * and goes through CORS) serving the test page and the published flow.js and resumable.js builds
 * from node_modules, and a recorder of what the libraries sent and got back (reported by the page,
 * see fixtures/page.js) and of the POSTs Chromium put on the wire.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const FIXTURES = fileURLToPath(new URL('../../../test/browser/fixtures/', import.meta.url));
const require = createRequire(import.meta.url);

/** The files the page loads, by URL path. */
function pageFiles(): Record<string, { path: string; type: string }> {
  const flowDir = dirname(require.resolve('@flowjs/flow.js/package.json'));
  const resumableDir = dirname(require.resolve('resumablejs/package.json'));
  return {
    '/': { path: join(FIXTURES, 'page.html'), type: 'text/html; charset=utf-8' },
    '/page.js': { path: join(FIXTURES, 'page.js'), type: 'text/javascript; charset=utf-8' },
    '/lib/flow.js': { path: join(flowDir, 'dist', 'flow.js'), type: 'text/javascript; charset=utf-8' },
    '/lib/resumable.js': { path: join(resumableDir, 'resumable.js'), type: 'text/javascript; charset=utf-8' },
  };
}

/** The installed version of a package, from its package.json. */
export function packageVersion(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

export interface PageServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the page and the libraries on 127.0.0.1, on a free port. */
export async function servePage(): Promise<PageServer> {
  const files = pageFiles();
  const server: Server = createServer((req, res) => {
    const file = req.method === 'GET' ? files[new URL(req.url ?? '/', 'http://page').pathname] : undefined;
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    readFile(file.path).then(
      (body) => res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    }),
  };
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** One XMLHttpRequest a library made, as the page saw it. */
export interface Xhr {
  /** Which page load (uploader start) it belongs to, from 1. */
  readonly session: number;
  readonly method: string;
  readonly url: string;
  readonly kind: 'multipart' | 'octet' | 'none';
  /** flowChunkNumber or resumableChunkNumber. */
  readonly chunk: number;
  /** The query and the form's text fields together. */
  readonly params: Readonly<Record<string, string>>;
  readonly queryParams: Readonly<Record<string, string>>;
  readonly fields: Readonly<Record<string, string>>;
  readonly fieldOrder: readonly string[];
  /** The chunk in a multipart body. */
  readonly part: { readonly field: string; readonly size: number; readonly filename: string; readonly type: string } | null;
  /** The raw body's size and type in octet mode. */
  readonly bodySize: number;
  readonly bodyType: string | null;
  readonly headers: Readonly<Record<string, string>>;
  /** 'held': never left the page; 'answer-dropped': sent by a twin, the library never heard back. */
  readonly fate: 'sent' | 'held' | 'answer-dropped';
  status?: number;
  response?: string;
}

export interface LibraryEvent {
  readonly session: number;
  readonly type: 'fileSuccess' | 'fileError';
  readonly file: { readonly name: string; readonly identifier: string; readonly size: number };
  readonly message: string;
}

/** A POST that left Chromium for Ferry, seen by Playwright on the wire. */
export interface WirePost {
  readonly session: number;
  readonly url: string;
  readonly contentType: string | undefined;
}

type PageEvent =
  | ({ type: 'sent'; id: number } & Omit<Xhr, 'session' | 'status' | 'response'>)
  | { type: 'answered'; id: number; status: number; response: string }
  | Omit<LibraryEvent, 'session'>;

/** Everything a page reported, across reloads, and waits on it that end as soon as they can. */
export class Recorder {
  readonly xhrs: Xhr[] = [];
  readonly events: LibraryEvent[] = [];
  readonly wirePosts: WirePost[] = [];
  /** In page order: which request was sent or answered, to tell what was in flight together. */
  readonly timeline: { readonly xhr: Xhr; readonly what: 'sent' | 'answered' }[] = [];
  session = 0;
  private byId = new Map<number, Xhr>();
  private waiters: (() => void)[] = [];

  constructor(private readonly ferryUrl: string) {}

  /** Binds the page: reports survive reloads (the binding is re-installed on every load). */
  async attach(page: Page): Promise<void> {
    await page.exposeFunction('ferryReport', (event: PageEvent) => this.onEvent(event));
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().startsWith(this.ferryUrl)) {
        this.wirePosts.push({ session: this.session, url: request.url(), contentType: request.headers()['content-type'] });
      }
    });
  }

  /** Starts a new session: request ids restart on every page load. */
  nextSession(): number {
    this.session += 1;
    this.byId = new Map();
    return this.session;
  }

  private onEvent(event: PageEvent): void {
    if (event.type === 'sent') {
      const { type: _type, id, ...rest } = event;
      const xhr: Xhr = { ...rest, session: this.session };
      this.byId.set(id, xhr);
      this.xhrs.push(xhr);
      this.timeline.push({ xhr, what: 'sent' });
    } else if (event.type === 'answered') {
      const xhr = this.byId.get(event.id);
      if (xhr) {
        xhr.status = event.status;
        xhr.response = event.response;
        this.timeline.push({ xhr, what: 'answered' });
      }
    } else {
      this.events.push({ ...event, session: this.session });
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once `ready()` holds (checked after every report), or rejects after `ms`. */
  async waitFor(ready: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${this.summary()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Waits until the library reported `count` files done (successes) in this session, failing on a fileError. */
  async waitForFiles(count: number, ms: number): Promise<LibraryEvent[]> {
    const mine = () => this.events.filter((e) => e.session === this.session);
    // And nothing sent is still waiting for its answer, so the record is complete.
    const unanswered = () => this.xhrs.some((x) => x.session === this.session && x.fate !== 'held' && x.status === undefined);
    await this.waitFor(
      () => mine().some((e) => e.type === 'fileError') || (mine().filter((e) => e.type === 'fileSuccess').length >= count && !unanswered()),
      ms, `${count} fileSuccess`,
    );
    const errors = mine().filter((e) => e.type === 'fileError');
    if (errors.length > 0) throw new Error(`the library reported fileError: ${JSON.stringify(errors)}\n${this.summary()}`);
    return mine().filter((e) => e.type === 'fileSuccess');
  }

  /** The requests of a session with a method (and optionally for one file identifier). */
  requests(session: number, method: string, identifier?: string): Xhr[] {
    return this.xhrs.filter((x) => x.session === session && x.method === method
      && (identifier === undefined || (x.params.flowIdentifier ?? x.params.resumableIdentifier) === identifier));
  }

  /** A compact log of the requests, for failure messages. */
  summary(): string {
    return this.xhrs.map((x) => `#${x.session} ${x.method} ${x.kind} chunk ${x.chunk} ${x.fate} -> ${x.status ?? '(no answer)'}`).join('\n');
  }
}

/** A fresh page of the test page, bound to `recorder`. */
export async function openPage(browser: Browser, pageUrl: string, recorder: Recorder): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await recorder.attach(page);
  await page.goto(pageUrl);
  return page;
}

export interface StartResult {
  readonly lib: string;
  readonly version: string;
}

export interface Rules {
  readonly hold?: readonly number[];
  readonly holdFrom?: number;
  readonly dropAnswer?: readonly number[];
}

/** Starts an uploader on the page (a new session); files given to #pick then upload at once. */
export async function startUploader(page: Page, recorder: Recorder, lib: 'flow' | 'resumable', options: Record<string, unknown>, rules: Rules = {}): Promise<StartResult> {
  recorder.nextSession();
  return page.evaluate(([l, o, r]) => (window as unknown as { ferryStart(lib: string, options: unknown, rules: unknown): StartResult }).ferryStart(l, o, r), [lib, options, rules] as const);
}

export interface SourceBlob {
  readonly name: string;
  readonly mimeType: string;
  readonly buffer: Buffer;
}

/** Picks files on #pick, as a user would (the change event reaches the library's assignBrowse). */
export async function pickFiles(page: Page, files: readonly SourceBlob[]): Promise<void> {
  await page.setInputFiles('#pick', files.map((f) => ({ name: f.name, mimeType: f.mimeType, buffer: f.buffer })));
}
