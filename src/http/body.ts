import type { Readable } from 'node:stream';
import type { RequestBody } from '../core/append.js';

/**
 * A request body as the core reads it: the network's chunks one by one, as they arrived.
 *
 * A Readable's own async iterator calls read(), which joins every buffered chunk into a fresh
 * buffer: under load that copies each byte again and makes large short-lived allocations that keep
 * the garbage collector busy. Here chunks are handed over untouched, and the socket is paused once
 * `highWaterMark` bytes wait unread.
 */
export function requestBody(stream: Readable, highWaterMark = 256 * 1024): RequestBody {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };

  function listen(): void {
    // The body is read only once the upload is locked and checked: it may have ended or broken by then.
    if (stream.destroyed && !stream.readableEnded) failure = stream.errored ?? new Error('the request ended before its body did');
    stream.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= highWaterMark) stream.pause();
      notify();
    });
    stream.once('end', () => { ended = true; notify(); });
    stream.once('error', (err: Error) => { failure ??= err; notify(); });
    stream.once('close', () => {
      if (!ended) failure ??= new Error('the request ended before its body did');
      notify();
    });
  }

  return {
    destroy: (error?: Error) => { stream.destroy(error); },
    async *[Symbol.asyncIterator]() {
      listen();
      for (;;) {
        const chunk = queue.shift();
        if (chunk !== undefined) {
          queued -= chunk.length;
          if (queued < highWaterMark && stream.isPaused()) stream.resume();
          yield chunk;
          continue;
        }
        if (failure) throw failure;
        if (ended) return;
        await new Promise<void>((resolve) => { wake = resolve; });
      }
    },
  };
}
