import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { shardQueueName } from '../names.ts';
import type { ShardJobData } from './messages.ts';

/** Job options of shard jobs: keep a little history for Bull Board, never retry (order). */
export const SHARD_JOB_OPTIONS = {
  removeOnComplete: { count: 200 },
  removeOnFail: { age: 86_400 },
  attempts: 1,
} as const;

/** The producer side of the shard queues: one queue per shard, built when first used. */
export interface ShardQueues {
  /** Shard `n`'s queue. */
  queue(n: number): Queue<ShardJobData>;
  /** Adds one job to shard `n` with {@link SHARD_JOB_OPTIONS} (and `overrides`). */
  add(n: number, name: string, data: ShardJobData, overrides?: JobsOptions): Promise<void>;
  /** Adds jobs to shard `n` in one round trip (BullMQ's addBulk), in order, with {@link SHARD_JOB_OPTIONS}. */
  addBulk(n: number, jobs: readonly { name: string; data: ShardJobData }[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Shard queues for a producer (the intake, the flusher, the tick publisher), each with its
 * error listener: without one BullMQ prints every connection error, and a failed add rejects
 * its own promise anyway.
 */
export function createShardQueues(opts: {
  connection: ConnectionOptions;
  prefix: string;
  onError: (err: Error, shard: number) => void;
}): ShardQueues {
  const queues = new Map<number, Queue<ShardJobData>>();
  const queue = (n: number): Queue<ShardJobData> => {
    let q = queues.get(n);
    if (q === undefined) {
      q = new Queue<ShardJobData>(shardQueueName(n), { connection: opts.connection, prefix: opts.prefix });
      q.on('error', (err) => opts.onError(err, n));
      queues.set(n, q);
    }
    return q;
  };
  return {
    queue,
    async add(n, name, data, overrides) {
      await queue(n).add(name, data, { ...SHARD_JOB_OPTIONS, ...overrides });
    },
    async addBulk(n, jobs) {
      if (jobs.length === 0) return;
      await queue(n).addBulk(jobs.map(({ name, data }) => ({ name, data, opts: { ...SHARD_JOB_OPTIONS } })));
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
