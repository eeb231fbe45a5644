// Checks what a server stored against the source, hashing as a stream.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { ServerName } from './config.js';

async function hashStream(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    hash.update(chunk);
  }
  return { sha256: hash.digest('hex'), bytes };
}

function download(url: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`GET ${url} answered ${res.statusCode}`));
        } else resolve(res);
      })
      .once('error', reject);
  });
}

/** The upload id is the last path segment of the upload URL. */
export function uploadId(url: string): string {
  const segs = new URL(url).pathname.split('/').filter((s) => s !== '');
  const id = segs.at(-1);
  if (id === undefined) throw new Error(`no upload id in ${url}`);
  return id;
}

/**
 * Returns null if the stored upload matches, or a short reason if not.
 * raw and tus-server store the upload as <dataDir>/<id>; ferry is read back
 * through its download endpoint GET /files/<id>.
 */
export async function checkUpload(
  server: { name: ServerName; dataDir: string; endpoint: string },
  url: string,
  want: { sha256: string; length: number },
): Promise<string | null> {
  const id = uploadId(url);
  const source = server.name === 'ferry' ? await download(server.endpoint + id) : fs.createReadStream(path.join(server.dataDir, id));
  return compare(id, await hashStream(source), want);
}

/** Like checkUpload, for bytes that a GET of `url` answers (Ferry's files API). */
export async function checkDownload(url: string, want: { sha256: string; length: number }): Promise<string | null> {
  return compare(new URL(url).pathname, await hashStream(await download(url)), want);
}

function compare(what: string, got: { sha256: string; bytes: number }, want: { sha256: string; length: number }): string | null {
  if (got.bytes !== want.length) return `${what}: ${got.bytes} bytes stored, ${want.length} sent`;
  if (got.sha256 !== want.sha256) return `${what}: SHA-256 mismatch`;
  return null;
}
