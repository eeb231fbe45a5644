import { createReadStream } from 'node:fs';
import { access, mkdir, open, rm, stat, constants, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FerryError } from '../core/errors.js';
import { DIRECT_WRITERS_MAX, directWritesWork, DirectWriter, openDirect } from './direct-io.js';
import { writevFully } from './file-io.js';
import type { BlobWriter, ByteRange, FullBlobStore } from './types.js';

/** Blob ids become file names, so only a fixed, path-free alphabet is ever accepted. */
const SAFE_ID = /^[0-9a-zA-Z_-]{16,128}$/;

/**
 * Blobs as plain files under `root`, each byte written straight to its final position: completing
 * an upload copies and merges nothing.
 */
export class LocalBlobStore implements FullBlobStore {
  private directWrites: Promise<boolean> | null = null;
  private openWriters = 0;

  /** `directIo`: write whole blocks straight to the disk where the filesystem allows it (direct-io.ts). */
  constructor(private readonly root: string, private readonly options: { readonly directIo?: boolean } = {}) {}

  /** Whether writers bypass the page cache; decided once, when the first writer opens. */
  writesDirectly(): Promise<boolean> {
    if (this.options.directIo === false) return Promise.resolve(false);
    return (this.directWrites ??= mkdir(this.root, { recursive: true }).then(() => directWritesWork(this.root), () => false));
  }

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
    return this.writerAt(handle, id, offset);
  }

  async openWriterAt(id: string, offset: number): Promise<BlobWriter> {
    return this.writerAt(await open(this.pathOf(id), 'r+').catch(mapFsError), id, offset);
  }

  /** Writes directly when the filesystem allows it and few writers are open (DIRECT_WRITERS_MAX). */
  private async writerAt(handle: FileHandle, id: string, offset: number): Promise<BlobWriter> {
    const few = this.openWriters < DIRECT_WRITERS_MAX;
    this.openWriters += 1;
    let counted = true;
    const closed = () => {
      if (counted) this.openWriters -= 1;
      counted = false;
    };
    if (!few || !(await this.writesDirectly())) return cachedWriterAt(handle, offset, closed);
    const directHandle = await openDirect(this.pathOf(id)).catch(async (err: unknown) => {
      closed();
      await handle.close();
      return mapFsError(err);
    });
    return new DirectWriter(directHandle, handle, offset, mapFsError, closed);
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

/** Writes through the page cache; sync() flushes it. */
function cachedWriterAt(handle: FileHandle, offset: number, onClose: () => void): BlobWriter {
  let position = offset;
  const flush = () => handle.datasync().catch(mapFsError);
  return {
    write: async (chunks) => {
      const bytes = await writevFully(handle.fd, chunks, position).catch(mapFsError);
      position += bytes;
    },
    sync: flush,
    flushAhead: flush,
    close: () => {
      onClose();
      return handle.close();
    },
  };
}

function mapFsError(err: unknown): never {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') throw new FerryError('storage_full', 'storage is full', { cause: err });
  if (code === 'ENOENT') throw new FerryError('upload_not_found', 'blob not found', { cause: err });
  throw err;
}
