/**
 * `npm run bench -- pipeline [--quick] [--only=ticks,latency,breakdown,intake,flush,register,recovery]`
 * Settings: `--shards=8 --workers=2 --batch=2000 --buffer=20000 --ticks=6000000 --signals=100000
 * --rate=20000 --interval=10 --latency-seconds=20 --intake-jobs=100000 --intake-concurrency=512 --intake-workers=1 --register-batch=8`; `--metrics` makes the shard workers count into a Prometheus
 * registry as the worker process does (its cost: compare a run with and one without). Diagnostics: `--profile` (CPU profiles of the worker processes in
 * .tmp/bench-profiles), `--v8=FLAG` (a V8 flag for the worker processes), `--dump=FILE` (every
 * paced job's publish and done time), `--keep-recovery` (leave the 1M-signal data set in Redis),
 * `--rewrite-at=S` (ask Redis for an AOF rewrite S seconds into each measured paced run, the
 * no-op's and the pipeline's: the latency tail with one rewrite, at a known time),
 * `--recovery-rounds=N` (N take-overs with the Procfile's flags: their median, fastest and slowest).
 *
 * The live pipeline against the Redis and PostgreSQL of REDIS_URL / DATABASE_URL (for private
 * ones: `scripts/services.sh start && eval "$(scripts/services.sh env)"`). Every figure is
 * measured in the same run as its raw baseline:
 *
 * - ticks: producer (this process, createTickPublisher) → shard queues → shard workers in a
 *   child process (createShardWorkers) applying to the open signals and checkpointing, beside
 *   the same producer and batches into workers that only acknowledge.
 * - latency: a producer paced at 20,000 ticks/s; per tick, the time from its batch's publish
 *   (job.timestamp, set by addBulk) to the worker finishing the job (checkpoint committed, job
 *   marked completed); with the count of Redis's AOF rewrites that overlapped each measured run.
 * - intake: track-signal jobs validated, stored in PostgreSQL and forwarded, beside a no-op
 *   BullMQ worker with the same job count and concurrency.
 * - flush: the flusher draining closed outcomes into PostgreSQL, beside a plain multi-row
 *   INSERT of the same rows (skipped while src/live/createFlusher.ts does not exist).
 * - breakdown: one shard's job taken apart in this process (parse, apply, checkpoint; the
 *   checkpoint's Redis time from INFO commandstats; bytes of book clocks and recent ticks).
 * - register: shard workers applying registrations, one job a signal and one job a shard for
 *   every 8 signals (an intake batch's share), beside no-op workers taking the one-a-signal jobs.
 * - recovery: a worker process taking over shards that hold 1M open signals (and full
 *   recent-tick buffers) until it has applied the next tick on every one.
 *
 * Prices are real: the IBM trade path of the bundled Lean file, replicated for 500 symbols
 * with different offsets into it and different scales. Signal levels sit beyond the path's
 * range (one in a thousand inside it), so few trigger, as in bench/engine.ts. The stores are
 * filled through the real code: ShardRuntime computes the deltas, commitShard writes them.
 * Keys live under a prefix of their own and are removed afterwards; PostgreSQL figures use a
 * scratch database (created and dropped) when the role may create one.
 *
 * This folder: run.ts (this file) with settings.ts; one file per benchmark (tickBenches.ts for
 * ticks and latency, breakdownBench.ts, recoveryBench.ts, intakeBench.ts, flushBench.ts, registerBench.ts); the
 * helpers they share (TickStreams.ts, seedShards.ts, dropPrefix.ts, Fleet.ts, redisStats.ts,
 * scratchDatabase.ts, insertSignals.ts); worker.ts, the worker processes' side.
 */
import { Redis } from 'ioredis';
import type { Report } from '../Report.ts';
import { breakdownBench } from './breakdownBench.ts';
import { flushBench } from './flushBench.ts';
import { intakeBench } from './intakeBench.ts';
import { recoveryBench } from './recoveryBench.ts';
import { registerBench } from './registerBench.ts';
import { say, settings } from './settings.ts';
import { tickBenches } from './tickBenches.ts';
import { loadStreams } from './TickStreams.ts';

export async function run(report: Report, flags: string[]): Promise<void> {
  const set = settings(flags);
  const redisUrl = process.env.REDIS_URL;
  const databaseUrl = process.env.DATABASE_URL;
  if (redisUrl === undefined) {
    say('skipped: REDIS_URL is not set (scripts/services.sh start && eval "$(scripts/services.sh env)")');
    return;
  }
  const wants = (part: string): boolean => set.only === null || set.only.has(part);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const base = `bench${process.pid}`;
  try {
    const streams = await loadStreams();
    if (wants('breakdown')) await breakdownBench(report, set, redis, streams, base);
    if (wants('ticks') || wants('latency')) await tickBenches(report, set, redis, streams, base, flags);
    if (wants('intake') || wants('flush')) {
      if (databaseUrl === undefined) say('intake, flush: skipped, DATABASE_URL is not set');
      else {
        if (wants('intake')) await intakeBench(report, set, streams, databaseUrl, base, redis);
        if (wants('flush')) await flushBench(report, set, streams, databaseUrl, base, redis);
      }
    }
    if (wants('register')) await registerBench(report, set, redis, streams, base);
    if (wants('recovery')) await recoveryBench(report, set, redis, streams, base);
  } finally {
    redis.disconnect();
  }
}
