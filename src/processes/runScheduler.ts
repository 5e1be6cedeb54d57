import { Queue } from 'bullmq';
import { isCluster, type RedisClient } from '../RedisClient.ts';
import type pg from 'pg';
import type { Logger } from 'pino';
import { scheduleAnalyze } from '../analyzer/scheduleAnalyze.ts';
import type { Config } from '../config.ts';
import { QUEUE_NAMES, queueNameOn } from '../names.ts';
import { scheduleSweep } from '../live/scheduleSweep.ts';
import type { Registry } from 'prom-client';
import { createProcessRegistry } from '../telemetry/createProcessRegistry.ts';
import { createSchedulerMetrics } from '../telemetry/createSchedulerMetrics.ts';
import { writeDailyReports } from '../reports/writeDailyReports.ts';
import { pruneWebhookDeliveries } from '../storage/pruneWebhookDeliveries.ts';
import { scheduleRecurring } from './scheduleRecurring.ts';
import type { Running } from './Running.ts';

/**
 * The scheduler process (Procfile `scheduler`), wired: node-cron schedules that enqueue work,
 * never do it. The stale sweep (STALE_SWEEP=off disables it) and the analyzer's jobs, whose ids
 * make several schedulers enqueue each job once. The exceptions, given a PostgreSQL pool: the
 * daily regulatory reports, a few small statements written directly (their primary key makes
 * several schedulers write each once; a queue and worker would add nothing), and the pruning
 * of old webhook delivery attempts (WEBHOOK_DELIVERIES_RETENTION_DAYS; two schedulers pruning
 * at once delete each row once).
 */
export function runScheduler(
  config: Config,
  clients: { redis: RedisClient; log: Logger; pool?: pg.Pool },
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
  const analyzeQueue = new Queue(queueNameOn(QUEUE_NAMES.analyze, isCluster(redis)), {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
  });
  analyzeQueue.on('error', (err) => log.error({ err }, 'analyze queue error'));
  stops.push(
    scheduleAnalyze({
      queue: analyzeQueue,
      redis,
      prefix: config.QUEUE_PREFIX,
      cron: config.ANALYZE_CRON,
      log,
      now,
      onRun: runsOf('analyze'),
    }),
  );
  stops.push(() => analyzeQueue.close());
  const pool = clients.pool;
  if (pool) {
    stops.push(
      scheduleRecurring({
        name: 'regulatory-reports',
        cron: config.REPORT_CRON,
        log,
        // Each run writes only the days still missing: ticks more frequent than daily cost one small query.
        run: (runLog) => writeDailyReports({ db: pool, now, log: runLog }),
        failure: 'daily regulatory reports could not be written; next run retries',
      }),
    );
    const retentionMs = config.WEBHOOK_DELIVERIES_RETENTION_DAYS * 86_400_000;
    if (retentionMs > 0) {
      stops.push(
        scheduleRecurring({
          name: 'webhook-deliveries-pruning',
          cron: config.PRUNE_CRON,
          log,
          run: async (runLog) => {
            const deleted = await pruneWebhookDeliveries(pool, now() - retentionMs);
            if (deleted > 0) runLog.info({ deleted }, 'old webhook delivery attempts pruned');
          },
          failure: 'old webhook delivery attempts could not be pruned; next run retries',
        }),
      );
    }
  }
  return {
    registry,
    async close() {
      for (const stop of stops) await stop();
    },
  };
}
