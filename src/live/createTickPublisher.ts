import type { ConnectionOptions } from 'bullmq';
import type { Tick } from '../../machines/types.ts';
import { JOB_NAMES, shardOf } from '../names.ts';
import { toWire, type WireTick } from './messages.ts';
import { createShardQueues, SHARD_JOB_OPTIONS } from './shardQueues.ts';

export interface TickPublisher {
  /** Routes ticks to their shards and enqueues them in batches; resolves once all are queued. */
  publish(ticks: readonly Tick[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * The documented producer path for ticks (docs/QUEUES.md): each tick goes to
 * `shard = fnv1a(SYMBOL) mod SHARDS` and is batched into `ticks` jobs of at most `batchSize`
 * ticks (a BullMQ job costs several Redis round trips, so one per tick would be the
 * bottleneck). Order is kept per shard, hence per symbol, as long as one producer feeds a
 * symbol.
 */
export function createTickPublisher(opts: {
  connection: ConnectionOptions;
  prefix: string;
  shards: number;
  batchSize: number;
  /** Connection errors of the queues (a failed publish also rejects its promise). */
  onError?: (err: Error) => void;
}): TickPublisher {
  const queues = createShardQueues({
    connection: opts.connection,
    prefix: opts.prefix,
    onError: (err) => opts.onError?.(err),
  });
  return {
    async publish(ticks) {
      const byShard = new Map<number, WireTick[]>();
      for (const t of ticks) {
        const symbol = t.symbol.toUpperCase();
        const shard = shardOf(symbol, opts.shards);
        let list = byShard.get(shard);
        if (list === undefined) byShard.set(shard, (list = []));
        list.push(toWire(symbol === t.symbol ? t : { ...t, symbol }));
      }
      await Promise.all(
        [...byShard].map(([shard, wire]) => {
          const jobs = [];
          for (let i = 0; i < wire.length; i += opts.batchSize) {
            jobs.push({
              name: JOB_NAMES.ticks,
              data: { kind: 'ticks' as const, ticks: wire.slice(i, i + opts.batchSize) },
              opts: SHARD_JOB_OPTIONS,
            });
          }
          return queues.queue(shard).addBulk(jobs);
        }),
      );
      return ticks.length;
    },
    async close() {
      await queues.close();
    },
  };
}
