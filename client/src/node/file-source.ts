import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { UploadSource } from '../source.js';

/**
 * A file on disk as an upload source: read by range or streamed, never held whole. Its key (path,
 * size, mtime) makes a rerun resume the same upload, and a changed file start a new one.
 */
export async function fileSource(path: string, options: { name?: string; type?: string } = {}): Promise<UploadSource> {
  const absolute = resolve(path);
  const info = await stat(absolute);
  if (!info.isFile()) throw new Error(`${path} is not a file`);
  return {
    size: info.size,
    name: options.name ?? basename(absolute),
    ...(options.type ? { type: options.type } : {}),
    key: `${absolute}:${info.size}:${info.mtimeMs}`,
    async read(start, end) {
      const handle = await open(absolute, 'r');
      try {
        const bytes = new Uint8Array(end - start);
        let filled = 0;
        while (filled < bytes.length) {
          const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start + filled);
          if (bytesRead === 0) throw new Error(`${path} is shorter than it was (changed during the upload?)`);
          filled += bytesRead;
        }
        return bytes;
      } finally {
        await handle.close();
      }
    },
    stream(signal) {
      return createReadStream(absolute, { highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) });
    },
  };
}
