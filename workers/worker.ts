/**
 * The worker process (Procfile `worker`): intake workers (track-signal, signal-ops), the
 * tick workers of the shards it serves (WORKER_SHARDS, default all) and the analyzer worker.
 * Run any number of them.
 */
import {
  jobRetentionOf,
  liveGuardsOf,
  loadConfig,
  parseShardList,
  requireSettings,
  retentionOf,
} from '../src/config.ts';
import { createAnalyzeWorker } from '../src/analyzer/analyzeWorker.ts';
import { createIntakeWorkers } from '../src/live/createIntakeWorkers.ts';
import { createShardWorkers } from '../src/live/createShardWorkers.ts';
import {
  createLogger,
  createPool,
  createRedis,
  onShutdown,
  warnIfRedisNotPersistent,
} from '../src/live/startProcess.ts';
import { migrate } from '../src/storage/migrate.ts';

const config = requireSettings(loadConfig(), 'REDIS_URL', 'DATABASE_URL');
const log = createLogger(config, 'worker');
if (config.MIGRATE_ON_START)
  await migrate({ databaseUrl: config.DATABASE_URL, log, retention: retentionOf(config) });
const redis = createRedis(config.REDIS_URL, log, 'worker');
const connection = createRedis(config.REDIS_URL, log, 'worker-bullmq');
const pool = createPool(config.DATABASE_URL, log, 'worker');
const shards = parseShardList(config.WORKER_SHARDS, config.SHARDS);
await warnIfRedisNotPersistent(redis, log);

const intake = createIntakeWorkers({
  connection,
  redis,
  prefix: config.QUEUE_PREFIX,
  pool,
  shards: config.SHARDS,
  concurrency: config.INTAKE_CONCURRENCY,
  opWaitMs: config.OP_WAIT_FOR_SIGNAL_MS,
  transientRetryMs: config.TRANSIENT_RETRY_MS,
  guards: liveGuardsOf(config),
  retention: jobRetentionOf(config),
  log,
  now: Date.now,
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
  now: Date.now,
});
const analyze = createAnalyzeWorker({
  connection,
  prefix: config.QUEUE_PREFIX,
  pool,
  log: log.child({ queue: 'analyze' }),
  retention: jobRetentionOf(config),
  analyzer: { sizing: { sizing: config.ANALYZE_SIZING, riskFraction: config.ANALYZE_RISK_FRACTION } },
});
analyze.on('error', (err) => log.error({ err }, 'analyze worker error'));
log.info({ shards, pid: process.pid }, 'worker started');

onShutdown(log, async () => {
  await Promise.all([intake.close(), ticks.close(), analyze.close()]);
  await pool.end();
  redis.disconnect();
  connection.disconnect();
});
