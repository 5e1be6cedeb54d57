/**
 * The flusher process (Procfile `flusher`): moves outcomes and operation results from the
 * shards' Redis outboxes to PostgreSQL (docs/OPERATIONS.md "Flusher"; src/processes/runFlusher.ts).
 * Any number may run; one is usually enough.
 */
import { loadConfig, redisTargetOf, requireSettings } from '../src/config.ts';
import {
  createLogger,
  guardStartup,
  migrateOnStart,
  createPool,
  createRedis,
  onShutdown,
  serveConfiguredMetrics,
} from '../src/processes/bootstrap.ts';
import { createProcessRegistry } from '../src/telemetry/createProcessRegistry.ts';
import { runFlusher } from '../src/processes/runFlusher.ts';

const started = guardStartup('flusher');
const config = requireSettings(loadConfig(), 'DATABASE_URL');
const log = createLogger(config, 'flusher');
const registry = createProcessRegistry('flusher');
const metrics = await serveConfiguredMetrics(config, registry, log);
await migrateOnStart(config, log);
const redis = createRedis(redisTargetOf(config), log, 'flusher');
// A transaction for each shard drained at once, and a spare one.
const pool = createPool(config.DATABASE_URL, log, 'flusher', config.FLUSH_CONCURRENCY + 1);

const running = runFlusher(config, { redis, pool, log }, { registry });
started();
onShutdown(log, async () => {
  await running.close(); // the batch in flight commits (or fails) first; no new one starts
  await metrics?.close();
  await pool.end();
  redis.disconnect();
});
// Announced once SIGTERM stops it gracefully: a supervisor may act on this line at once.
log.info(
  {
    shards: config.SHARDS,
    batchSize: config.FLUSH_BATCH_SIZE,
    concurrency: config.FLUSH_CONCURRENCY,
    pid: process.pid,
  },
  'flusher started',
);
