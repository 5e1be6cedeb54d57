import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ShardKeys, shardQueueName } from './keys.ts';
import type { ShardJobData } from './messages.ts';
import { commitShard, loadRecent, loadShard, lookupIds } from './shardStore.ts';
import type { ShardRuntime } from './ShardRuntime.ts';

export interface ShardWorkersOptions {
  /** BullMQ connection (workers need `maxRetriesPerRequest: null`). */
  connection: ConnectionOptions;
  /** A Redis client for checkpoints and lookups. */
  redis: Redis;
  prefix: string;
  shards: number[];
  bufferSize: number;
  lockDurationMs: number;
  maxStalledCount: number;
  log: Logger;
  now: () => number;
}

export interface ShardJobResult {
  skipped?: 'already applied';
  openSignals?: number;
  closed?: number;
  lateTicks?: number;
  /** Malformed ticks in the job, skipped and counted (a producer bug). */
  poisonTicks?: number;
  duplicates?: number;
}

/**
 * The tick workers: one BullMQ Worker per served shard, each on a queue with global
 * concurrency 1, so one process at a time applies a shard's jobs, in order. Per job: reuse
 * (or load) the shard's runtime, skip a job already applied (re-delivered after a stall),
 * apply it, and commit its changes with the progress marker atomically. Errors talking to
 * Redis are retried inside the job, so the jobs behind it never overtake it.
 */
export async function createShardWorkers(
  opts: ShardWorkersOptions,
): Promise<{ workers: Worker[]; close(): Promise<void> }> {
  const runtimes = new Map<number, ShardRuntime>();
  let closing = false;
  const workers: Worker[] = [];
  for (const shard of opts.shards) {
    const name = shardQueueName(shard);
    const queue = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
    queue.on('error', (err) => opts.log.error({ err, shard }, 'shard queue error'));
    await queue.setGlobalConcurrency(1);
    await queue.close();
    const keys = new ShardKeys(opts.prefix, shard);
    const log = opts.log.child({ shard });
    const worker = new Worker<ShardJobData, ShardJobResult>(
      name,
      async (job) => processShardJob(job, shard, keys, log),
      {
        connection: opts.connection,
        prefix: opts.prefix,
        concurrency: 1,
        lockDuration: opts.lockDurationMs,
        maxStalledCount: opts.maxStalledCount,
        // BullMQ looks for stalled jobs every 30 s by default, whatever the lock duration: a dead
        // worker would hold its shard for up to a minute.
        stalledInterval: opts.lockDurationMs,
      },
    );
    worker.on('error', (err) => log.error({ err }, 'shard worker error'));
    workers.push(worker);
  }

  async function processShardJob(
    job: Job<ShardJobData, ShardJobResult>,
    shard: number,
    keys: ShardKeys,
    log: Logger,
  ): Promise<ShardJobResult> {
    const jobId = job.id!;
    for (let attempt = 0; ; attempt++) {
      let runtime = runtimes.get(shard);
      try {
        if (runtime === undefined) {
          runtime = await loadShard(opts.redis, keys, opts.bufferSize);
          runtimes.set(shard, runtime);
          log.info({ open: runtime.openCount, progress: runtime.appliedJob }, 'shard loaded');
        }
        if (runtime.appliedJob !== null && Number(jobId) <= Number(runtime.appliedJob)) {
          return { skipped: 'already applied' };
        }
        const known = await lookupIds(opts.redis, keys, idsOf(job.data));
        const symbol = runtime.needsRecent(job.data);
        if (symbol !== null) runtime.setRecent(symbol, await loadRecent(opts.redis, keys, symbol));
        let delta;
        try {
          delta = runtime.apply(jobId, job.data, known);
        } catch (err) {
          // Not a transient error: retrying would fail again and block the shard. Record the
          // job as poison, drop the half-applied memory, and move the marker past it.
          runtimes.delete(shard);
          log.error({ err, jobId }, 'shard job could not be applied; recorded as poison and skipped');
          await opts.redis.hset(
            keys.poison,
            jobId,
            JSON.stringify({ error: String(err), data: job.data, at: opts.now() }),
          );
          const fresh = await loadShard(opts.redis, keys, opts.bufferSize);
          const empty = fresh.apply(jobId, { kind: 'ticks', ticks: [] }, new Map());
          if (
            await commitShard(opts.redis, keys, fresh.appliedJob, jobId, empty, opts.bufferSize, opts.now())
          ) {
            fresh.appliedJob = jobId;
            runtimes.set(shard, fresh);
          }
          return { skipped: 'already applied' };
        }
        const committed = await commitShard(
          opts.redis,
          keys,
          runtime.appliedJob,
          jobId,
          delta,
          opts.bufferSize,
          opts.now(),
        );
        if (!committed) {
          // Another process applied jobs on this shard since we loaded it: reload and look again.
          log.warn({ jobId, had: runtime.appliedJob }, 'shard moved on elsewhere; reloading');
          runtimes.delete(shard);
          continue;
        }
        runtime.appliedJob = jobId;
        if (delta.poisonTicks > 0) {
          log.warn({ jobId, poisonTicks: delta.poisonTicks }, 'malformed ticks skipped (a producer bug)');
        }
        return {
          poisonTicks: delta.poisonTicks,
          openSignals: runtime.openCount,
          closed: delta.del.size,
          lateTicks: delta.lateTicks,
          duplicates: delta.duplicates,
        };
      } catch (err) {
        runtimes.delete(shard); // memory may be ahead of what Redis holds
        if (closing) throw err;
        const waitMs = Math.min(5000, 50 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random() / 2);
        log.warn({ err, jobId, attempt, waitMs }, 'shard job hit a transient error; retrying inside the job');
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  return {
    workers,
    async close() {
      closing = true;
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

function idsOf(data: ShardJobData): string[] {
  if (data.kind === 'register') return [data.signal.id];
  if (data.kind === 'op') return [data.op.id];
  return [];
}
