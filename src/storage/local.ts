import { createReadStream, writev } from 'node:fs';
import { access, mkdir, open, rm, stat, constants, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FerryError } from '../core/errors.js';
import type { BlobWriter, ByteRange, FullBlobStore } from './types.js';

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
    await mkdir(join(this.root, id.slice(0, 2)), { recursive: true }).catch(mapFsError);
    const handle = await open(path, 'wx').catch(mapFsError);
    await handle.close();
  }

  async openWriter(id: string, offset: number): Promise<BlobWriter> {
    const handle = await open(this.pathOf(id), 'r+').catch(mapFsError);
    try {
      if ((await handle.stat()).size > offset) await handle.truncate(offset);
    } catch (err) {
      await handle.close();
      mapFsError(err);
    }
    return writerAt(handle, offset);
  }

  async openWriterAt(id: string, offset: number): Promise<BlobWriter> {
    return writerAt(await open(this.pathOf(id), 'r+').catch(mapFsError), offset);
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
    } catch (err) {
      mapFsError(err);
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
          await writevFully(handle.fd, [chunk], position);
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

function writerAt(handle: FileHandle, offset: number): BlobWriter {
  let position = offset;
  return {
    write: async (chunks) => {
      const bytes = await writevFully(handle.fd, chunks, position).catch(mapFsError);
      position += bytes;
    },
    sync: () => handle.datasync().catch(mapFsError),
    close: () => handle.close(),
  };
}

/** Writes every byte of the chunks at `position`, however many calls that takes; returns the count. */
async function writevFully(fd: number, chunks: readonly Buffer[], position: number): Promise<number> {
  let pending = chunks;
  let at = position;
  while (pending.length > 0) {
    const written = await new Promise<number>((resolve, reject) => {
      writev(fd, pending as Buffer[], at, (err, bytes) => (err ? reject(err) : resolve(bytes)));
    });
    at += written;
    pending = dropWritten(pending, written);
  }
  return at - position;
}

function dropWritten(buffers: readonly Buffer[], bytes: number): readonly Buffer[] {
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

function mapFsError(err: unknown): never {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') throw new FerryError('storage_full', 'storage is full', { cause: err });
  if (code === 'ENOENT') throw new FerryError('upload_not_found', 'blob not found', { cause: err });
  throw err;
}
