import type { IncrementalHash } from '../crypto.js';

/** A message to the hashing worker (sha256-worker.ts). */
export type HashRequest =
  | { id: number; seq: number; op: 'update'; bytes: ArrayBuffer }
  | { id: number; seq: number; op: 'digest' };
/** Its answer to the message `seq` of hash `id`. */
export type HashReply = { id: number; seq: number; hex?: string; error?: string };

/** Pieces posted and not yet hashed, per hash: reading runs ahead of hashing by at most this many. */
const AHEAD = 2;

/**
 * Incremental SHA-256 in a Web Worker. `update` transfers the piece to the worker (no copy) and
 * resolves once fewer than AHEAD pieces wait there, so reading the next piece overlaps hashing
 * this one while memory stays bounded whatever the file's size.
 */
export class WorkerHashes {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<string, { resolve: (reply: HashReply) => void; reject: (err: Error) => void }>();

  constructor(private readonly spawn: () => Worker) {}

  create(): IncrementalHash {
    const id = this.nextId++;
    let seq = 0;
    const pending: Promise<HashReply>[] = [];
    return {
      update: async (bytes) => {
        // Transfer needs a buffer of its own: a view into a larger one would hand over bytes it does not own.
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
        pending.push(this.send({ id, seq: seq++, op: 'update', bytes: own.buffer as ArrayBuffer }, [own.buffer as ArrayBuffer]));
        while (pending.length >= AHEAD) await pending.shift();
      },
      digestHex: async () => {
        await Promise.all(pending.splice(0));
        return (await this.send({ id, seq: seq++, op: 'digest' })).hex!;
      },
    };
  }

  private send(request: HashRequest, transfer: Transferable[] = []): Promise<HashReply> {
    const worker = this.start();
    return new Promise<HashReply>((resolve, reject) => {
      this.waiting.set(`${request.id}:${request.seq}`, { resolve, reject });
      worker.postMessage(request, transfer);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = this.spawn();
    worker.onmessage = ({ data }: MessageEvent<HashReply>) => {
      const key = `${data.id}:${data.seq}`;
      const waiter = this.waiting.get(key);
      this.waiting.delete(key);
      if (data.error !== undefined) waiter?.reject(new Error(`hashing failed: ${data.error}`));
      else waiter?.resolve(data);
    };
    worker.onerror = (event) => {
      // The worker could not start or crashed: fail every hash waiting on it; the next starts a new one.
      event.preventDefault();
      const err = new Error(`the hashing worker failed: ${event.message || 'it could not be loaded'}`);
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
      worker.terminate();
      this.worker = undefined;
    };
    this.worker = worker;
    return worker;
  }
}
