/**
 * The protocols whose clients send numbered chunks in parallel: the native chunk API (Content-Digest
 * on every chunk, the whole file's SHA-256 declared up front) and flow.js's parameters, multipart or
 * octet. Each chunk goes to a node of its own; one of them may be cut mid-body.
 */
import { randomBytes } from 'node:crypto';
import { chunkOf, contentDigest, type UploadJson } from '../helpers/native-client.js';
import { call, cutPoint, type Step } from './attempt.js';
import type { Plan, Protocol, Session, Storage } from './protocol.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/**
 * On S3, chunks of a part's smallest size (5 MiB) are parts; smaller ones are kept as objects and
 * joined into parts when the upload completes.
 */
const S3_CHUNKS = [MiB, 5 * MiB];

function chunkSizeFor(step: Step, storage: Storage, size: number): number {
  if (storage === 's3') return step.rng.pick(S3_CHUNKS);
  return Math.min(Math.max(size, 64 * KiB), step.rng.pick([64 * KiB, 256 * KiB, MiB, 4 * MiB]));
}

/** Runs `work` on every item, `parallel` at a time; the first failure wins once the rest settle. */
async function inParallel<T>(items: readonly T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const failures: unknown[] = [];
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let item = queue.shift(); item !== undefined && failures.length === 0; item = queue.shift()) {
      await work(item).catch((err: unknown) => { failures.push(err); });
    }
  }));
  if (failures.length > 0) throw failures[0];
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export const nativeChunks: Protocol = {
  name: 'native',
  supports: () => true,
  async begin(plan, step, storage) {
    const body = JSON.stringify({ name: plan.name, size: plan.data.length, sha256: plan.sha256, chunkSize: chunkSizeFor(step, storage, plan.data.length) });
    const created = await call(`${step.base()}/api/v1/uploads`, 'native create', { method: 'POST', headers: JSON_HEADERS, body, expect: [200, 201] });
    return new NativeSession(plan, created.json() as UploadJson);
  },
};

class NativeSession implements Session {
  readonly ref;
  private fileId: string | null;

  constructor(private readonly plan: Plan, private readonly upload: UploadJson) {
    this.ref = { kind: 'id', id: upload.id } as const;
    this.fileId = upload.file?.id ?? null;
  }

  async advance(step: Step): Promise<boolean> {
    const path = `/api/v1/uploads/${this.upload.id}`;
    const state = (await call(`${step.base()}${path}`, 'native state', { expect: [200] })).json() as UploadJson;
    if (state.state === 'completed') return this.finished(state);
    const parallel = step.rng.int(1, 4);
    const order = [...state.missing].sort(() => step.rng.next() - 0.5);
    await inParallel(order, parallel, async (index) => {
      const bytes = chunkOf(this.plan.data, this.upload.chunkSize, index);
      await call(`${step.base()}${path}/chunks/${index}`, `native chunk ${index}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-digest': contentDigest(bytes) },
        body: bytes,
        cutAt: cutPoint(step, bytes.length),
        expect: [200],
      });
      step.progress();
    });
    const completed = await call(`${step.base()}${path}/complete`, 'native complete', { method: 'POST', expect: [200], retry: [409] });
    return this.finished(completed.json() as UploadJson);
  }

  private finished(state: UploadJson): boolean {
    this.fileId = state.file?.id ?? this.fileId;
    return state.state === 'completed';
  }

  downloadPath(): string {
    return `/api/v1/files/${this.fileId}/content`;
  }
}

/** flow.js's layout: floor(size / chunkSize) chunks, the last one carrying the remainder. */
interface FlowLayout {
  readonly identifier: string;
  readonly chunkSize: number;
  readonly total: number;
  readonly octet: boolean;
}

export const flowJs: Protocol = {
  name: 'flow',
  supports: () => true,
  async begin(plan, step, storage) {
    const chunkSize = chunkSizeFor(step, storage, plan.data.length);
    const layout = {
      identifier: `${plan.data.length}-${plan.label}`,
      chunkSize,
      total: Math.max(1, Math.floor(plan.data.length / chunkSize)),
      octet: step.rng.chance(0.5),
    };
    // flow.js creates nothing before its first chunk; the session's first attempt does.
    return new FlowSession(plan, layout);
  },
};

class FlowSession implements Session {
  readonly ref;
  private fileId: string | null = null;

  constructor(private readonly plan: Plan, private readonly layout: FlowLayout) {
    this.ref = { kind: 'flow', identifier: layout.identifier } as const;
  }

  async advance(step: Step): Promise<boolean> {
    const numbers = Array.from({ length: this.layout.total }, (_, i) => i + 1).sort(() => step.rng.next() - 0.5);
    const missing: number[] = [];
    for (const number of numbers) {
      const tested = await call(`${step.base()}/api/v1/flow?${new URLSearchParams(this.params(number))}`, `flow test ${number}`, { expect: [200, 204] });
      if (tested.status === 204) missing.push(number);
    }
    // Every chunk stored but the answer naming the file was lost: sending one again brings it back.
    const toSend = missing.length > 0 ? missing : [numbers[0]!];
    await inParallel(toSend, step.rng.int(1, 3), async (number) => {
      const answer = await this.send(step, number);
      step.progress();
      if (answer.done && answer.file) this.fileId = answer.file.id;
    });
    return this.fileId !== null;
  }

  private chunk(number: number): Buffer {
    const start = (number - 1) * this.layout.chunkSize;
    return this.plan.data.subarray(start, number === this.layout.total ? this.plan.data.length : start + this.layout.chunkSize);
  }

  private params(number: number): Record<string, string> {
    return {
      flowChunkNumber: String(number),
      flowChunkSize: String(this.layout.chunkSize),
      flowCurrentChunkSize: String(this.chunk(number).length),
      flowTotalSize: String(this.plan.data.length),
      flowIdentifier: this.layout.identifier,
      flowFilename: this.plan.name,
      flowRelativePath: `soak/${this.plan.name}`,
      flowTotalChunks: String(this.layout.total),
    };
  }

  private async send(step: Step, number: number): Promise<{ done?: boolean; file?: { id: string } }> {
    const bytes = this.chunk(number);
    const what = `flow chunk ${number}`;
    if (this.layout.octet) {
      const res = await call(`${step.base()}/api/v1/flow?${new URLSearchParams(this.params(number))}`, what, {
        method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes, cutAt: cutPoint(step, bytes.length), expect: [200],
      });
      return res.json() as { done?: boolean; file?: { id: string } };
    }
    const { body, contentType } = multipartBody(this.params(number), 'file', bytes);
    const res = await call(`${step.base()}/api/v1/flow`, what, {
      method: 'POST', headers: { 'content-type': contentType }, body, cutAt: cutPoint(step, body.length), expect: [200],
    });
    return res.json() as { done?: boolean; file?: { id: string } };
  }

  downloadPath(): string {
    return `/api/v1/files/${this.fileId}/content`;
  }
}

/** A multipart/form-data body built by hand, so the request can be cut at any byte. */
export function multipartBody(fields: Record<string, string>, fileField: string, bytes: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----soak${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${fileField}"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n`));
  parts.push(bytes, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
