import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  /** `http://host:port`, the port chosen when it was 0. */
  address: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) on `host:port` for the worker, flusher and
 * scheduler (METRICS_HOST, METRICS_PORT); anything else gets 404. No key: it says how the
 * pipeline runs, not what it holds, and it listens on loopback unless told otherwise.
 * Rejects when the port cannot be had (taken, not permitted): the process should not start
 * half-observable.
 */
export async function serveMetrics(
  registry: Registry,
  opts: { host: string; port: number; log: Logger },
): Promise<MetricsServer> {
  const log = opts.log.child({ component: 'metrics' });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? '' : text);
      },
      (err: unknown) => {
        log.warn({ err }, 'metrics: scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.warn({ err }, 'metrics server error'));
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  log.info({ address: url }, 'metrics served');
  return {
    address: url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
