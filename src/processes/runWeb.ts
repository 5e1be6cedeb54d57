import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import { liveOf, webAccessOf, type Config } from '../config.ts';
import { createWebServer } from '../web/createWebServer.ts';
import type { Running } from './Running.ts';

/**
 * The web process (Procfile `web`), wired and listening on HTTP_HOST:HTTP_PORT. `close` stops
 * accepting, lets requests in flight finish and closes the queues it opened.
 */
export async function runWeb(
  config: Config,
  clients: { redis: Redis; connection: Redis; pool: pg.Pool; log: Logger },
): Promise<Running & { app: FastifyInstance }> {
  const app = await createWebServer({
    redis: clients.redis,
    connection: clients.connection,
    pool: clients.pool,
    prefix: config.QUEUE_PREFIX,
    shards: config.SHARDS,
    log: clients.log,
    access: webAccessOf(config),
    live: liveOf(config),
  });
  await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
  return { app, close: () => app.close() };
}
