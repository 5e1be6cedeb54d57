/**
 * The worker process (Procfile `worker`): intake workers, the tick workers of the shards it
 * serves (WORKER_SHARDS, default all) and the analyzer worker (src/processes/runWorker.ts).
 * Run any number of them.
 */
import { loadConfig, redisTargetOf, requireSettings, retentionOf } from '../src/config.ts';
import {
  createLogger,
  createPool,
  createRedis,
  onShutdown,
  warnIfRedisNotPersistent,
} from '../src/processes/bootstrap.ts';
import { runWorker } from '../src/processes/runWorker.ts';
import { migrate } from '../src/storage/migrate.ts';

const config = requireSettings(loadConfig(), 'DATABASE_URL');
const log = createLogger(config, 'worker');
if (config.MIGRATE_ON_START)
  await migrate({ databaseUrl: config.DATABASE_URL, log, retention: retentionOf(config) });
const redis = createRedis(redisTargetOf(config), log, 'worker');
const connection = createRedis(redisTargetOf(config), log, 'worker-bullmq');
const pool = createPool(config.DATABASE_URL, log, 'worker');
await warnIfRedisNotPersistent(redis, log);

const running = await runWorker(config, { redis, connection, pool, log });
log.info({ shards: running.shards, pid: process.pid }, 'worker started');

onShutdown(log, async () => {
  await running.close();
  await pool.end();
  redis.disconnect();
  connection.disconnect();
});
