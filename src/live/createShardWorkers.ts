import { WaitingError, type ConnectionOptions, type Job, type KeepJobs } from 'bullmq';
import type { RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import { coerceError, trackerError, type TrackerError } from '../errors.ts';
import { ShardKeys, shardQueueName } from '../names.ts';
import { checkShardJob, idsOf, type ShardJobData } from './messages.ts';
import { createShardQueues } from './shardQueues.ts';
import { repairJobData, TolerantWorker, UnparseableJobData } from './TolerantWorker.ts';
import { commitShard, loadRecent, lookupIds, moveUnbucketed, readShard, restoreShard } from './shardStore.ts';
import { UnreadableRecordError } from './shardCodec.ts';
import { storableJson } from '../validation/checkStorable.ts';
import type { ShardDelta } from './messages.ts';
import type { ShardRuntime } from './ShardRuntime.ts';

export interface ShardWorkersOptions {
  /** BullMQ connection (workers need `maxRetriesPerRequest: null`). */
  connection: ConnectionOptions;
  /** A Redis client for checkpoints and lookups. */
  redis: RedisClient;
  prefix: string;
  shards: number[];
  bufferSize: number;
  lockDurationMs: number;
  maxStalledCount: number;
  /** Ticks later than the wall clock plus this are skipped (MAX_CLOCK_SKEW_MS). @defaultValue 300000 */
  maxClockSkewMs?: number;
  /** Finished shard jobs a foreign producer added without removeOnComplete/removeOnFail. */
  retention?: { removeOnComplete: KeepJobs; removeOnFail: KeepJobs };
  log: Logger;
  now: () => number;
  /** Told of each committed job, once, after its checkpoint (metrics count at job boundaries). */
  onCommitted?: (committed: CommittedShardJob) => void;
}

/** A shard job whose checkpoint committed (poison jobs commit as an empty tick job). */
export interface CommittedShardJob {
  shard: number;
  data: ShardJobData;
  delta: ShardDelta;
  /** When the job was queued (BullMQ's `job.timestamp`), epoch ms. */
  queuedAt: number;
  /** The code it was recorded as poison with, or null. */
  poison: string | null;
}

export interface ShardJobResult {
  skipped?: 'already applied';
  /** Why the job was recorded as poison and skipped. */
  poison?: string;
  openSignals?: number;
  closed?: number;
  lateTicks?: number;
  /** Malformed ticks in the job, skipped and counted (a producer bug). */
  poisonTicks?: number;
  /** Ticks too far ahead of the wall clock, skipped and counted. */
  futureTicks?: number;
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
  options: ShardWorkersOptions,
): Promise<{ workers: TolerantWorker<ShardJobData, ShardJobResult>[]; close(): Promise<void> }> {
  const opts = { ...options, maxClockSkewMs: options.maxClockSkewMs ?? 300_000 };
  const runtimes = new Map<number, ShardRuntime>();
  /**
   * Shards are decoded one at a time, in the order their jobs ask: decoding is CPU, so decoding
   * them together only made every shard wait for the last one. In turn, the first shard runs its
   * jobs after its own load, while the next ones load (restoreShard yields to the event loop
   * between slices). Their reads from Redis start at once, a few pages ahead of the decoding.
   */
  let loading: Promise<unknown> = Promise.resolve();
  const loadInTurn = (keys: ShardKeys, log: Logger): Promise<ShardRuntime> => {
    const reading = readShard(opts.redis, keys);
    const loaded = loading.then(() => restoreShard(reading, opts.bufferSize));
    loading = loaded.catch(() => undefined); // a failed load (retried by its job) stops none behind it
    const move = loaded.then(
      () => moveAfterUpgrade(keys, log),
      () => undefined,
    );
    moving.add(move);
    void move.then(() => moving.delete(move));
    return loaded;
  };
  let closing = false;
  /** Moves under way ({@link moveAfterUpgrade}): close() waits for them to stop. */
  const moving = new Set<Promise<void>>();
  /**
   * Records written before the buckets (a shard last served by an earlier version) move to
   * their buckets in the background once the shard is loaded, so that its next take-over reads
   * buckets only; until then it reads both. Best effort: a failure is logged and the next load
   * tries again.
   */
  const moveAfterUpgrade = async (keys: ShardKeys, log: Logger): Promise<void> => {
    try {
      if ((await opts.redis.exists(keys.signals)) === 0) return;
      const moved = await moveUnbucketed(opts.redis, keys, () => closing);
      log.info({ moved }, 'moved open-signal records written before the buckets to them');
    } catch (err) {
      if (!closing)
        log.warn({ err }, 'moving open-signal records to their buckets failed; the next load tries again');
    }
  };
  const workers: TolerantWorker<ShardJobData, ShardJobResult>[] = [];
  // One writer per shard (DESIGN.md decision 3), whichever process serves it.
  const queues = createShardQueues({
    connection: opts.connection,
    prefix: opts.prefix,
    onError: (err, shard) => opts.log.error({ err, shard }, 'shard queue error'),
  });
  await Promise.all(opts.shards.map((shard) => queues.queue(shard).setGlobalConcurrency(1)));
  await queues.close();
  for (const shard of opts.shards) {
    const name = shardQueueName(shard);
    const keys = new ShardKeys(opts.prefix, shard);
    const log = opts.log.child({ shard });
    const worker = new TolerantWorker<ShardJobData, ShardJobResult>(
      name,
      async (job, token) => processShardJob(job, token, shard, keys, log),
      {
        removeOnComplete: opts.retention?.removeOnComplete ?? { count: 200 },
        removeOnFail: opts.retention?.removeOnFail ?? { age: 86_400 },
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
    job: Job<ShardJobData | UnparseableJobData, ShardJobResult>,
    token: string | undefined,
    shard: number,
    keys: ShardKeys,
    log: Logger,
  ): Promise<ShardJobResult> {
    const jobId = job.id!;
    await repairJobData(job);
    const checked = job.data instanceof UnparseableJobData ? null : checkShardJob(job.data);
    /** Set once the job is recorded as poison: from then on it commits as an empty job. */
    let poison: TrackerError | null =
      checked === null
        ? trackerError('PAYLOAD_NOT_JSON', (job.data as UnparseableJobData).describe())
        : checked.ok
          ? null
          : trackerError('SHARD_JOB_MALFORMED', checked.reason);
    let poisonRecorded = false;
    for (let attempt = 0; ; attempt++) {
      let runtime = runtimes.get(shard);
      try {
        if (runtime === undefined) {
          runtime = await loadInTurn(keys, log);
          runtimes.set(shard, runtime);
          log.info({ open: runtime.openCount, progress: runtime.appliedJob }, 'shard loaded');
        }
        if (runtime.hasApplied(jobId)) return { skipped: 'already applied' };
        if (poison !== null && !poisonRecorded) {
          // Not transient: retrying would fail again and stop the shard. Record it for
          // operators (docs/OPERATIONS.md "Poison jobs") and move the marker past it.
          log.error(
            { jobId, reason: poison.message, code: poison.code },
            'shard job cannot be applied; recorded as poison and skipped',
          );
          const record = {
            error: poison.message,
            code: poison.code,
            data: poisonData(job.data),
            at: opts.now(),
          };
          await opts.redis.hset(keys.poison, jobId, JSON.stringify(record));
          poisonRecorded = true;
        }
        const data: ShardJobData =
          poison === null ? (job.data as ShardJobData) : { kind: 'ticks', ticks: [] };
        const known = await lookupIds(opts.redis, keys, idsOf(data));
        for (const symbol of runtime.needsRecent(data))
          runtime.setRecent(symbol, await loadRecent(opts.redis, keys, symbol, opts.bufferSize));
        let delta;
        try {
          delta = runtime.apply(jobId, data, known, opts.now() + opts.maxClockSkewMs);
        } catch (err) {
          // The memory may be half-applied: drop it, and skip the job as poison.
          runtimes.delete(shard);
          // Not the job's fault: a stored record is unreadable, as if the load had failed.
          if (err instanceof UnreadableRecordError) throw err;
          const cause = coerceError(err);
          poison = trackerError(cause.code, `could not be applied: ${cause.message}`);
          continue;
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
        runtime.noteApplied(jobId);
        opts.onCommitted?.({ shard, data, delta, queuedAt: job.timestamp, poison: poison?.code ?? null });
        if (poison !== null) return { poison: poison.message };
        if (delta.poisonTicks > 0) {
          log.warn({ jobId, poisonTicks: delta.poisonTicks }, 'malformed ticks skipped (a producer bug)');
        }
        if (delta.futureTicks > 0) {
          log.warn(
            { jobId, futureTicks: delta.futureTicks, maxClockSkewMs: opts.maxClockSkewMs },
            'ticks too far ahead of the wall clock skipped (MAX_CLOCK_SKEW_MS)',
          );
        }
        return {
          poisonTicks: delta.poisonTicks,
          futureTicks: delta.futureTicks,
          openSignals: runtime.openCount,
          closed: delta.del.size,
          lateTicks: delta.lateTicks,
          duplicates: delta.duplicates,
        };
      } catch (err) {
        runtimes.delete(shard); // memory may be ahead of what Redis holds
        if (closing) await handBack(job, token, err);
        if (poison === null && isDataError(err)) {
          poison = trackerError('SHARD_JOB_MALFORMED', `could not be applied: ${coerceError(err).message}`);
          continue;
        }
        const waitMs = Math.min(5000, 50 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random() / 2);
        log.warn({ err, jobId, attempt, waitMs }, 'shard job hit a transient error; retrying inside the job');
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  /**
   * Shutting down, a transient error is not retried inside the job: the job goes back to the head
   * of its queue (BullMQ's moveToWait pushes where the next job is taken), not to the failed set,
   * where its ticks or registration would be lost (shard jobs have one attempt). If Redis refuses
   * that too, the error is thrown, BullMQ cannot record the failure either, and the job stalls
   * and is run again.
   */
  async function handBack(job: Job, token: string | undefined, err: unknown): Promise<never> {
    if (token === undefined) throw err;
    try {
      await job.moveToWait(token);
    } catch {
      throw err;
    }
    throw new WaitingError();
  }

  return {
    workers,
    async close() {
      closing = true;
      await Promise.all([...workers.map((w) => w.close()), ...moving]);
    },
  };
}

/**
 * A poison job's data as recorded: whatever it was, in a bounded form (storableJson: nesting cut
 * off, at most 64 KiB). Never throws: JSON.stringify alone overflows the stack on data nested a
 * few thousand deep, and a throw here was retried as transient forever, stopping the shard.
 */
function poisonData(data: unknown): unknown {
  if (data instanceof UnparseableJobData) return { raw: data.raw };
  return storableJson(data ?? null, 65_536);
}

/**
 * Errors that data causes, not the network: retrying them inside the job would retry forever
 * and stop the shard behind it, so the job is skipped as poison instead. (Redis and its
 * connection fail with other kinds: ReplyError, MaxRetriesPerRequestError, plain Errors.)
 */
function isDataError(err: unknown): boolean {
  return err instanceof RangeError || err instanceof TypeError || err instanceof SyntaxError;
}
