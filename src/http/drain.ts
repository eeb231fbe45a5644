import type { ServerResponse } from 'node:http';
import { FerryError } from '../core/errors.js';

/** Probes and metrics: a draining node still answers them (readiness then says it is going away). */
export const OPERATIONAL_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The requests a node has in flight, and whether it is shutting down. Once draining, a request that
 * arrives on a connection that was already open is refused with 503 (the client retries elsewhere),
 * and every connection closes after its current response, so keep-alive clients and proxies reconnect
 * to another node instead of sending more to this one.
 */
export class Drain {
  private readonly open = new Set<ServerResponse>();
  private stopping = false;
  private emptied: (() => void) | null = null;

  get draining(): boolean {
    return this.stopping;
  }

  /**
   * Counts the request until its handler is done (a cut upload has then recorded its offset and
   * released its lock, which can be well after its connection closed).
   */
  track(response: ServerResponse, handling: Promise<void>): void {
    this.open.add(response);
    void handling.finally(() => {
      this.open.delete(response);
      if (this.open.size === 0) this.emptied?.();
    });
  }

  /** Throws the 503 for a request the node no longer takes; a draining node closes every connection after its answer. */
  admit(path: string, response: ServerResponse): void {
    if (!this.stopping) return;
    response.setHeader('Connection', 'close');
    if (!OPERATIONAL_PATHS.has(path)) {
      response.setHeader('Retry-After', '1');
      throw new FerryError('service_unavailable', 'this node is shutting down: retry, another node will answer');
    }
  }

  /** From now on new requests are refused and the requests in flight are the last on their connections. */
  begin(): void {
    this.stopping = true;
    for (const response of this.open) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
    }
  }

  /** True once no request is in flight; false when `ms` ran out first. */
  async settled(ms: number): Promise<boolean> {
    if (this.open.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<boolean>((resolve) => {
        this.emptied = () => resolve(true);
        timer = setTimeout(() => resolve(false), ms);
      });
    } finally {
      clearTimeout(timer);
      this.emptied = null;
    }
  }
}
