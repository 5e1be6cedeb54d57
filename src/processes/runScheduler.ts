import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { scheduleAnalyze } from '../analyzer/scheduleAnalyze.ts';
import type { Config } from '../config.ts';
import { QUEUE_NAMES } from '../names.ts';
import { scheduleSweep } from '../live/scheduleSweep.ts';
import type { Registry } from 'prom-client';
import { createProcessRegistry } from '../telemetry/createProcessRegistry.ts';
import { createSchedulerMetrics } from '../telemetry/createSchedulerMetrics.ts';
import type { Running } from './Running.ts';

/**
 * The scheduler process (Procfile `scheduler`), wired: node-cron schedules that enqueue work,
 * never do it. The stale sweep (STALE_SWEEP=off disables it) and the analyzer's jobs, whose ids
 * make several schedulers enqueue each job once.
 */
export function runScheduler(
  config: Config,
  clients: { redis: Redis; log: Logger },
  overrides: { now?: () => number; registry?: Registry } = {},
): Running & { registry: Registry } {
  const { redis, log } = clients;
  const now = overrides.now ?? Date.now;
  const registry = overrides.registry ?? createProcessRegistry('scheduler');
  const runsOf = createSchedulerMetrics(registry);
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
        onRun: runsOf('sweep'),
      }),
    );
  }
  const analyzeQueue = new Queue(QUEUE_NAMES.analyze, { connection: redis, prefix: config.QUEUE_PREFIX });
  analyzeQueue.on('error', (err) => log.error({ err }, 'analyze queue error'));
  stops.push(
    scheduleAnalyze({ queue: analyzeQueue, cron: config.ANALYZE_CRON, log, now, onRun: runsOf('analyze') }),
  );
  stops.push(() => analyzeQueue.close());
  return {
    registry,
    async close() {
      for (const stop of stops) await stop();
    },
  };
}
