/** Buffers kept in the order they arrived, taken from the front by byte count without copying. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private length = 0;

  /** Bytes queued. */
  get bytes(): number {
    return this.length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Removes the first `count` bytes, as slices of the buffers they arrived in. */
  take(count: number): Buffer[] {
    const taken: Buffer[] = [];
    let left = count;
    while (left > 0) {
      const head = this.chunks[0]!;
      if (head.length <= left) {
        taken.push(head);
        this.chunks.shift();
        left -= head.length;
      } else {
        taken.push(head.subarray(0, left));
        this.chunks[0] = head.subarray(left);
        left = 0;
      }
    }
    this.length -= count;
    return taken;
  }

  /** The queued bytes from `skip` on, as slices, leaving the queue as it is. */
  from(skip: number): Buffer[] {
    const slices: Buffer[] = [];
    let left = skip;
    for (const chunk of this.chunks) {
      if (left >= chunk.length) {
        left -= chunk.length;
      } else {
        slices.push(left > 0 ? chunk.subarray(left) : chunk);
        left = 0;
      }
    }
    return slices;
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }
}
