// Baseline: the least tus that tus-js-client needs, on plain node:http.
// PATCH bodies go straight from the request into the file (req.pipe(file)),
// with no hashing, no locking and upload state kept in memory only.
// For the native case it also takes `PUT /files/<id>` with a `Chunk-Offset`
// header: the body is written at that offset, in any order and in parallel.
// With BENCH_FLUSH set it fdatasyncs each request's bytes before answering, as
// a server must that acknowledges only durable bytes (Ferry does): the floor
// that durability alone sets on this machine's disk.
// Env: BENCH_PORT, BENCH_DATA_DIR, BENCH_FLUSH.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';

const port = Number(process.env.BENCH_PORT);
const dataDir = process.env.BENCH_DATA_DIR ?? '';
const flushes = Boolean(process.env.BENCH_FLUSH);
if (!Number.isInteger(port) || port <= 0 || dataDir === '') {
  throw new Error('raw-server needs BENCH_PORT and BENCH_DATA_DIR');
}

interface Upload {
  length: number;
  offset: number;
}
const uploads = new Map<string, Upload>();
const PREFIX = '/files/';
const TUS = { 'Tus-Resumable': '1.0.0' };

function reply(res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...TUS, ...headers });
  res.end();
}

async function create(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const length = Number(req.headers['upload-length']);
  if (!Number.isSafeInteger(length) || length < 0) return reply(res, 400);
  const id = randomUUID().replaceAll('-', '');
  await fs.promises.writeFile(path.join(dataDir, id), '');
  uploads.set(id, { length, offset: 0 });
  reply(res, 201, { Location: `http://${req.headers.host}${PREFIX}${id}` });
}

async function patch(req: http.IncomingMessage, res: http.ServerResponse, id: string, up: Upload): Promise<void> {
  if (Number(req.headers['upload-offset']) !== up.offset) return reply(res, 409);
  const file = fs.createWriteStream(path.join(dataDir, id), { flags: 'r+', start: up.offset });
  try {
    await pipeline(req, file);
    await flush(id);
  } finally {
    up.offset += file.bytesWritten;
  }
  reply(res, 204, { 'Upload-Offset': String(up.offset) });
}

/** Baseline of the native case: a positioned write, nothing checked but the bounds. */
async function put(req: http.IncomingMessage, res: http.ServerResponse, id: string, up: Upload): Promise<void> {
  const start = Number(req.headers['chunk-offset']);
  const length = Number(req.headers['content-length']);
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || start + length > up.length) return reply(res, 400);
  await pipeline(req, fs.createWriteStream(path.join(dataDir, id), { flags: 'r+', start }));
  await flush(id);
  reply(res, 204);
}

/** fdatasync flushes the file's dirty pages whichever descriptor wrote them. */
async function flush(id: string): Promise<void> {
  if (!flushes) return;
  const file = await fs.promises.open(path.join(dataDir, id), 'r');
  try {
    await file.datasync();
  } finally {
    await file.close();
  }
}

async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  if (url === '/healthz') return reply(res, 200);
  if (url === PREFIX || url === '/files') {
    if (req.method === 'OPTIONS') return reply(res, 204, { 'Tus-Version': '1.0.0', 'Tus-Extension': 'creation' });
    if (req.method === 'POST') return create(req, res);
    return reply(res, 405);
  }
  if (!url.startsWith(PREFIX)) return reply(res, 404);
  const id = url.slice(PREFIX.length);
  const up = uploads.get(id);
  if (up === undefined) return reply(res, 404);
  if (req.method === 'HEAD') {
    return reply(res, 200, { 'Upload-Offset': String(up.offset), 'Upload-Length': String(up.length), 'Cache-Control': 'no-store' });
  }
  if (req.method === 'PATCH') return patch(req, res, id, up);
  if (req.method === 'PUT') return put(req, res, id, up);
  return reply(res, 405);
}

http
  .createServer((req, res) => {
    route(req, res).catch(() => {
      if (!res.headersSent) reply(res, 500);
      else res.destroy();
    });
  })
  .listen(port, '127.0.0.1');
