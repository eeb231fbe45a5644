/**
 * What an upload reads from: its size, any byte range, and a stream of the whole. Nothing here
 * holds the file in memory; a Node file (node/file-source.ts) and a browser Blob (blobSource) both
 * fit.
 */
export interface UploadSource {
  readonly size: number;
  /** A default name for the upload (e.g. the file's base name). */
  readonly name?: string;
  /** The media type, if known. */
  readonly type?: string;
  /**
   * Identifies this content for resuming: equal keys mean "the same file, unchanged" (Node: path,
   * size and mtime). Without one, an upload is not resumed from saved state.
   */
  readonly key?: string;
  /** Bytes [start, end) of the source. */
  read(start: number, end: number): Promise<Uint8Array>;
  /** The whole source, in order, a piece at a time. */
  stream(signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** A browser `Blob` or `File` (or Node's `Blob`) as a source. */
export function blobSource(blob: Blob, options: { name?: string; key?: string } = {}): UploadSource {
  const file = blob as Blob & { name?: string; lastModified?: number };
  const name = options.name ?? file.name;
  const key = options.key ?? (file.name !== undefined && file.lastModified !== undefined ? `${file.name}:${blob.size}:${file.lastModified}` : undefined);
  return {
    size: blob.size,
    ...(name !== undefined ? { name } : {}),
    ...(blob.type ? { type: blob.type } : {}),
    ...(key !== undefined ? { key } : {}),
    read: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()),
    async *stream() {
      const step = 4 * 1024 * 1024;
      for (let offset = 0; offset < blob.size; offset += step) {
        yield new Uint8Array(await blob.slice(offset, Math.min(blob.size, offset + step)).arrayBuffer());
      }
    },
  };
}
