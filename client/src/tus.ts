import { sha256, toBase64 } from './crypto.js';
import { FerryApiError, FerryNetworkError } from './errors.js';
import { backoff, retryable, sleep } from './http.js';
import type { SavedUpload } from './state.js';
import type { FerryFile } from './types.js';
import { UploadTask, type StateHandle, type UploadResult } from './upload-task.js';

const TUS = { 'tus-resumable': '1.0.0' } as const;
const DEFAULT_ENDPOINT = '/files/';
/** Bytes per PATCH: each is read into memory (and hashed for Upload-Checksum) before it is sent. */
const DEFAULT_PATCH_SIZE = 8 * 1024 * 1024;
/** Ferry names the library file of a completed tus upload in this header. */
const FILE_ID_HEADER = 'ferry-file-id';

/** Where a tus upload stands on the server. */
interface Position {
  offset: number;
  /** Set once the upload is complete and has become a library file. */
  fileId: string | null;
}

/**
 * One upload over tus 1.0.0 (creation, checksum, termination): discover the server's extensions,
 * create the upload with its name in Upload-Metadata (or continue the saved one from its HEAD
 * offset), then PATCH the rest one piece at a time. A PATCH that fails on the network, with a 5xx,
 * an offset conflict or a checksum mismatch is retried with backoff from the offset HEAD reports,
 * so bytes the server kept are never sent again.
 */
export class TusUpload extends UploadTask {
  private get endpoint(): string {
    return this.options.tusEndpoint ?? DEFAULT_ENDPOINT;
  }

  /** tus state is kept apart from native state of the same file: the key names the tus endpoint. */
  protected override stateKey(sourceKey: string): string {
    return JSON.stringify([this.ctx.transport.url(this.endpoint), this.name, sourceKey]);
  }

  protected async transfer({ saved, save }: StateHandle): Promise<UploadResult> {
    const checksum = (this.options.tusChecksum ?? true) && (await this.offersSha256());
    let position = saved.tusUrl ? await this.head(saved.tusUrl) : undefined;
    const resumed = position !== undefined;
    if (!position) {
      const created = await this.create();
      saved.tusUrl = created.url;
      await save();
      position = created;
    }
    const url = saved.tusUrl!;
    const size = this.source.size;
    this.progress.uploadedBytes = position.offset;
    this.meter.reset();
    this.report('uploading');

    let patches = 0;
    for (let failures = 0; position.offset < size; ) {
      await this.checkpoint();
      const from = position.offset;
      const bytes = await this.source.read(from, Math.min(size, from + (this.options.chunkSize ?? DEFAULT_PATCH_SIZE)));
      const headers: Record<string, string> = { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(from) };
      if (checksum) headers['upload-checksum'] = `sha256 ${toBase64(await sha256(this.ctx.crypto, bytes))}`;
      const request = this.requestSignal();
      try {
        const response = await this.ctx.transport.request(url, { method: 'PATCH', headers, body: bytes, signal: request.signal, retries: 0 });
        await response.body?.cancel().catch(() => undefined);
        position = positionOf(response);
        if (position.offset <= from) throw new Error(`the tus server took none of the bytes sent at offset ${from} of ${url}`);
        patches += 1;
        failures = 0;
      } catch (err) {
        if (this.stop.signal.aborted) throw this.stop.signal.reason;
        if (!this.pausedRequest(err, request.signal)) {
          if (!recoverable(err) || failures >= this.ctx.transport.retry.retries) throw err;
          // A conflicting offset needs no wait: HEAD says where to go on.
          if (!(err instanceof FerryApiError && err.status === 409)) await sleep(backoff(this.ctx.transport.retry, failures), this.stop.signal);
          failures += 1;
        }
        await this.checkpoint();
        position = await this.head(url);
        if (!position) throw new Error(`the server no longer has the upload ${url}: run the upload again to start afresh`);
      } finally {
        request.dispose();
      }
      // Bytes the server took from this run, including the part of a cut-off PATCH it kept.
      if (position.offset > from) this.progress.sentBytes += position.offset - from;
      this.progress.uploadedBytes = position.offset;
      this.report('uploading', this.progress.sentBytes, size - position.offset);
    }

    this.report('completing');
    if (!position.fileId) throw new Error(`the tus server completed ${url} without naming its file (${FILE_ID_HEADER}): is it a Ferry server?`);
    const file = await this.ctx.transport.json<FerryFile>(`/api/v1/files/${encodeURIComponent(position.fileId)}`, { signal: this.stop.signal });
    return { file, uploadId: new URL(url).pathname.split('/').pop()!, instant: false, resumed, chunksSent: patches, sentBytes: this.progress.sentBytes };
  }

  /** termination: DELETE the upload. */
  protected async discard(saved: SavedUpload): Promise<void> {
    if (saved.tusUrl) await this.ctx.transport.request(saved.tusUrl, { method: 'DELETE', headers: { ...TUS }, accept: [404, 410] });
  }

  /** OPTIONS (discovery): whether the server speaks tus 1.0.0, and takes Upload-Checksum with sha256. */
  private async offersSha256(): Promise<boolean> {
    const response = await this.ctx.transport.request(this.endpoint, { method: 'OPTIONS', signal: this.stop.signal });
    await response.body?.cancel().catch(() => undefined);
    const list = (name: string) => (response.headers.get(name) ?? '').split(',').map((item) => item.trim().toLowerCase());
    if (!list('tus-version').includes(TUS['tus-resumable'])) throw new Error(`${this.ctx.transport.url(this.endpoint)} does not speak tus ${TUS['tus-resumable']}`);
    return list('tus-extension').includes('checksum') && list('tus-checksum-algorithm').includes('sha256');
  }

  /** creation: POST with Upload-Length and the name (and type) in Upload-Metadata. */
  private async create(): Promise<Position & { url: string }> {
    const type = this.options.type ?? this.source.type;
    const metadata = [['filename', this.name], ...(type ? [['filetype', type]] : [])]
      .map(([key, value]) => `${key} ${toBase64(new TextEncoder().encode(value))}`)
      .join(',');
    const response = await this.ctx.transport.request(this.endpoint, {
      method: 'POST',
      headers: { ...TUS, 'upload-length': String(this.source.size), 'upload-metadata': metadata },
      signal: this.stop.signal,
    });
    await response.body?.cancel().catch(() => undefined);
    const location = response.headers.get('location');
    if (!location) throw new Error('the tus server created an upload without a Location');
    const url = new URL(location, this.ctx.transport.url(this.endpoint));
    // The token goes with every request to this URL: only to the server it was meant for.
    if (url.origin !== new URL(this.ctx.transport.baseUrl).origin) throw new Error(`the tus server put the upload on another origin (${url.origin})`);
    return { url: url.href, ...positionOf(response) };
  }

  /** HEAD: the upload's offset; undefined when the server no longer has it or it is not this source's size. */
  private async head(url: string): Promise<Position | undefined> {
    const response = await this.ctx.transport.request(url, { method: 'HEAD', headers: { ...TUS }, accept: [404, 410], signal: this.stop.signal });
    if (!response.ok) return undefined;
    if (response.headers.get('upload-length') !== String(this.source.size)) return undefined;
    return positionOf(response);
  }
}

function positionOf(response: Response): Position {
  const raw = response.headers.get('upload-offset');
  if (raw === null || !/^\d+$/.test(raw)) throw new Error(`the tus server answered ${response.status} without a valid Upload-Offset`);
  return { offset: Number(raw), fileId: response.headers.get(FILE_ID_HEADER) };
}

/** Failures a PATCH may get past by asking again from the server's offset. */
function recoverable(err: unknown): boolean {
  if (err instanceof FerryNetworkError) return true;
  // 409: the offset moved (a cut-off PATCH kept some bytes); 423: the upload is busy; 460: checksum mismatch.
  return err instanceof FerryApiError && (retryable(err.status) || [409, 423, 460].includes(err.status));
}
