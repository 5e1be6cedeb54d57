/**
 * The scheduler process (Procfile `scheduler`): node-cron schedules that enqueue work, never
 * do it; run one or several (each job is enqueued once). The stale sweep (SPEC.md; STALE_SWEEP=off disables it) and the analyzer's jobs,
 * whose ids make two schedulers enqueue each job once.
 */
import { loadConfig, requireSettings } from '../src/config.ts';
import { Queue } from 'bullmq';
import { scheduleAnalyze } from '../src/analyzer/scheduleAnalyze.ts';
import { QUEUE_NAMES } from '../src/live/keys.ts';
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
const analyzeQueue = new Queue(QUEUE_NAMES.analyze, { connection: redis, prefix: config.QUEUE_PREFIX });
analyzeQueue.on('error', (err) => log.error({ err }, 'analyze queue error'));
stops.push(scheduleAnalyze({ queue: analyzeQueue, cron: config.ANALYZE_CRON, log, now: Date.now }));
stops.push(() => analyzeQueue.close());
log.info(
  { staleSweep: config.STALE_SWEEP, sweepCron: config.SWEEP_CRON, analyzeCron: config.ANALYZE_CRON },
  'scheduler started',
);

onShutdown(log, async () => {
  for (const stop of stops) await stop();
  redis.disconnect();
});
