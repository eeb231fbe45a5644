/**
 * A TCP relay between Ferry and one of its services, which a test can cut and restore as if the
 * service were stopped and started again, without touching the real service (other tests and other
 * machines' sessions share it). cut() closes every relayed connection and stops listening, so new
 * connections are refused (ECONNREFUSED), as with a stopped server; restore() listens again on the
 * same port, so URLs handed out before the cut stay valid.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private currentPort = 0;
  /** Connections relayed so far, for tests that want to know the service was really used. */
  connections = 0;

  private constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  /** A relay on a free loopback port to host:port. */
  static async start(targetHost: string, targetPort: number): Promise<Relay> {
    const relay = new Relay(targetHost, targetPort);
    await relay.listen(0);
    return relay;
  }

  /** A relay to the host and port of `url` (default port when the URL has none). */
  static async forUrl(url: string, defaultPort: number): Promise<Relay> {
    const parsed = new URL(url);
    return Relay.start(parsed.hostname, Number(parsed.port || defaultPort));
  }

  get port(): number {
    return this.currentPort;
  }

  get up(): boolean {
    return this.server !== null;
  }

  /** `url` with its host and port replaced by the relay's. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.currentPort);
    return parsed.toString();
  }

  /** Drops every relayed connection and refuses new ones until restore(). */
  async cut(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = once(server, 'close');
    server.close();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (this.server) return;
    await this.listen(this.currentPort);
  }

  /** Cuts for good. */
  close(): Promise<void> {
    return this.cut();
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((client) => this.relay(client));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.currentPort = (server.address() as { port: number }).port;
  }

  private relay(client: Socket): void {
    this.connections += 1;
    const upstream = connect(this.targetPort, this.targetHost);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }
}
