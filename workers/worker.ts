/**
 * The worker process (Procfile `worker`): intake workers, the tick workers of the shards it
 * serves (WORKER_SHARDS, default all) and the analyzer worker (src/processes/runWorker.ts).
 * Run any number of them.
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
  warnIfRedisNotPersistent,
} from '../src/processes/bootstrap.ts';
import { createProcessRegistry } from '../src/telemetry/createProcessRegistry.ts';
import { runWorker } from '../src/processes/runWorker.ts';

const started = guardStartup('worker');
const config = requireSettings(loadConfig(), 'DATABASE_URL');
const log = createLogger(config, 'worker');
const registry = createProcessRegistry('worker');
const metrics = await serveConfiguredMetrics(config, registry, log);
await migrateOnStart(config, log);
const redis = createRedis(redisTargetOf(config), log, 'worker');
const connection = createRedis(redisTargetOf(config), log, 'worker-bullmq');
const pool = createPool(config.DATABASE_URL, log, 'worker');
await warnIfRedisNotPersistent(redis, log);

const running = await runWorker(config, { redis, connection, pool, log }, { registry });
started();
onShutdown(log, async () => {
  await running.close();
  await metrics?.close();
  await pool.end();
  redis.disconnect();
  connection.disconnect();
});
// Announced once SIGTERM stops it gracefully: a supervisor may act on this line at once.
log.info({ shards: running.shards, pid: process.pid }, 'worker started');
