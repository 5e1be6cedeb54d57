/**
 * The scheduler process (Procfile `scheduler`): node-cron schedules that enqueue work, never do
 * it (src/processes/runScheduler.ts); run one or several (each job is enqueued once).
 */
import { loadConfig, redisTargetOf } from '../src/config.ts';
import { createLogger, createRedis, onShutdown } from '../src/processes/bootstrap.ts';
import { runScheduler } from '../src/processes/runScheduler.ts';

const config = loadConfig();
const log = createLogger(config, 'scheduler');
const redis = createRedis(redisTargetOf(config), log, 'scheduler');
const running = runScheduler(config, { redis, log });
log.info(
  { staleSweep: config.STALE_SWEEP, sweepCron: config.SWEEP_CRON, analyzeCron: config.ANALYZE_CRON },
  'scheduler started',
);

onShutdown(log, async () => {
  await running.close();
  redis.disconnect();
});
