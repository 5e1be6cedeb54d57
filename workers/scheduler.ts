/**
 * The scheduler process (Procfile `scheduler`): node-cron schedules that enqueue work, never do
 * it (src/processes/runScheduler.ts); run one or several (each job is enqueued once).
 */
import { loadConfig, requireSettings } from '../src/config.ts';
import { createLogger, createRedis, onShutdown, serveConfiguredMetrics } from '../src/processes/bootstrap.ts';
import { createProcessRegistry } from '../src/telemetry/createProcessRegistry.ts';
import { runScheduler } from '../src/processes/runScheduler.ts';

const config = requireSettings(loadConfig(), 'REDIS_URL');
const log = createLogger(config, 'scheduler');
const registry = createProcessRegistry('scheduler');
const metrics = await serveConfiguredMetrics(config, registry, log);
const redis = createRedis(config.REDIS_URL, log, 'scheduler');
const running = runScheduler(config, { redis, log }, { registry });
log.info(
  { staleSweep: config.STALE_SWEEP, sweepCron: config.SWEEP_CRON, analyzeCron: config.ANALYZE_CRON },
  'scheduler started',
);

onShutdown(log, async () => {
  await running.close();
  await metrics?.close();
  redis.disconnect();
});
