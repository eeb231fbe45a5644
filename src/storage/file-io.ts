import { writev } from 'node:fs';

/**
 * Writes every byte of the chunks at `position`, however many calls that takes; returns the count.
 * Calls after the first go to `restFd`: a direct write cut short leaves the rest at a position
 * only the page cache takes.
 */
export async function writevFully(fd: number, chunks: readonly Buffer[], position: number, restFd = fd): Promise<number> {
  let pending = chunks;
  let at = position;
  let target = fd;
  while (pending.length > 0) {
    const through = target;
    const written = await new Promise<number>((resolve, reject) => {
      writev(through, pending as Buffer[], at, (err, bytes) => (err ? reject(err) : resolve(bytes)));
    });
    if (written === 0) throw Object.assign(new Error('the file took no bytes'), { code: 'EIO' });
    at += written;
    pending = dropWritten(pending, written);
    target = restFd;
  }
  return at - position;
}

function dropWritten(buffers: readonly Buffer[], bytes: number): readonly Buffer[] {
  let skip = bytes;
  let index = 0;
  while (index < buffers.length && skip >= buffers[index]!.length) {
    skip -= buffers[index]!.length;
    index += 1;
  }
  const rest = buffers.slice(index);
  if (skip > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(skip);
  return rest;
}
