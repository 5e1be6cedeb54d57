import type { RedisClient } from '../RedisClient.ts';
import type pg from 'pg';
import type { Logger } from 'pino';
import { eventRetentionOf, type Config } from '../config.ts';
import { createFlusher, type Flusher } from '../live/createFlusher.ts';
import type { Registry } from 'prom-client';
import { createFlusherMetrics } from '../telemetry/createFlusherMetrics.ts';
import { createProcessRegistry } from '../telemetry/createProcessRegistry.ts';
import type { Running } from './Running.ts';

/**
 * The flusher process (Procfile `flusher`), wired and started: outboxes → PostgreSQL
 * (docs/OPERATIONS.md "Flusher"). `close` lets the batch in flight commit (or fail) first.
 */
export function runFlusher(
  config: Config,
  clients: { redis: RedisClient; pool: pg.Pool; log: Logger },
  overrides: { now?: () => number; registry?: Registry } = {},
): Running & { flusher: Flusher; registry: Registry } {
  const now = overrides.now ?? Date.now;
  const registry = overrides.registry ?? createProcessRegistry('flusher');
  const flusher = createFlusher({
    redis: clients.redis,
    pool: clients.pool,
    prefix: config.QUEUE_PREFIX,
    shards: config.SHARDS,
    batchSize: config.FLUSH_BATCH_SIZE,
    concurrency: config.FLUSH_CONCURRENCY,
    intervalMs: config.FLUSH_INTERVAL_MS,
    orphanGraceMs: config.FLUSH_ORPHAN_GRACE_MS,
    log: clients.log,
    now,
    events: eventRetentionOf(config),
    metrics: createFlusherMetrics(registry, now),
  });
  flusher.start();
  return { flusher, registry, close: () => flusher.close() };
}
