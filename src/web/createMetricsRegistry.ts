import type { Queue } from 'bullmq';
import type { RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { createProcessRegistry } from '../telemetry/createProcessRegistry.ts';
import { shardQueueName } from '../names.ts';
import { shardCodec } from '../live/shardCodec.ts';
import { countOpenRecords } from '../live/shardStore.ts';
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
  /** The process's registry to add these to. @defaultValue a new one (createProcessRegistry) */
  registry?: Registry;
  /** The wall clock, for the market clock's lag. @defaultValue Date.now */
  now?: () => number;
}

/**
 * The Prometheus registry of the web process: the default process metrics, and gauges read
 * from Redis on each scrape (docs/OPERATIONS.md "Metrics"):
 * - `outcome_tracker_queue_jobs{queue, state}`: jobs waiting / active / failed per queue;
 * - `outcome_tracker_shard_queue_depth{shard}`: jobs a shard has not applied yet;
 * - `outcome_tracker_outbox_entries{shard}`: entries awaiting the flusher per shard;
 * - `outcome_tracker_open_signals{shard}`: signals checkpointed open;
 * - `outcome_tracker_market_clock_lag_seconds{shard}`: wall clock minus the latest tick applied.
 * The shard gauges live here, not in the worker: every shard is read from Redis wherever it is
 * served, and they stay true when no worker runs.
 * A registry of its own rather than prom-client's global one, so that two servers in one
 * process (tests) do not collide. When Redis does not answer, the gauges are left empty for
 * that scrape (and the failure logged) rather than failing the process metrics too.
 */
export function createMetricsRegistry(opts: MetricsOptions): Registry {
  const registry = opts.registry ?? createProcessRegistry('web');
  const now = opts.now ?? Date.now;
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

  const shardOfQueue = new Map(outboxKeys.map((k) => [shardQueueName(k.shard), String(k.shard)]));
  const shardQueues = opts.queues.filter((q) => shardOfQueue.has(q.name));
  new Gauge({
    name: 'outcome_tracker_shard_queue_depth',
    help: 'Jobs queued on a shard and not yet applied (waiting, delayed, prioritized, paused), read on scrape.',
    labelNames: ['shard'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const counts = await withTimeout(
          Promise.all(shardQueues.map((q) => q.count())),
          timeoutMs,
          'shard queue depths',
        );
        shardQueues.forEach((q, i) => this.set({ shard: shardOfQueue.get(q.name)! }, counts[i]!));
      } catch (err) {
        this.reset();
        opts.log.warn({ err }, 'metrics: could not read shard queue depths');
      }
    },
  });

  // One read for both gauges: each shard's open signals (HLEN of its record hashes) and market clock (GET).
  // prom-client collects the gauges of a scrape concurrently, so the two share one read.
  type ShardState = { open: number; lag: number | null };
  async function readShardState(): Promise<ShardState[] | null> {
    try {
      // Commands sent together, not a pipeline: on Redis Cluster the shards are on different
      // nodes, and a cluster pipeline must stay on one.
      const reads = Promise.all(
        outboxKeys.map((keys) =>
          Promise.all([countOpenRecords(opts.redis, keys), opts.redis.get(keys.clock)]),
        ),
      );
      const replies = await withTimeout(reads, timeoutMs, 'shard state');
      const wall = now();
      return replies.map(([open, clock]) => {
        const lag =
          typeof clock === 'string' ? (wall - shardCodec.decodeMarketClock(clock).tickTs) / 1000 : null;
        return { open: Number(open), lag };
      });
    } catch (err) {
      opts.log.warn({ err }, 'metrics: could not read the shards’ open signals and clocks');
      return null;
    }
  }
  let reading: Promise<ShardState[] | null> | null = null;
  const readShards = (): Promise<ShardState[] | null> =>
    (reading ??= readShardState().finally(() => {
      reading = null;
    }));
  new Gauge({
    name: 'outcome_tracker_open_signals',
    help: 'Signals checkpointed open (pending or in a position) per shard, read on scrape.',
    labelNames: ['shard'],
    registers: [registry],
    async collect() {
      this.reset();
      (await readShards())?.forEach((s, shard) => this.set({ shard: String(shard) }, s.open));
    },
  });
  new Gauge({
    name: 'outcome_tracker_market_clock_lag_seconds',
    help: 'Wall clock minus the latest tick time a shard applied (absent before its first tick), read on scrape.',
    labelNames: ['shard'],
    registers: [registry],
    async collect() {
      this.reset();
      (await readShards())?.forEach((s, shard) => {
        if (s.lag !== null) this.set({ shard: String(shard) }, s.lag);
      });
    },
  });
  return registry;
}
