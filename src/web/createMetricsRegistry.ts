import type { Queue } from 'bullmq';
import type { RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { ShardKeys } from '../names.ts';
import { withTimeout } from './checkHealth.ts';

/** The job states `/metrics` reports per queue. */
export const QUEUE_METRIC_STATES = ['waiting', 'active', 'failed'] as const;

export interface MetricsOptions {
  redis: RedisClient;
  queues: Queue[];
  prefix: string;
  shards: number;
  log: Logger;
  /** Longest a scrape waits for Redis. @defaultValue 2000 */
  timeoutMs?: number;
}

/**
 * The Prometheus registry of the web process: the default process metrics, and gauges read
 * from Redis on each scrape (docs/OPERATIONS.md "Web"):
 * - `outcome_tracker_queue_jobs{queue, state}`: jobs waiting / active / failed per queue;
 * - `outcome_tracker_outbox_entries{shard}`: entries awaiting the flusher per shard.
 * A registry of its own rather than prom-client's global one, so that two servers in one
 * process (tests) do not collide. When Redis does not answer, the gauges are left empty for
 * that scrape (and the failure logged) rather than failing the process metrics too.
 */
export function createMetricsRegistry(opts: MetricsOptions): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const timeoutMs = opts.timeoutMs ?? 2000;
  const outboxKeys = Array.from({ length: opts.shards }, (_, n) => new ShardKeys(opts.prefix, n));

  new Gauge({
    name: 'outcome_tracker_queue_jobs',
    help: 'Jobs per BullMQ queue and state (waiting, active, failed), read on scrape.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const counts = await withTimeout(
          Promise.all(opts.queues.map((q) => q.getJobCounts(...QUEUE_METRIC_STATES))),
          timeoutMs,
          'queue job counts',
        );
        opts.queues.forEach((q, i) => {
          for (const state of QUEUE_METRIC_STATES) this.set({ queue: q.name, state }, counts[i]![state] ?? 0);
        });
      } catch (err) {
        opts.log.warn({ err }, 'metrics: could not read queue counts');
      }
    },
  });

  new Gauge({
    name: 'outcome_tracker_outbox_entries',
    help: 'Outbox entries (closed outcomes, operation results) per shard awaiting the flusher, read on scrape.',
    labelNames: ['shard'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        // One command a shard, not a pipeline: on Redis Cluster the shards' outboxes are on
        // different nodes, and a cluster pipeline must stay on one.
        const sizes = Promise.all(outboxKeys.map((keys) => opts.redis.hlen(keys.outbox)));
        (await withTimeout(sizes, timeoutMs, 'outbox sizes')).forEach((n, shard) =>
          this.set({ shard: String(shard) }, n),
        );
      } catch (err) {
        this.reset();
        opts.log.warn({ err }, 'metrics: could not read outbox sizes');
      }
    },
  });
  return registry;
}
