import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectInfo, PartInfo, S3Api } from '../../src/storage/s3/api.js';

interface FakeUpload {
  readonly key: string;
  readonly parts: Map<number, { etag: string; body: Buffer }>;
}

/**
 * S3 in memory, strict where real S3 (or Ceph RGW) is: parts are unreadable until completed, a
 * completion names the first stored parts by number and ETag, every part but the last must reach
 * `minPart`, and ranges must lie within the object. Counts calls, and lets a test hold or fail part uploads.
 */
export class FakeS3 implements S3Api {
  readonly objects = new Map<string, Buffer>();
  readonly uploads = new Map<string, FakeUpload>();
  readonly calls = new Map<string, number>();
  /** Most part uploads seen in flight at once. */
  maxPartsInFlight = 0;
  private partsInFlight = 0;
  /** Runs before each part upload lands; may wait or throw. */
  beforePart: (number: number) => Promise<void> = async () => undefined;

  constructor(private readonly minPart = 0) {}

  count(name: string): number {
    return this.calls.get(name) ?? 0;
  }

  private called(name: string): void {
    this.calls.set(name, this.count(name) + 1);
  }

  async createMultipart(key: string): Promise<string> {
    this.called('createMultipart');
    const id = randomUUID();
    this.uploads.set(id, { key, parts: new Map() });
    return id;
  }

  async uploadPart(key: string, uploadId: string, number: number, body: Buffer): Promise<string> {
    this.called('uploadPart');
    this.partsInFlight += 1;
    this.maxPartsInFlight = Math.max(this.maxPartsInFlight, this.partsInFlight);
    try {
      await this.beforePart(number);
      return this.storePart(key, uploadId, number, Buffer.from(body));
    } finally {
      this.partsInFlight -= 1;
    }
  }

  async uploadPartStream(key: string, uploadId: string, number: number, body: Readable, length: number, signal: AbortSignal): Promise<string> {
    return this.uploadPart(key, uploadId, number, await this.received(body, length, signal));
  }

  /** A streamed body, refused as S3 refuses it when it falls short of its declared length or is aborted. */
  private async received(body: Readable, length: number, signal: AbortSignal): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (signal.aborted) throw named('AbortError');
      chunks.push(chunk);
    }
    const bytes = Buffer.concat(chunks);
    if (signal.aborted || bytes.length !== length) throw named('IncompleteBody');
    return bytes;
  }

  async presignUploadPart(key: string, uploadId: string, number: number, length: number): Promise<{ url: string; headers: Record<string, string> }> {
    this.called('presignUploadPart');
    return { url: `https://fake-s3.invalid/${key}?uploadId=${uploadId}&partNumber=${number}`, headers: { 'content-length': String(length) } };
  }

  async copyPart(key: string, uploadId: string, number: number, source: string, start: number, end: number): Promise<string> {
    this.called('copyPart');
    const object = this.objects.get(source);
    if (!object || end >= object.length) throw named('InvalidRange');
    return this.storePart(key, uploadId, number, Buffer.from(object.subarray(start, end + 1)));
  }

  async listParts(key: string, uploadId: string): Promise<PartInfo[] | null> {
    this.called('listParts');
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.key !== key) return null;
    return [...upload.parts.entries()].sort(([a], [b]) => a - b).map(([number, part]) => ({ number, etag: part.etag, size: part.body.length }));
  }

  async completeMultipart(key: string, uploadId: string, parts: readonly { number: number; etag: string }[]): Promise<void> {
    this.called('completeMultipart');
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw named('NoSuchUpload');
    if (parts.length === 0) throw named('MalformedXML');
    // Ceph RGW (16) completes exactly the first N stored parts, so skipping a stored number fails.
    const storedNumbers = [...upload.parts.keys()].sort((a, b) => a - b);
    const bodies = parts.map((part, index) => {
      if (storedNumbers[index] !== part.number) throw named('InvalidPart');
      const stored = upload.parts.get(part.number);
      if (!stored || stored.etag !== part.etag) throw named('InvalidPart');
      if (index > 0 && part.number <= parts[index - 1]!.number) throw named('InvalidPartOrder');
      if (index < parts.length - 1 && stored.body.length < this.minPart) throw named('EntityTooSmall');
      return stored.body;
    });
    this.objects.set(key, Buffer.concat(bodies));
    this.uploads.delete(uploadId);
  }

  async abortMultipart(_key: string, uploadId: string): Promise<void> {
    this.called('abortMultipart');
    this.uploads.delete(uploadId);
  }

  async listMultipartUploads(key: string): Promise<string[]> {
    this.called('listMultipartUploads');
    return [...this.uploads.entries()].filter(([, upload]) => upload.key === key).map(([id]) => id);
  }

  async putObject(key: string, body: Buffer): Promise<void> {
    this.called('putObject');
    this.objects.set(key, Buffer.from(body));
  }

  async putObjectStream(key: string, body: Readable, length: number, signal: AbortSignal): Promise<void> {
    const bytes = await this.received(body, length, signal);
    this.called('putObject');
    this.objects.set(key, bytes);
  }

  async getObject(key: string, range?: { start: number; end: number }): Promise<Readable | null> {
    this.called('getObject');
    const object = this.objects.get(key);
    if (!object) return null;
    if (range && (range.end >= object.length || range.start > range.end)) throw named('InvalidRange');
    const bytes = range ? object.subarray(range.start, range.end + 1) : object;
    return Readable.from([Buffer.from(bytes)]);
  }

  async headObject(key: string): Promise<number | null> {
    this.called('headObject');
    return this.objects.get(key)?.length ?? null;
  }

  async deleteObject(key: string): Promise<void> {
    this.called('deleteObject');
    this.objects.delete(key);
  }

  async listObjects(prefix: string): Promise<ObjectInfo[]> {
    this.called('listObjects');
    return [...this.objects.entries()].filter(([key]) => key.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, body]) => ({ key, size: body.length }));
  }

  async ping(): Promise<void> {}

  /** Bytes held in staged segments and uploaded parts: what a blob costs beyond its final object. */
  stagedBytes(): number {
    let bytes = 0;
    for (const [key, body] of this.objects) if (key.includes('/tail-')) bytes += body.length;
    return bytes;
  }

  private storePart(key: string, uploadId: string, number: number, body: Buffer): string {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw named('NoSuchUpload');
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    upload.parts.set(number, { etag, body });
    return etag;
  }
}

function named(name: string): Error {
  const err = new Error(name);
  err.name = name;
  return err;
}
