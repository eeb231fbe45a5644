import { Readable } from 'node:stream';
import { FerryError } from '../../core/errors.js';
import type {
  BlobStore, BlobWriter, ByteRange, ChunkPlacement, ChunkUploadUrl, Completion, Concatenation, DeferredLength, DirectChunkUploads,
  RangedReads, StoredChunk, Termination,
} from '../types.js';
import type { S3Api } from './api.js';
import { checkChunk, ChunkStreamWriter, joinChunks, keptApart, partNumberOf, statPart } from './chunks.js';
import { cutTo, freeze, readPieces, thaw } from './lifecycle.js';
import { keysOf, MIN_PART, partSizeFor, type KeyLayout, type PartSizer } from './plan.js';
import { PartProducer } from './producer.js';
import { readManifest, reconcile, writeManifest, type BlobState } from './state.js';

/** Blob ids become object keys, so only a fixed, path-free alphabet is ever accepted. */
const SAFE_ID = /^[0-9a-zA-Z_-]{16,128}$/;

export interface S3BlobStoreOptions {
  /** Prepended to every key, so several deployments (or test runs) can share a bucket. */
  readonly prefix?: string;
  readonly partsInFlight?: number;
  /** Part sizes; tests with a fake S3 use small ones. */
  readonly partSize?: PartSizer;
  /** The smallest part S3 takes but the last; tests with a fake S3 use a small one. */
  readonly minPart?: number;
}

/**
 * Blobs in an S3 bucket. Bytes stream into one multipart upload per blob (see PartProducer); a
 * blob's state is whatever S3 lists, so any node can take over a blob another node was writing.
 * finish() completes the multipart upload in place: no byte is copied.
 *
 * An unfinished multipart upload cannot be read, and S3 has no way to delete or shorten a part.
 * So reading the front of an unfinished blob (Ferry re-hashes it when an upload resumes on a node
 * that does not have its running SHA-256) first *freezes* it: the multipart upload is completed as
 * the blob's object, which is then readable. The next writer *thaws* it: a new multipart upload
 * whose first parts are server-side copies (UploadPartCopy) of that object. Only a resume on
 * another node pays this copy; completing never does.
 *
 * Writes in place (PositionalWrites) are not offered: a part cannot be changed or read once sent.
 * The native chunk API gets ChunkWrites instead, chunk i being part i + 1, or with chunks under
 * 5 MiB an object of its own until finish (see chunks.ts); chunks of parts' size may also go
 * straight from the client to S3 through presigned UploadPart URLs.
 */
export class S3BlobStore implements BlobStore, RangedReads, Termination, Concatenation, DeferredLength, Completion, DirectChunkUploads {
  /** S3 refuses parts under 5 MiB but the last. */
  readonly minChunkSize: number;
  private readonly prefix: string;
  private readonly partsInFlight: number;
  private readonly partSize: PartSizer;

  constructor(private readonly api: S3Api, options: S3BlobStoreOptions = {}) {
    this.prefix = options.prefix ?? '';
    this.partsInFlight = options.partsInFlight ?? 3;
    this.partSize = options.partSize ?? partSizeFor;
    this.minChunkSize = options.minPart ?? MIN_PART;
  }

  private keys(id: string): KeyLayout {
    if (!SAFE_ID.test(id)) throw new FerryError('invalid_request', 'invalid blob id');
    return keysOf(this.prefix, id);
  }

  async create(id: string): Promise<void> {
    const keys = this.keys(id);
    const uploadId = await this.api.createMultipart(keys.blob);
    await writeManifest(this.api, keys, { uploadId, size: null, stale: {} });
  }

  async declareLength(id: string, size: number): Promise<void> {
    const keys = this.keys(id);
    const manifest = await readManifest(this.api, keys);
    if (!manifest) throw new FerryError('upload_not_found', `blob ${id} not found`);
    if (manifest.size !== size) await writeManifest(this.api, keys, { ...manifest, size });
  }

  async length(id: string): Promise<number> {
    return (await reconcile(this.api, this.keys(id), id)).length;
  }

  async openWriter(id: string, offset: number): Promise<BlobWriter> {
    const keys = this.keys(id);
    let state = await this.writable(keys, id, offset);
    if (offset > state.length) throw new Error(`blob ${id} holds ${state.length} bytes; cannot write at ${offset}`);
    if (offset < state.length) state = await cutTo(this.api, keys, id, state, offset);
    // Segments the parts have made redundant (or that a crash left past the end) go now: a writer
    // is only ever truncated back to offsets at or after the one it opened at.
    const inChain = new Set(state.chain.map((piece) => piece.key));
    await Promise.all(state.segments.filter((segment) => !inChain.has(segment.key)).map((segment) => this.api.deleteObject(segment.key)));
    return new PartProducer({
      api: this.api,
      key: keys.blob,
      uploadId: state.manifest!.uploadId!,
      segmentKey: keys.segment,
      size: state.manifest!.size,
      partsEnd: state.partsEnd,
      nextPart: state.nextPart,
      staged: await readPieces(this.api, state.chain),
      stale: new Set(Object.keys(state.manifest!.stale).map(Number)),
      clearStale: (numbers) => this.clearStale(keys, id, numbers),
      partsInFlight: this.partsInFlight,
      partSize: this.partSize,
    });
  }

  async openChunkWriter(id: string, chunk: ChunkPlacement): Promise<BlobWriter> {
    checkChunk(chunk);
    const keys = this.keys(id);
    const uploadId = await this.uploadIdOf(keys, id);
    if (keptApart(chunk, this.minChunkSize)) {
      return new ChunkStreamWriter(chunk, (body, signal) => this.api.putObjectStream(keys.chunk(chunk.index), body, chunk.length, signal));
    }
    return new ChunkStreamWriter(chunk, (body, signal) => this.api.uploadPartStream(keys.blob, uploadId, partNumberOf(chunk), body, chunk.length, signal));
  }

  async presignChunk(id: string, chunk: ChunkPlacement, ttlSeconds: number): Promise<ChunkUploadUrl> {
    checkChunk(chunk);
    if (keptApart(chunk, this.minChunkSize)) {
      throw new FerryError('invalid_request', `chunks go straight to S3 only when the chunk size is at least ${this.minChunkSize} bytes (a part); send chunks of ${chunk.chunkSize} bytes to Ferry`);
    }
    const keys = this.keys(id);
    const signed = await this.api.presignUploadPart(keys.blob, await this.uploadIdOf(keys, id), partNumberOf(chunk), chunk.length, ttlSeconds);
    return { method: 'PUT', url: signed.url, headers: signed.headers, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
  }

  async statChunk(id: string, index: number): Promise<StoredChunk | null> {
    const keys = this.keys(id);
    return statPart(this.api, keys.blob, await this.uploadIdOf(keys, id), partNumberOf({ index }));
  }

  /** The multipart upload a chunked upload's parts go to. */
  private async uploadIdOf(keys: KeyLayout, id: string): Promise<string> {
    const manifest = await readManifest(this.api, keys);
    if (!manifest) throw new FerryError('upload_not_found', `blob ${id} not found or already complete`);
    if (manifest.uploadId === null) throw new Error(`blob ${id} is frozen; chunks cannot be added to it`);
    return manifest.uploadId;
  }

  async truncate(id: string, length: number): Promise<void> {
    const keys = this.keys(id);
    const state = await reconcile(this.api, keys, id);
    if (length >= state.length) return;
    if (!state.manifest) throw new Error(`blob ${id} is complete and cannot be truncated`);
    await cutTo(this.api, keys, id, state, length);
  }

  async ping(): Promise<void> {
    await this.api.ping();
  }

  read(id: string, range?: ByteRange): Readable {
    return Readable.from(this.bytes(this.keys(id), id, range), { objectMode: false });
  }

  /**
   * Completes the multipart upload in place, with the staged tail (if any) as its last part, or
   * from the chunks kept apart (joined into parts first).
   */
  async finish(id: string): Promise<void> {
    const keys = this.keys(id);
    let state = await reconcile(this.api, keys, id);
    if (!state.manifest) return;
    if (state.manifest.uploadId !== null && state.prefix > 0 && state.chain.length === 0) {
      // The multipart upload is gone and its object holds the bytes: an earlier finish completed
      // it but died, or lost S3's answer, before clearing the staging. Completing "again" would
      // find no parts and write an empty object over the blob.
      const { size } = state.manifest;
      if (size !== null && size !== state.prefix) throw new Error(`blob ${id}: its multipart upload is gone and its object holds ${state.prefix} of ${size} bytes`);
      await this.clearStaging(keys);
      return;
    }
    if (state.frozen && state.chain.length > 0) state = await thaw(this.api, keys, id, state, this.firstPart());
    const uploadId = state.manifest!.uploadId;
    if (uploadId !== null) {
      const joined = await joinChunks(this.api, keys, uploadId, { partSize: this.partSize, partsInFlight: this.partsInFlight });
      const parts = joined ?? await this.partsWithTail(keys, uploadId, state);
      if (parts.length === 0) {
        // S3 refuses to complete a multipart upload without parts: an empty blob is a plain object.
        await this.api.putObject(keys.blob, Buffer.alloc(0));
      } else {
        await this.api.completeMultipart(keys.blob, uploadId, parts);
      }
    }
    await this.clearStaging(keys);
  }

  /** The parts that count, then the staged tail sent as the last part. */
  private async partsWithTail(keys: KeyLayout, uploadId: string, state: BlobState): Promise<{ number: number; etag: string }[]> {
    const parts = state.parts.map(({ number, etag }) => ({ number, etag }));
    if (state.chain.length > 0) {
      const tail = Buffer.concat(await readPieces(this.api, state.chain));
      parts.push({ number: state.nextPart, etag: await this.api.uploadPart(keys.blob, uploadId, state.nextPart, tail) });
    }
    return parts;
  }

  async remove(id: string): Promise<void> {
    const keys = this.keys(id);
    await this.clearStaging(keys);
    await this.api.deleteObject(keys.blob);
  }

  async concat(target: string, parts: readonly string[], onData: (chunk: Buffer) => void): Promise<number> {
    // Every byte goes past onData anyway (the caller hashes it), so the bytes stream through here
    // into the target's parts rather than being copied server-side.
    const writer = await this.openWriter(target, 0);
    let length = 0;
    try {
      for (const part of parts) {
        for await (const chunk of this.read(part) as AsyncIterable<Buffer>) {
          onData(chunk);
          await writer.write([chunk]);
          length += chunk.length;
        }
      }
      await writer.sync();
    } finally {
      await writer.close();
    }
    return length;
  }

  /**
   * The blob, ready for a writer at `offset`: a frozen blob is thawed up to it, and parts after a
   * gap are recorded as stale.
   */
  private async writable(keys: KeyLayout, id: string, offset: number): Promise<BlobState> {
    let state = await reconcile(this.api, keys, id);
    if (!state.manifest) throw new FerryError('blob_complete', `blob ${id} is complete and cannot be written`);
    if (state.frozen) state = await thaw(this.api, keys, id, state, this.firstPart(), offset);
    if (Object.keys(state.unrecorded).length > 0) {
      const manifest = state.manifest!;
      await writeManifest(this.api, keys, { ...manifest, stale: { ...manifest.stale, ...state.unrecorded } });
      state = await reconcile(this.api, keys, id);
    }
    return state;
  }

  private async *bytes(keys: KeyLayout, id: string, range?: ByteRange): AsyncGenerator<Buffer> {
    let state = (await readManifest(this.api, keys)) ? await reconcile(this.api, keys, id) : null;
    if (state === null) {
      const body = await this.api.getObject(keys.blob, range);
      if (!body) throw new FerryError('upload_not_found', `blob ${id} not found`);
      yield* body as AsyncIterable<Buffer>;
      return;
    }
    if (state.length === 0 && !range) return;
    const { start, end } = range ?? { start: 0, end: state.length - 1 };
    if (end >= state.length || start > end) throw new FerryError('range_not_satisfiable', `blob ${id} holds ${state.length} bytes`);
    if (start < state.partsEnd && state.parts.length > 0) state = await freeze(this.api, keys, id, state);
    if (start < state.prefix) {
      const body = await this.api.getObject(keys.blob, { start, end: Math.min(end, state.prefix - 1) });
      if (!body) throw new FerryError('upload_gone', `the stored bytes of blob ${id} are gone`);
      yield* body as AsyncIterable<Buffer>;
    }
    for (const piece of state.chain) {
      const from = Math.max(start, piece.start);
      const to = Math.min(end, piece.end - 1);
      if (from > to) continue;
      const body = await this.api.getObject(piece.key, { start: piece.skip + from - piece.start, end: piece.skip + to - piece.start });
      if (!body) throw new FerryError('upload_gone', `a staged part of blob ${id} is gone`);
      yield* body as AsyncIterable<Buffer>;
    }
  }

  /** The first part of a blob of unknown length: what a blob's kept front may be staged below. */
  private firstPart(): number {
    return this.partSize(1, null, 0);
  }

  /** Parts written again count again. */
  private async clearStale(keys: KeyLayout, id: string, numbers: readonly number[]): Promise<void> {
    const manifest = await readManifest(this.api, keys);
    if (!manifest) throw new FerryError('upload_not_found', `blob ${id} not found`);
    const stale = { ...manifest.stale };
    for (const number of numbers) delete stale[number];
    await writeManifest(this.api, keys, { ...manifest, stale });
  }

  /** Aborts every multipart upload on the blob's key (a crash may have left more than one). */
  private async clearStaging(keys: KeyLayout): Promise<void> {
    for (const uploadId of await this.api.listMultipartUploads(keys.blob)) await this.api.abortMultipart(keys.blob, uploadId);
    // The manifest goes last: while it is there, the blob counts as unfinished and this can be run again.
    const staged = (await this.api.listObjects(keys.staging)).filter((object) => object.key !== keys.manifest);
    await Promise.all(staged.map((object) => this.api.deleteObject(object.key)));
    await this.api.deleteObject(keys.manifest);
  }
}
