import { Queue } from 'bullmq';
import { isCluster, type RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import { scheduleAnalyze } from '../analyzer/scheduleAnalyze.ts';
import type { Config } from '../config.ts';
import { QUEUE_NAMES, queueNameOn } from '../names.ts';
import { scheduleSweep } from '../live/scheduleSweep.ts';
import type { Running } from './Running.ts';

/**
 * The scheduler process (Procfile `scheduler`), wired: node-cron schedules that enqueue work,
 * never do it. The stale sweep (STALE_SWEEP=off disables it) and the analyzer's jobs, whose ids
 * make several schedulers enqueue each job once.
 */
export function runScheduler(
  config: Config,
  clients: { redis: RedisClient; log: Logger },
  overrides: { now?: () => number } = {},
): Running {
  const { redis, log } = clients;
  const now = overrides.now ?? Date.now;
  const stops: (() => void | Promise<void>)[] = [];
  if (config.STALE_SWEEP) {
    stops.push(
      scheduleSweep({
        redis,
        connection: redis,
        prefix: config.QUEUE_PREFIX,
        shards: config.SHARDS,
        graceMs: config.STALE_GRACE_MS,
        now,
        cron: config.SWEEP_CRON,
        log,
      }),
    );
  }
  const analyzeQueue = new Queue(queueNameOn(QUEUE_NAMES.analyze, isCluster(redis)), {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
  });
  analyzeQueue.on('error', (err) => log.error({ err }, 'analyze queue error'));
  stops.push(scheduleAnalyze({ queue: analyzeQueue, cron: config.ANALYZE_CRON, log, now }));
  stops.push(() => analyzeQueue.close());
  return {
    async close() {
      for (const stop of stops) await stop();
    },
  };
}
