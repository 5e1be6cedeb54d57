import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue, type ConnectionOptions } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type pg from 'pg';
import { QUEUE_NAMES, shardQueueName } from '../live/keys.ts';
import { checkHealth } from './checkHealth.ts';
import { createMetricsRegistry } from './createMetricsRegistry.ts';

export interface WebServerOptions {
  /** A Redis client for health checks and outbox sizes. */
  redis: Redis;
  /** BullMQ connection of the queues shown in Bull Board (a client to share, or options). */
  connection: ConnectionOptions;
  pool: pg.Pool;
  /** QUEUE_PREFIX. */
  prefix: string;
  /** SHARDS. */
  shards: number;
  log: Logger;
}

/** Where Bull Board is served. */
export const BULL_BOARD_PATH = '/admin/queues';

/**
 * The HTTP side (docs/OPERATIONS.md "Web"): `GET /health`, Bull Board at `/admin/queues` and
 * `GET /metrics`. Returns the fastify instance, ready but not listening; closing it closes the
 * queues it opened (not `redis`, `connection` or `pool`, which the caller owns).
 */
export async function createWebServer(opts: WebServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: opts.log.child({ component: 'web' }) }) as unknown as FastifyInstance;

  const names = [
    QUEUE_NAMES.trackSignal,
    QUEUE_NAMES.signalOps,
    QUEUE_NAMES.analyze,
    ...Array.from({ length: opts.shards }, (_, n) => shardQueueName(n)),
  ];
  const queues = names.map((name) => {
    const queue = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
    queue.on('error', (err) => opts.log.error({ err, queue: name }, 'queue error'));
    return queue;
  });
  app.addHook('onClose', async () => {
    await Promise.all(queues.map((q) => q.close()));
  });

  const board = new FastifyAdapter();
  createBullBoard({
    queues: queues.map(
      (queue, i) =>
        new BullMQAdapter(queue, {
          // A shard queue's jobs must run once and in order (DESIGN.md decision 3): retrying,
          // promoting or removing one by hand would reorder or drop ticks. Look, don't touch.
          readOnlyMode: i >= 3,
          description: i >= 3 ? `tick shard ${i - 3} (read-only: order matters)` : '',
        }),
    ),
    serverAdapter: board,
  });
  board.setBasePath(BULL_BOARD_PATH);
  await app.register(board.registerPlugin(), { prefix: BULL_BOARD_PATH });

  const registry = createMetricsRegistry({
    redis: opts.redis,
    queues,
    prefix: opts.prefix,
    shards: opts.shards,
    log: opts.log,
  });

  // Probes and scrapes arrive every few seconds: their requests are logged only when they fail.
  const quiet = { logLevel: 'warn' as const };
  app.get('/health', quiet, async (_request, reply) => {
    const report = await checkHealth(opts.redis, opts.pool, opts.prefix);
    // Degraded is still alive: the intake is waiting, not failing (a restart would not help).
    return reply.code(report.status === 'error' ? 503 : 200).send(report);
  });

  app.get('/metrics', quiet, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });

  await app.ready();
  return app;
}
