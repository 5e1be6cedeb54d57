/**
 * The scheduler process (Procfile `scheduler`): node-cron schedules that enqueue work, never
 * do it. The stale sweep (SPEC.md; STALE_SWEEP=off disables it) and the analyzer's jobs,
 * whose ids make two schedulers enqueue each job once.
 */
import { loadConfig, requireSettings } from '../src/config.ts';
import { scheduleSweep } from '../src/live/scheduleSweep.ts';
import { createLogger, createRedis, onShutdown } from '../src/live/startProcess.ts';

const config = requireSettings(loadConfig(), 'REDIS_URL');
const log = createLogger(config, 'scheduler');
const redis = createRedis(config.REDIS_URL, log, 'scheduler');
const stops: (() => void | Promise<void>)[] = [];

if (config.STALE_SWEEP) {
  stops.push(
    scheduleSweep({
      redis,
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      shards: config.SHARDS,
      graceMs: config.STALE_GRACE_MS,
      now: Date.now,
      cron: config.SWEEP_CRON,
      log,
    }),
  );
}
log.info({ staleSweep: config.STALE_SWEEP, sweepCron: config.SWEEP_CRON }, 'scheduler started');

onShutdown(log, async () => {
  for (const stop of stops) await stop();
  redis.disconnect();
});
