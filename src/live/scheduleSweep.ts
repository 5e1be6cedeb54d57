import type { ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import cron from 'node-cron';
import { JOB_NAMES, ShardKeys } from '../names.ts';
import { shardCodec } from './shardCodec.ts';
import { createShardQueues, type ShardQueues } from './shardQueues.ts';

/**
 * The market clock of SPEC.md: the latest tick time any shard applied, plus the wall time
 * elapsed since it did. null before any tick.
 */
export async function marketClock(
  redis: Redis,
  prefix: string,
  shards: number,
  now: number,
): Promise<number | null> {
  const keys = Array.from({ length: shards }, (_, n) => new ShardKeys(prefix, n).clock);
  const values = await Promise.all(keys.map((k) => redis.get(k)));
  let clock: number | null = null;
  for (const v of values) {
    if (v === null) continue;
    const { tickTs, wallMs } = shardCodec.decodeMarketClock(v);
    const c = tickTs + Math.max(0, now - wallMs);
    clock = clock === null ? c : Math.max(clock, c);
  }
  return clock;
}

/**
 * Enqueues a `sweep` job on every shard with the market clock, so signals whose expiry or
 * time limit passed with no tick are closed (stale) in order with the shard's other jobs.
 */
export async function enqueueSweep(opts: {
  redis: Redis;
  /** The shard queues to add the sweep jobs to. */
  queues: ShardQueues;
  prefix: string;
  shards: number;
  graceMs: number;
  now: () => number;
}): Promise<number | null> {
  const clock = await marketClock(opts.redis, opts.prefix, opts.shards, opts.now());
  if (clock === null) return null;
  await Promise.all(
    Array.from({ length: opts.shards }, (_, n) =>
      opts.queues.add(n, JOB_NAMES.sweep, { kind: 'sweep', clock, graceMs: opts.graceMs }),
    ),
  );
  return clock;
}

/** Runs the sweep on a node-cron schedule; returns a stop function (which closes its queues). */
export function scheduleSweep(
  opts: Omit<Parameters<typeof enqueueSweep>[0], 'queues'> & {
    connection: ConnectionOptions;
    cron: string;
    log: Logger;
    /** Told of each run: its jobs enqueued (`ok`, also before any tick) or not (metrics). */
    onRun?: (ok: boolean) => void;
  },
): () => Promise<void> {
  const queues = createShardQueues({
    connection: opts.connection,
    prefix: opts.prefix,
    onError: (err, shard) => opts.log.warn({ err, shard }, 'shard queue error while enqueueing the sweep'),
  });
  const task = cron.schedule(opts.cron, async () => {
    try {
      const clock = await enqueueSweep({ ...opts, queues });
      opts.log.debug({ clock }, 'stale sweep enqueued');
      opts.onRun?.(true);
    } catch (err) {
      opts.log.warn({ err }, 'stale sweep could not be enqueued');
      opts.onRun?.(false);
    }
  });
  return async () => {
    await task.stop();
    await queues.close();
  };
}
