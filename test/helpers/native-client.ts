/**
 * A minimal client of the native chunk API over fetch, written from the API's documentation, for
 * tests that drive uploads the way a real client would.
 */
import { createHash, createHmac } from 'node:crypto';

export interface Challenge {
  algorithm: string;
  nonce: string;
  ranges: { start: number; end: number }[];
  expiresAt: string;
}

export interface UploadJson {
  id: string;
  name: string;
  size: number;
  state: string;
  sha256: string | null;
  chunkSize: number;
  chunkCount: number;
  receivedChunks: number;
  missing: number[];
  instant: boolean;
  challenge?: Challenge;
  file?: { id: string; name: string; size: number; sha256: string };
}

export interface Answer<T> {
  status: number;
  body: T;
}

export class NativeClient {
  constructor(readonly baseUrl: string, readonly headers: Record<string, string> = {}) {}

  async json<T = UploadJson>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { ...this.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T };
  }

  create(body: { name: string; size: number; sha256?: string; chunkSize?: number; type?: string }): Promise<Answer<UploadJson>> {
    return this.json('POST', '/api/v1/uploads', body);
  }

  /** PUTs one chunk with its SHA-256 in Content-Digest (or the given headers instead). */
  async putChunk(id: string, index: number, bytes: Buffer, headers: Record<string, string> = { 'content-digest': contentDigest(bytes) }): Promise<Answer<UploadJson>> {
    const response = await fetch(`${this.baseUrl}/api/v1/uploads/${id}/chunks/${index}`, {
      method: 'PUT',
      headers: { ...this.headers, 'content-type': 'application/octet-stream', ...headers },
      body: bytes as unknown as Uint8Array<ArrayBuffer>,
    });
    return { status: response.status, body: (await response.json()) as UploadJson };
  }

  complete(id: string): Promise<Answer<UploadJson>> {
    return this.json('POST', `/api/v1/uploads/${id}/complete`);
  }

  prove(id: string, proof: string): Promise<Answer<UploadJson>> {
    return this.json('POST', `/api/v1/uploads/${id}/proof`, { proof });
  }

  /** Sends every missing chunk, `parallel` at a time, in the given order. */
  async sendChunks(upload: UploadJson, data: Buffer, parallel: number, order: number[] = upload.missing): Promise<void> {
    const queue = [...order];
    const worker = async () => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        const answer = await this.putChunk(upload.id, index, chunkOf(data, upload.chunkSize, index));
        if (answer.status !== 200) throw new Error(`chunk ${index}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }
}

export function chunkOf(data: Buffer, chunkSize: number, index: number): Buffer {
  return data.subarray(index * chunkSize, Math.min(data.length, (index + 1) * chunkSize));
}

export function contentDigest(bytes: Buffer): string {
  return `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The answer a client holding `data` gives to a challenge, as the API documents it. */
export function answerChallenge(challenge: Challenge, data: Buffer): string {
  const hmac = createHmac('sha256', Buffer.from(challenge.nonce, 'base64url'));
  for (const range of challenge.ranges) hmac.update(data.subarray(range.start, range.end + 1));
  return hmac.digest('hex');
}
