import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import { liveGuardsOf, liveOf, webAccessOf, type Config } from '../config.ts';
import { createProcessRegistry } from '../telemetry/createProcessRegistry.ts';
import { signalRejections } from '../telemetry/signalRejections.ts';
import { createWebServer } from '../web/createWebServer.ts';
import { v1Routes } from '../web/v1/v1Routes.ts';
import type { Running } from './Running.ts';

/**
 * The web process (Procfile `web`) with the `/v1` API (docs/API.md), wired and listening on HTTP_HOST:HTTP_PORT. `close` stops
 * accepting, lets requests in flight finish and closes the queues it opened.
 */
export async function runWeb(
  config: Config,
  clients: { redis: Redis; connection: Redis; pool: pg.Pool; log: Logger },
  overrides: {
    now?: () => number;
    /** More routes behind the same Host check, keys and rate limit (a benchmark's baseline). */
    routes?: (app: FastifyInstance) => Promise<void> | void;
  } = {},
): Promise<Running & { app: FastifyInstance; address: string }> {
  const registry = createProcessRegistry('web');
  const v1 = v1Routes({
    pool: clients.pool,
    redis: clients.redis,
    connection: clients.connection,
    prefix: config.QUEUE_PREFIX,
    shards: config.SHARDS,
    guards: liveGuardsOf(config),
    tickBatchSize: config.TICK_BATCH_SIZE,
    bodyLimit: config.HTTP_BODY_LIMIT_BYTES,
    log: clients.log,
    now: overrides.now ?? Date.now,
    onRejected: signalRejections(registry, 'http'),
  });
  const app = await createWebServer({
    redis: clients.redis,
    connection: clients.connection,
    pool: clients.pool,
    prefix: config.QUEUE_PREFIX,
    shards: config.SHARDS,
    log: clients.log,
    access: webAccessOf(config),
    now: overrides.now ?? Date.now,
    routes: async (scope) => {
      await v1(scope);
      await overrides.routes?.(scope);
    },
    live: liveOf(config),
    registry,
  });
  const address = await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
  return { app, address, close: () => app.close() };
}
