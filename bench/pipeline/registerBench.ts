/**
 * Registrations on the shards: the shard workers applying the intake's registration jobs, one
 * job a signal (`register`, as before 2026-12-04) and one job a shard a batch
 * (`register-batch`, as the intake sends them now), beside workers that only acknowledge the
 * same one-job-a-signal jobs.
 */
import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { registrationJobs, type ShardJobData } from '../../src/live/messages.ts';
import { SHARD_JOB_OPTIONS } from '../../src/live/shardQueues.ts';
import { shardOf, shardQueueName } from '../../src/names.ts';
import { seededRandom } from '../../src/demo/generateSignals.ts';
import { farSignal } from '../farSignal.ts';
import type { Report } from '../Report.ts';
import { dropPrefix } from './dropPrefix.ts';
import { Fleet, splitShards } from './Fleet.ts';
import { redisCpuMs } from './redisStats.ts';
import { seedPipeline } from './seedShards.ts';
import { say, type Settings } from './settings.ts';
import { SYMBOLS, type TickStreams } from './TickStreams.ts';

type Job = { name: string; data: ShardJobData };

/** `count` new signals over the symbols, created at `createdAt` (after the last tick: no catch-up). */
function newSignals(streams: TickStreams, count: number, tag: string, createdAt: number): NormalizedSignal[] {
  const rnd = seededRandom(11);
  return Array.from({ length: count }, (_, i) => {
    const s = (i * 7) % SYMBOLS;
    return farSignal(`${tag}${i}`, i, streams.symbols[s]!, streams.price(s, 0), createdAt, rnd);
  });
}

/** Per shard, in submission order: one job a signal, or one job for every `batch` of them. */
function jobsByShard(signals: NormalizedSignal[], shards: number, batch: number): Job[][] {
  const byShard: NormalizedSignal[][] = Array.from({ length: shards }, () => []);
  for (const s of signals) byShard[shardOf(s.symbol, shards)]!.push(s);
  return byShard.map((list) => registrationJobs(list, batch));
}

/** Queues every job with the shard queues paused, then times the fleet draining them. */
async function drain(
  fleet: Fleet,
  redis: Redis,
  prefix: string,
  byShard: Job[][],
): Promise<{ seconds: number; workerCpuMs: number; redisCpuMs: number; jobs: number }> {
  const queues = byShard.map((_, n) => new Queue(shardQueueName(n), { connection: redis, prefix }));
  try {
    await Promise.all(queues.map((q) => q.pause()));
    for (let n = 0; n < queues.length; n++)
      for (let i = 0; i < byShard[n]!.length; i += 500)
        await queues[n]!.addBulk(
          byShard[n]!.slice(i, i + 500).map((j) => ({ ...j, opts: SHARD_JOB_OPTIONS })),
        );
    const jobs = byShard.reduce((a, j) => a + j.length, 0);
    const start = fleet.completedJobs;
    const [w0, r0] = await Promise.all([fleet.cpuMs(), redisCpuMs(redis)]);
    const t0 = performance.now();
    await Promise.all(queues.map((q) => q.resume()));
    await fleet.until(() => fleet.completedJobs - start >= jobs);
    const seconds = (performance.now() - t0) / 1000;
    const [w1, r1] = await Promise.all([fleet.cpuMs(), redisCpuMs(redis)]);
    return { seconds, workerCpuMs: w1 - w0, redisCpuMs: r1 - r0, jobs };
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

export async function registerBench(
  report: Report,
  set: Settings,
  redis: Redis,
  streams: TickStreams,
  base: string,
): Promise<void> {
  const count = set.quick ? 4000 : 40_000;
  const groups = splitShards(set.shards, set.workers);
  const createdAt = streams.t0 + set.pipelineHistory * SYMBOLS + 1;
  say(
    `register: ${count} signals a form over SHARDS=${set.shards}, ${groups.length} worker process(es), ` +
      `${set.openSignals} open already; batches of ${set.registerBatch} a shard`,
  );

  // The raw baseline: the same one-job-a-signal jobs into workers that only acknowledge.
  const noopPrefix = `${base}regnoop`;
  const noop = await Fleet.shards('noop-shard', noopPrefix, groups, {
    bufferSize: set.bufferSize,
    v8: set.childV8,
  });
  try {
    const d = await drain(
      noop,
      redis,
      noopPrefix,
      jobsByShard(newSignals(streams, count, 'n', createdAt), set.shards, 1),
    );
    report({ name: 'pipeline.noop_register_jobs_per_sec', value: d.jobs / d.seconds, unit: 'jobs/s' });
  } finally {
    await noop.stop();
    await dropPrefix(redis, noopPrefix);
  }

  const prefix = `${base}reg`;
  await seedPipeline(redis, prefix, set, streams);
  const fleet = await Fleet.shards('shard', prefix, groups, {
    bufferSize: set.bufferSize,
    v8: set.childV8,
    profile: set.profile,
  });
  try {
    // Warm-up: every shard loads and the code gets compiled, through both forms.
    await drain(fleet, redis, prefix, jobsByShard(newSignals(streams, 800, 'w', createdAt), set.shards, 1));
    await drain(
      fleet,
      redis,
      prefix,
      jobsByShard(newSignals(streams, 800, 'v', createdAt), set.shards, set.registerBatch),
    );
    for (const [form, tag, batch] of [
      ['one_job_each', 'e', 1],
      ['batched', 'b', set.registerBatch],
    ] as const) {
      const d = await drain(
        fleet,
        redis,
        prefix,
        jobsByShard(newSignals(streams, count, tag, createdAt), set.shards, batch),
      );
      report({
        name:
          form === 'batched'
            ? 'pipeline.registrations_per_sec'
            : 'pipeline.registrations_one_job_each_per_sec',
        value: count / d.seconds,
        unit: 'signals/s',
      });
      say(
        `register ${form}: ${count} signals in ${d.jobs} jobs, ${d.seconds.toFixed(2)} s; CPU µs a signal: ` +
          `workers ${((d.workerCpuMs * 1000) / count).toFixed(0)}, redis ${((d.redisCpuMs * 1000) / count).toFixed(0)}`,
      );
    }
  } finally {
    await fleet.stop();
    await dropPrefix(redis, prefix);
  }
}
