/** Writing and reading whole blobs through a driver, for the storage tests. */
import type { BlobStore, ByteRange, RangedReads } from '../../src/storage/types.js';

/** Writes `data` at `offset` in pieces of `piece` bytes, as request bodies arrive, then syncs. */
export async function appendBlob(store: BlobStore, id: string, offset: number, data: Buffer, piece = 64 * 1024): Promise<void> {
  const writer = await store.openWriter(id, offset);
  try {
    for (let at = 0; at < data.length; at += piece) await writer.write([data.subarray(at, at + piece)]);
    await writer.sync();
  } finally {
    await writer.close();
  }
}

/** The blob's bytes, or one inclusive range of them. */
export async function readBlob(store: RangedReads, id: string, range?: ByteRange): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(id, range) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
