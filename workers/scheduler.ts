/**
 * The scheduler process (Procfile `scheduler`): node-cron schedules that enqueue work, never do
 * it (src/processes/runScheduler.ts); run one or several (each job is enqueued once).
 */
import { loadConfig, redisTargetOf } from '../src/config.ts';
import {
  createLogger,
  guardStartup,
  createPool,
  createRedis,
  onShutdown,
  serveConfiguredMetrics,
} from '../src/processes/bootstrap.ts';
import { createProcessRegistry } from '../src/telemetry/createProcessRegistry.ts';
import { runScheduler } from '../src/processes/runScheduler.ts';

const started = guardStartup('scheduler');
const config = loadConfig();
const log = createLogger(config, 'scheduler');
const registry = createProcessRegistry('scheduler');
const metrics = await serveConfiguredMetrics(config, registry, log);
const redis = createRedis(redisTargetOf(config), log, 'scheduler');
// The daily regulatory reports and the pruning of webhook delivery attempts need PostgreSQL;
// without DATABASE_URL the scheduler runs without them.
const pool =
  config.DATABASE_URL === undefined ? undefined : createPool(config.DATABASE_URL, log, 'scheduler', 2);
if (pool === undefined)
  log.warn('DATABASE_URL is not set: no daily regulatory reports are written, no webhook deliveries pruned');
const running = runScheduler(config, { redis, log, ...(pool ? { pool } : {}) }, { registry });
started();
onShutdown(log, async () => {
  await running.close();
  await metrics?.close();
  await pool?.end();
  redis.disconnect();
});
// Announced once SIGTERM stops it gracefully: a supervisor may act on this line at once.
log.info(
  {
    staleSweep: config.STALE_SWEEP,
    sweepCron: config.SWEEP_CRON,
    analyzeCron: config.ANALYZE_CRON,
    reportCron: pool ? config.REPORT_CRON : null,
    deliveriesKeptDays: pool ? config.WEBHOOK_DELIVERIES_RETENTION_DAYS || null : null,
  },
  'scheduler started',
);
