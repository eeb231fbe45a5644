import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, truncate } from 'node:fs/promises';
import type { DownloadSink, DownloadTarget } from '../download.js';
import type { FerryFile } from '../types.js';

/**
 * A download into `path` through `path + '.part'`: an interrupted download leaves the part file,
 * which the next attempt continues; the finished file is checked against its SHA-256 and renamed
 * into place, so `path` never holds a partial or wrong file.
 */
export function fileTarget(path: string): DownloadTarget & { readonly partPath: string } {
  const partPath = `${path}.part`;
  return {
    partPath,
    async existingBytes() {
      try {
        return (await stat(partPath)).size;
      } catch {
        return 0;
      }
    },
    async open(offset): Promise<DownloadSink> {
      if (offset > 0) await truncate(partPath, offset);
      const handle = await open(partPath, offset > 0 ? 'a' : 'w');
      return {
        write: async (bytes) => { await handle.write(bytes); },
        close: () => handle.close(),
      };
    },
    async finish(file: FerryFile) {
      const hash = createHash('sha256');
      for await (const piece of createReadStream(partPath)) hash.update(piece as Buffer);
      const actual = hash.digest('hex');
      if (actual !== file.sha256) {
        await rm(partPath, { force: true });
        throw new Error(`the downloaded bytes of ${file.name} have SHA-256 ${actual}, not ${file.sha256}: the partial file was removed, try again`);
      }
      await rename(partPath, path);
    },
  };
}
