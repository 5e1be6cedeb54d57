import type { ConnectionOptions } from 'bullmq';
import type { Tick } from '../../machines/types.ts';
import { JOB_NAMES, shardOf } from '../names.ts';
import { toWire, type WireTick } from './messages.ts';
import { createShardQueues, SHARD_JOB_OPTIONS } from './shardQueues.ts';

/** What a batch id may hold: never all digits once suffixed, no ':' (BullMQ's key separator). */
const BATCH_ID = /^[A-Za-z0-9._-]{1,200}$/;

export interface TickPublisher {
  /**
   * Routes ticks to their shards and enqueues them in batches; resolves once all are queued.
   * With `batchId`, each job gets an id made from it (`<batchId>-s<shard>-<n>`): publishing the
   * same ticks again under the same id (a retry after an error or a lost reply) queues and
   * applies them once (docs/QUEUES.md "Publishing ticks safely"). Without it, a retry of a
   * publish whose reply was lost can queue its ticks twice.
   */
  publish(ticks: readonly Tick[], options?: { batchId?: string }): Promise<number>;
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
    async publish(ticks, options = {}) {
      const { batchId } = options;
      if (batchId !== undefined && !BATCH_ID.test(batchId))
        throw new Error(
          `batchId must be 1-200 characters of A-Z a-z 0-9 . _ - (got ${JSON.stringify(batchId)})`,
        );
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
              opts:
                batchId === undefined
                  ? SHARD_JOB_OPTIONS
                  : { ...SHARD_JOB_OPTIONS, jobId: `${batchId}-s${shard}-${i / opts.batchSize}` },
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
