import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Config } from '../config.js';
import { FerryError } from '../core/errors.js';
import type { HttpReply, HttpRequest } from './exchange.js';
import type { Router } from './router.js';

/** The Vite build of web/ (`npm run build`): dist/web beside dist/src. */
const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/**
 * The page runs only its own scripts: no inline code, no eval; WebAssembly may compile (the SHA-256
 * worker's hash-wasm), requests go to this origin only, and nothing may frame the page.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg']);

interface Asset {
  readonly type: string;
  readonly cacheControl: string;
  readonly identity: { readonly body: Buffer; readonly etag: string };
  readonly gzip: { readonly body: Buffer; readonly etag: string } | null;
}

/**
 * Serves the upload page at `/` and its assets at `/assets/*`. Asset names carry a content hash,
 * so they are cached for a year as immutable; index.html is revalidated every time (ETag), so a
 * new build is picked up at once. Everything is read and compressed once, on the first request.
 */
export function registerPage(router: Router, config: Pick<Config, 'auth'>): void {
  let files: Promise<Map<string, Asset>> | undefined;
  const load = () => {
    files ??= loadBuild(config).catch((err: unknown) => {
      files = undefined; // not built yet: look again next time
      throw err;
    });
    return files;
  };
  const serve = (path: (request: HttpRequest) => string) => async (request: HttpRequest, reply: HttpReply) => {
    let assets: Map<string, Asset>;
    try {
      assets = await load();
    } catch {
      throw new FerryError('not_found', 'the upload page is not built: run `npm run build`');
    }
    const asset = assets.get(path(request));
    if (!asset) throw new FerryError('not_found', 'no such resource');
    await sendAsset(request, reply, asset);
  };
  const index = serve(() => 'index.html');
  const asset = serve((request) => `assets/${request.params.name}`);
  for (const method of ['GET', 'HEAD']) {
    router.on(method, '/', index);
    router.on(method, '/assets/:name', asset);
  }
}

async function loadBuild(config: Pick<Config, 'auth'>): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  // Tells the page whether it must offer sign-in (FERRY_AUTH=none needs none) without a request.
  const html = (await readFile(join(WEB_ROOT, 'index.html'), 'utf8'))
    .replace(/(<meta name="ferry-auth" content=")[a-z]*(")/, `$1${config.auth}$2`);
  assets.set('index.html', asset('.html', Buffer.from(html), 'no-cache'));
  for (const name of await readdir(join(WEB_ROOT, 'assets'))) {
    const body = await readFile(join(WEB_ROOT, 'assets', name));
    assets.set(`assets/${name}`, asset(extname(name), body, 'public, max-age=31536000, immutable'));
  }
  return assets;
}

function asset(extension: string, body: Buffer, cacheControl: string): Asset {
  const tag = createHash('sha256').update(body).digest('base64url').slice(0, 22);
  return {
    type: TYPES[extension] ?? 'application/octet-stream',
    cacheControl,
    identity: { body, etag: `"${tag}"` },
    gzip: COMPRESSIBLE.has(extension) ? { body: gzipSync(body, { level: 9 }), etag: `"${tag}-gz"` } : null,
  };
}

async function sendAsset(request: HttpRequest, reply: HttpReply, asset: Asset): Promise<void> {
  const gzip = asset.gzip && acceptsGzip(request.headers['accept-encoding']) ? asset.gzip : null;
  const chosen = gzip ?? asset.identity;
  reply
    .header('Content-Type', asset.type)
    .header('Cache-Control', asset.cacheControl)
    .header('ETag', chosen.etag)
    .header('Content-Security-Policy', PAGE_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY')
    .header('Cross-Origin-Opener-Policy', 'same-origin');
  if (asset.gzip) reply.header('Vary', 'Accept-Encoding');
  if (gzip) reply.header('Content-Encoding', 'gzip');
  if (matches(request.headers['if-none-match'], chosen.etag)) {
    await reply.code(304).send();
    return;
  }
  await reply.send(chosen.body);
}

function acceptsGzip(header: string | undefined): boolean {
  return header !== undefined && header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** If-None-Match (RFC 9110 §13.1.2): a weak comparison against any listed tag, or `*`. */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}
