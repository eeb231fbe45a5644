import { createHash, timingSafeEqual } from 'node:crypto';

/** One business server, as configured: its shared token and where its callbacks go. */
export interface BusinessServer {
  readonly token: string;
  readonly notifyUrl: string;
  /** A short, stable, non-secret name for the server: it scopes its users and tasks. */
  readonly tag: string;
}

/**
 * The configured business servers (FERRY_FUPLOAD_CLIENTS). A token is a secret: it is compared in
 * constant time against every configured one, so neither the match nor its position leaks.
 */
export class BusinessServers {
  private readonly servers: readonly BusinessServer[];

  constructor(clients: Readonly<Record<string, string>>) {
    this.servers = Object.entries(clients).map(([token, notifyUrl]) => ({ token, notifyUrl, tag: createHash('sha256').update(token).digest('hex').slice(0, 8) }));
  }

  byToken(token: unknown): BusinessServer | null {
    const presented = digest(typeof token === 'string' ? token : '');
    let found: BusinessServer | null = null;
    for (const server of this.servers) if (timingSafeEqual(presented, digest(server.token))) found = server;
    return found;
  }

  byTag(tag: string): BusinessServer | null {
    return this.servers.find((server) => server.tag === tag) ?? null;
  }

  /** The secret that signs callbacks to a notify URL; '' when none is configured for it. */
  secretFor(notifyUrl: string): string | null {
    return this.servers.find((server) => server.notifyUrl === notifyUrl)?.token ?? null;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
