import { createReadStream } from 'node:fs';
import { access, mkdir, open, rm, stat, constants, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FerryError } from '../core/errors.js';
import type { ByteRange, FullBlobStore, WriteOptions, WriteResult } from './types.js';

/** Blob ids become file names, so only a fixed, path-free alphabet is ever accepted. */
const SAFE_ID = /^[0-9a-zA-Z_-]{16,128}$/;

/**
 * Blobs as plain files under `root`, each byte written straight to its final position: completing
 * an upload copies and merges nothing.
 */
export class LocalBlobStore implements FullBlobStore {
  constructor(private readonly root: string) {}

  private pathOf(id: string): string {
    if (!SAFE_ID.test(id)) throw new FerryError('invalid_request', 'invalid blob id');
    return join(this.root, id.slice(0, 2), id);
  }

  async create(id: string): Promise<void> {
    const path = this.pathOf(id);
    await mkdir(join(this.root, id.slice(0, 2)), { recursive: true });
    const handle = await open(path, 'wx').catch(mapFsError);
    await handle.close();
  }

  async write(id: string, offset: number, source: AsyncIterable<Buffer>, options: WriteOptions = {}): Promise<WriteResult> {
    const handle = await open(this.pathOf(id), 'r+').catch(mapFsError);
    try {
      const { size } = await handle.stat();
      if (size > offset) await handle.truncate(offset);
      return await writeStream(handle, offset, source, options);
    } catch (err) {
      throw mapFsError(err);
    } finally {
      await handle.close();
    }
  }

  async length(id: string): Promise<number> {
    try {
      return (await stat(this.pathOf(id))).size;
    } catch (err) {
      throw mapFsError(err);
    }
  }

  async truncate(id: string, length: number): Promise<void> {
    const handle = await open(this.pathOf(id), 'r+').catch(mapFsError);
    try {
      await handle.truncate(length);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await access(this.root, constants.W_OK);
  }

  read(id: string, range?: ByteRange): Readable {
    const path = this.pathOf(id);
    return createReadStream(path, { start: range?.start, end: range?.end, highWaterMark: 256 * 1024 });
  }

  async remove(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true });
  }

  async concat(target: string, parts: readonly string[], onData: (chunk: Buffer) => void): Promise<number> {
    const handle = await open(this.pathOf(target), 'w').catch(mapFsError);
    let position = 0;
    try {
      for (const part of parts) {
        for await (const chunk of this.read(part) as AsyncIterable<Buffer>) {
          onData(chunk);
          await writeFully(handle, chunk, position);
          position += chunk.length;
        }
      }
      await handle.datasync();
      return position;
    } catch (err) {
      throw mapFsError(err);
    } finally {
      await handle.close();
    }
  }

  async declareLength(): Promise<void> {
    // A file grows as bytes arrive; unlike a multipart object store it plans nothing by length.
  }
}

/** Chunks received while a write is in flight go out together, up to this many bytes. */
const MAX_BATCH_BYTES = 64 * 1024;

/**
 * Streams the source into the file. Chunks that arrive while the disk is busy are gathered and
 * written with one writev, which costs far less CPU than a write per network chunk; memory stays
 * bounded at two batches per upload.
 */
async function writeStream(handle: FileHandle, offset: number, source: AsyncIterable<Buffer>, options: WriteOptions): Promise<WriteResult> {
  const { signal, checkpointEvery, onDurable } = options;
  const iterator = source[Symbol.asyncIterator]();
  let pulled = 0;
  let flushed = 0;
  let aborted = false;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let writing: Promise<void> | null = null;
  let writeError: unknown = null;
  let syncedAt = 0;
  let checkpoint: Promise<void> | null = null;

  const startWrite = () => {
    const buffers = batch;
    const bytes = batchBytes;
    batch = [];
    batchBytes = 0;
    writing = writevFully(handle, buffers, offset + pulled - bytes).then(
      () => {
        flushed += bytes;
        writing = null;
        if (checkpointEvery && onDurable && checkpoint === null && flushed - syncedAt >= checkpointEvery) {
          const mark = flushed;
          checkpoint = handle.datasync().then(() => { syncedAt = mark; checkpoint = null; onDurable(offset + mark); });
        }
        // Whatever arrived meanwhile goes out now, not when (or if) the next chunk comes.
        if (batchBytes > 0) startWrite();
      },
      (err: unknown) => { writeError = err; writing = null; },
    );
  };

  for (;;) {
    if (signal?.aborted) { aborted = true; break; }
    let step: IteratorResult<Buffer>;
    try {
      step = await iterator.next();
    } catch {
      // The client went away mid-body: keep what arrived, as the protocols ask.
      aborted = true;
      break;
    }
    if (step.done) break;
    batch.push(step.value);
    batchBytes += step.value.length;
    pulled += step.value.length;
    while (writing !== null && batchBytes >= MAX_BATCH_BYTES) await writing;
    if (writeError) break;
    if (writing === null) startWrite();
  }
  if (aborted) await iterator.return?.().catch(() => undefined);
  while (writing !== null) await writing;
  if (writeError) throw writeError;
  if (checkpoint) await checkpoint;
  await handle.datasync();
  return { written: pulled, aborted };
}

async function writevFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, at);
    at += bytesWritten;
    pending = dropWritten(pending, bytesWritten);
  }
}

function dropWritten(buffers: Buffer[], bytes: number): Buffer[] {
  let skip = bytes;
  let index = 0;
  while (index < buffers.length && skip >= buffers[index]!.length) {
    skip -= buffers[index]!.length;
    index += 1;
  }
  const rest = buffers.slice(index);
  if (skip > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(skip);
  return rest;
}

async function writeFully(handle: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

function mapFsError(err: unknown): never {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') throw new FerryError('storage_full', 'storage is full', { cause: err });
  if (code === 'ENOENT') throw new FerryError('upload_not_found', 'blob not found', { cause: err });
  throw err;
}
