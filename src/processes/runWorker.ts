import type { RedisClient } from '../RedisClient.ts';
import type pg from 'pg';
import type { Logger } from 'pino';
import { createAnalyzeWorker } from '../analyzer/analyzeWorker.ts';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  eventRetentionOf,
  jobRetentionOf,
  liveGuardsOf,
  parseShardList,
  webhookOptionsOf,
  type Config,
} from '../config.ts';
import { createWebhookFeeder } from '../events/createWebhookFeeder.ts';
import { createWebhookWorker } from '../events/createWebhookWorker.ts';
import { createIntakeWorkers } from '../live/createIntakeWorkers.ts';
import { createShardWorkers } from '../live/createShardWorkers.ts';
import type { Registry } from 'prom-client';
import { createProcessRegistry } from '../telemetry/createProcessRegistry.ts';
import { createWorkerMetrics } from '../telemetry/createWorkerMetrics.ts';
import type { Running } from './Running.ts';

export interface WorkerClients {
  /** Checkpoints, lookups, the intake's own keys. */
  redis: RedisClient;
  /** BullMQ's connection (`maxRetriesPerRequest: null`). */
  connection: RedisClient;
  pool: pg.Pool;
  log: Logger;
}

export interface WorkerOverrides {
  /** The wall clock. @defaultValue Date.now */
  now?: () => number;
  /** The Prometheus registry to count in. @defaultValue a new one (createProcessRegistry) */
  registry?: Registry;
}

/**
 * The worker process (Procfile `worker`), wired: intake workers (track-signal, signal-ops), the
 * tick workers of the shards it serves (WORKER_SHARDS), the analyzer worker, and the webhook
 * side: a member of the events stream's consumer group feeding the `webhooks` queue, and the
 * delivery worker. The process
 * entry point, tests and benchmarks all run this wiring.
 */
export async function runWorker(
  config: Config,
  clients: WorkerClients,
  overrides: WorkerOverrides = {},
): Promise<Running & { shards: number[]; registry: Registry }> {
  const { redis, connection, pool, log } = clients;
  const now = overrides.now ?? Date.now;
  const shards = parseShardList(config.WORKER_SHARDS, config.SHARDS);
  const registry = overrides.registry ?? createProcessRegistry('worker');
  const metrics = createWorkerMetrics(registry, now, shards);
  const retention = jobRetentionOf(config);
  const intake = createIntakeWorkers({
    connection,
    redis,
    prefix: config.QUEUE_PREFIX,
    pool,
    shards: config.SHARDS,
    concurrency: config.INTAKE_CONCURRENCY,
    opWaitMs: config.OP_WAIT_FOR_SIGNAL_MS,
    transientRetryMs: config.TRANSIENT_RETRY_MS,
    maxStalledCount: config.MAX_STALLED_COUNT,
    guards: liveGuardsOf(config),
    retention,
    log,
    now,
    events: eventRetentionOf(config),
    metrics: metrics.intake,
  });
  const ticks = await createShardWorkers({
    connection,
    redis,
    prefix: config.QUEUE_PREFIX,
    shards,
    bufferSize: config.TICK_BUFFER_SIZE,
    lockDurationMs: config.LOCK_DURATION_MS,
    maxStalledCount: config.MAX_STALLED_COUNT,
    maxClockSkewMs: config.MAX_CLOCK_SKEW_MS,
    log,
    now,
    onCommitted: metrics.onShardCommitted,
  });
  const analyze = createAnalyzeWorker({
    connection,
    prefix: config.QUEUE_PREFIX,
    pool,
    log,
    now,
    retention,
    transientRetryMs: config.TRANSIENT_RETRY_MS,
    analyzer: { sizing: { sizing: config.ANALYZE_SIZING, riskFraction: config.ANALYZE_RISK_FRACTION } },
  });
  const webhooks = webhookOptionsOf(config);
  const feeder = createWebhookFeeder({
    redis,
    connection,
    prefix: config.QUEUE_PREFIX,
    pool,
    log,
    consumer: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    attempts: webhooks.attempts,
    backoffMs: webhooks.backoffMs,
    now,
  });
  const deliver = createWebhookWorker({
    connection,
    prefix: config.QUEUE_PREFIX,
    pool,
    log,
    allowPrivate: webhooks.allowPrivate,
    timeoutMs: webhooks.timeoutMs,
    transientRetryMs: config.TRANSIENT_RETRY_MS,
    maxStalledCount: config.MAX_STALLED_COUNT,
    lockDurationMs: config.LOCK_DURATION_MS,
    now,
  });
  metrics.watchWebhooks(deliver);
  return {
    shards,
    registry,
    async close() {
      await Promise.all([intake.close(), ticks.close(), analyze.close(), feeder.close(), deliver.close()]);
    },
  };
}
