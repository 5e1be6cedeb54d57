import net from 'node:net';

/**
 * A TCP forwarder to a real service (Redis, PostgreSQL) that a test can cut and restore: cut,
 * it closes every connection and refuses new ones, as the service going down would look to its
 * clients; restored, it forwards again on the same port.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** A proxy on `port` to `target`, forwarding at once unless `refusing`. */
  static async start(
    target: { host: string; port: number },
    port: number,
    { refusing = false }: { refusing?: boolean } = {},
  ): Promise<TcpProxy> {
    const proxy = new TcpProxy(port, target);
    if (!refusing) await proxy.restore();
    return proxy;
  }

  /** Forwards again (listens on its port). */
  async restore(): Promise<void> {
    if (this.server !== null) return;
    const server = net.createServer((socket) => {
      const upstream = net.connect(this.target.port, this.target.host);
      this.sockets.add(socket).add(upstream);
      const end = (): void => {
        socket.destroy();
        upstream.destroy();
        this.sockets.delete(socket);
        this.sockets.delete(upstream);
      };
      socket.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise((resolve) => server.close(resolve));
  }

  close(): Promise<void> {
    return this.cut();
  }
}
