/**
 * The tick pipeline: throughput (`ticks`) and paced latency (`latency`), each beside the same
 * producer and batches into workers that only acknowledge.
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createTickPublisher, type TickPublisher } from '../../src/live/createTickPublisher.ts';
import { shardOf } from '../../src/names.ts';
import type { Report } from '../Report.ts';
import { dropPrefix } from './dropPrefix.ts';
import { Fleet, splitShards, type JobDone } from './Fleet.ts';
import { aofRewrites, commandStats, redisCpuMs, statsDelta } from './redisStats.ts';
import { seedPipeline } from './seedShards.ts';
import { say, type Settings } from './settings.ts';
import { SYMBOLS, type TickStreams } from './TickStreams.ts';

interface Drive {
  seconds: number;
  jobs: number;
  producerCpuMs: number;
  workerCpuMs: number;
  redisCpuMs: number;
  redisTop: string;
}

/**
 * Publishes `total` ticks from stream position `g` as fast as the workers take them (at most
 * `window` ticks published and not yet applied), until the last is applied.
 */
async function driveFlat(
  fleet: Fleet,
  redis: Redis,
  publisher: TickPublisher,
  streams: TickStreams,
  g: number,
  total: number,
  chunk: number,
  window: number,
): Promise<Drive> {
  const startTicks = fleet.completedTicks;
  const startJobs = fleet.completedJobs;
  const cpu0 = process.cpuUsage();
  const [w0, r0, s0] = await Promise.all([fleet.cpuMs(), redisCpuMs(redis), commandStats(redis)]);
  const t0 = performance.now();
  let published = 0;
  while (published < total) {
    await fleet.until(() => published - (fleet.completedTicks - startTicks) <= window);
    const n = Math.min(chunk, total - published);
    await publisher.publish(streams.take(g + published, n));
    published += n;
  }
  await fleet.until(() => fleet.completedTicks - startTicks >= total);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const [w1, r1, s1] = await Promise.all([fleet.cpuMs(), redisCpuMs(redis), commandStats(redis)]);
  return {
    seconds,
    jobs: fleet.completedJobs - startJobs,
    producerCpuMs: (cpu.user + cpu.system) / 1000,
    workerCpuMs: w1 - w0,
    redisCpuMs: r1 - r0,
    redisTop: statsDelta(s0, s1),
  };
}

/**
 * Publishes at `rate` ticks/s for `seconds`, every `intervalMs`; returns every job's timing.
 * With `rewrite`, asks Redis for an AOF rewrite `rewrite.atSeconds` into the run (`--rewrite-at`).
 */
async function drivePaced(
  fleet: Fleet,
  publisher: TickPublisher,
  streams: TickStreams,
  g: number,
  rate: number,
  seconds: number,
  intervalMs: number,
  rewrite: { redis: Redis; atSeconds: number } | null = null,
): Promise<{
  jobs: JobDone[];
  ticks: number;
  workerCpuMs: number;
  producerCpuMs: number;
  pauses: Fleet['pauses'];
}> {
  const startTicks = fleet.completedTicks;
  const cpu0 = process.cpuUsage();
  const w0 = await fleet.cpuMs();
  fleet.recording = [];
  const t0 = performance.now();
  const rewriting =
    rewrite === null
      ? null
      : setTimeout(() => {
          rewrite.redis.bgrewriteaof().then(
            (r) => say(`paced: AOF rewrite asked for at ${rewrite.atSeconds} s: ${r}`),
            (err: unknown) => say(`paced: AOF rewrite not started: ${(err as Error).message}`),
          );
        }, rewrite.atSeconds * 1000);
  let sent = 0;
  for (let k = 1; ; k++) {
    const elapsed = performance.now() - t0;
    if (elapsed >= seconds * 1000) break;
    const due = Math.floor((rate * elapsed) / 1000) - sent;
    if (due > 0) {
      await publisher.publish(streams.take(g + sent, due));
      sent += due;
    }
    const wait = t0 + k * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  if (rewriting !== null) clearTimeout(rewriting);
  await fleet.until(() => fleet.completedTicks - startTicks >= sent);
  const jobs = fleet.recording;
  fleet.recording = null;
  const cpu = process.cpuUsage(cpu0);
  return {
    jobs,
    ticks: sent,
    workerCpuMs: (await fleet.cpuMs()) - w0,
    producerCpuMs: (cpu.user + cpu.system) / 1000,
    pauses: fleet.pauses,
  };
}

/** The tick-weighted quantile of job latencies. */
function quantile(jobs: JobDone[], q: number): number {
  const sorted = jobs.filter((j) => j.n > 0).sort((a, b) => a.at - a.pub - (b.at - b.pub));
  const total = sorted.reduce((a, j) => a + j.n, 0);
  let seen = 0;
  for (const j of sorted) {
    seen += j.n;
    if (seen >= q * total) return j.at - j.pub;
  }
  return NaN;
}

/** The biggest `publish` chunk (whole rounds over the symbols) that gives no shard more than `batch` ticks. */
function chunkFor(streams: TickStreams, shards: number, batch: number): number {
  const perShard = new Array<number>(shards).fill(0);
  for (const s of streams.symbols) perShard[shardOf(s, shards)]!++;
  const rounds = Math.max(1, Math.floor(batch / Math.max(...perShard)));
  return rounds * SYMBOLS;
}

export async function tickBenches(
  report: Report,
  set: Settings,
  redis: Redis,
  streams: TickStreams,
  base: string,
  flags: string[],
): Promise<void> {
  const url = process.env.REDIS_URL!;
  const chunk = chunkFor(streams, set.shards, set.batch);
  const window = chunk * 4;
  const warm = chunk * set.shards * 2;
  const groups = splitShards(set.shards, set.workers);
  say(
    `ticks: SHARDS=${set.shards}, ${groups.length} worker process(es), publish chunks of ${chunk} ticks ` +
      `(≤ ${set.batch} per shard job), at most ${window} ticks in flight, ${set.ticks} ticks per run`,
  );
  const producerConnection = new Redis(url, { maxRetriesPerRequest: null });
  const publisherFor = (prefix: string): TickPublisher =>
    createTickPublisher({ connection: producerConnection, prefix, shards: set.shards, batchSize: set.batch });

  // The raw baseline: the same producer and batches into workers that only acknowledge.
  const noopPrefix = `${base}noop`;
  const measured = set.only === null || set.only.has('ticks');
  const paced = set.only === null || set.only.has('latency');
  /** Two seconds at the pace to settle, then the measured run; returns the stream position after it. */
  const pacedRun = async (
    fleet: Fleet,
    publisher: TickPublisher,
    g: number,
    noop: boolean,
  ): Promise<number> => {
    const settle = await drivePaced(fleet, publisher, streams, g, set.latencyRate, 2, set.latencyIntervalMs);
    g += settle.ticks;
    // AOF rewrites in the window: what most often sets the tail (docs/BENCHMARKS.md).
    const rewrites0 = await aofRewrites(redis);
    const run = await drivePaced(
      fleet,
      publisher,
      streams,
      g,
      set.latencyRate,
      set.latencySeconds,
      set.latencyIntervalMs,
      set.rewriteAt === null ? null : { redis, atSeconds: set.rewriteAt },
    );
    const dump = flags.find((f) => f.startsWith('--dump='));
    if (dump !== undefined && !noop) {
      writeFileSync(dump.slice(7), run.jobs.map((j) => `${j.pub} ${j.at} ${j.n}`).join('\n'));
    }
    const rewrites1 = await aofRewrites(redis);
    // Those that overlapped the run: started during it (Redis counts a rewrite when it starts),
    // or running when it began.
    const rewrites =
      rewrites0.count === null || rewrites1.count === null
        ? null
        : rewrites1.count - rewrites0.count + (rewrites0.running ? 1 : 0);
    const name = noop ? 'pipeline.noop_tick_to_ack' : 'pipeline.tick_to_checkpoint';
    if (!noop)
      report({
        name: 'pipeline.paced_ticks_per_sec',
        value: run.ticks / set.latencySeconds,
        unit: 'ticks/s',
      });
    report({ name: `${name}_p50_ms`, value: quantile(run.jobs, 0.5), unit: 'ms' });
    report({ name: `${name}_p99_ms`, value: quantile(run.jobs, 0.99), unit: 'ms' });
    if (!noop) report({ name: `${name}_max_ms`, value: quantile(run.jobs, 1), unit: 'ms' });
    if (rewrites !== null)
      report({
        name: noop ? 'pipeline.noop_aof_rewrites_in_paced_run' : 'pipeline.aof_rewrites_in_paced_run',
        value: rewrites,
        unit: 'rewrites',
      });
    say(
      `${noop ? 'noop ' : ''}paced: ${run.ticks} ticks in ${run.jobs.length} jobs (${(run.ticks / run.jobs.length).toFixed(0)} ticks/job), ` +
        `publishing every ${set.latencyIntervalMs} ms; CPU ms per job: workers ${(run.workerCpuMs / run.jobs.length).toFixed(2)}, ` +
        `producer ${(run.producerCpuMs / run.jobs.length).toFixed(2)}; workers' GC ${run.pauses.gcMs.toFixed(0)} ms ` +
        `(longest ${run.pauses.gcMaxMs.toFixed(0)}), longest event-loop stall ${run.pauses.loopMaxMs.toFixed(0)} ms; workers' heap ${run.pauses.heapMb.toFixed(0)} MB`,
    );
    return g + run.ticks;
  };
  {
    const fleet = await Fleet.shards('noop-shard', noopPrefix, groups, {
      bufferSize: set.bufferSize,
      v8: set.childV8,
    });
    const publisher = publisherFor(noopPrefix);
    try {
      let g = set.pipelineHistory * SYMBOLS;
      await driveFlat(fleet, redis, publisher, streams, g, warm, chunk, window);
      g += warm;
      if (measured) {
        const d = await driveFlat(fleet, redis, publisher, streams, g, set.ticks, chunk, window);
        g += set.ticks;
        report({ name: 'pipeline.noop_ticks_per_sec', value: set.ticks / d.seconds, unit: 'ticks/s' });
        say(
          `noop: ${set.ticks} ticks in ${d.seconds.toFixed(2)} s, ${d.jobs} jobs; CPU ms: producer ${d.producerCpuMs.toFixed(0)}, ` +
            `workers ${d.workerCpuMs.toFixed(0)}, redis ${d.redisCpuMs.toFixed(0)}; redis: ${d.redisTop}`,
        );
      }
      if (paced) await pacedRun(fleet, publisher, g, true);
    } finally {
      await publisher.close();
      await fleet.stop();
      await dropPrefix(redis, noopPrefix);
    }
  }

  // The real pipeline on open signals.
  const livePrefix = `${base}live`;
  const t = performance.now();
  const seeded = await seedPipeline(redis, livePrefix, set, streams);
  say(
    `seeded ${seeded.open} open signals (${seeded.recordBytes.toFixed(0)} B per checkpoint record), ` +
      `${seeded.recentTicks} buffered ticks, in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  report({ name: 'pipeline.open_signals', value: seeded.open, unit: 'signals' });
  const fleet = await Fleet.shards('shard', livePrefix, groups, {
    bufferSize: set.bufferSize,
    v8: set.childV8,
    profile: set.profile,
    metrics: set.metrics,
  });
  const publisher = publisherFor(livePrefix);
  try {
    let g = seeded.next;
    // Warm-up: every shard loads its signals and the code gets compiled.
    await driveFlat(fleet, redis, publisher, streams, g, warm, chunk, window);
    g += warm;
    if (measured) {
      const d = await driveFlat(fleet, redis, publisher, streams, g, set.ticks, chunk, window);
      g += set.ticks;
      report({ name: 'pipeline.ticks_per_sec', value: set.ticks / d.seconds, unit: 'ticks/s' });
      report({ name: 'pipeline.ticks_per_job', value: set.ticks / d.jobs, unit: 'ticks' });
      say(
        `live: ${set.ticks} ticks in ${d.seconds.toFixed(2)} s, ${d.jobs} jobs; CPU ms: producer ${d.producerCpuMs.toFixed(0)}, ` +
          `workers ${d.workerCpuMs.toFixed(0)}, redis ${d.redisCpuMs.toFixed(0)}; redis: ${d.redisTop}`,
      );
    }
    if (paced) await pacedRun(fleet, publisher, g, false);
  } finally {
    await publisher.close();
    await fleet.stop();
    producerConnection.disconnect();
    await dropPrefix(redis, livePrefix);
  }
}
