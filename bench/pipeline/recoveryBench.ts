/**
 * Recovery: a worker process (then `--workers` of them, the shards split) taking over shards that hold many open signals (and full
 * recent-tick buffers) until it has applied the next tick on every one.
 */
import { Redis } from 'ioredis';
import { createTickPublisher } from '../../src/live/createTickPublisher.ts';
import type { Report } from '../Report.ts';
import { dropPrefix } from './dropPrefix.ts';
import { Fleet, splitShards } from './Fleet.ts';
import { seedShards } from './seedShards.ts';
import { say, type Settings } from './settings.ts';
import { farSignals, SYMBOLS, type TickStreams } from './TickStreams.ts';

export async function recoveryBench(
  report: Report,
  set: Settings,
  redis: Redis,
  streams: TickStreams,
  base: string,
): Promise<void> {
  const url = process.env.REDIS_URL!;
  const prefix = `${base}rec`;
  try {
    const t = performance.now();
    const seeded = await seedShards(
      redis,
      prefix,
      set.shards,
      streams,
      farSignals(streams, set.recoverySignals, 'r'),
      set.recoveryHistory,
      set.batch,
      set.bufferSize,
    );
    say(
      `recovery: seeded ${seeded.open} open signals (${seeded.recordBytes.toFixed(0)} B per record) and ` +
        `${seeded.recentTicks} buffered ticks over ${set.shards} shards in ${((performance.now() - t) / 1000).toFixed(1)} s; ` +
        `redis used_memory ${usedMemory(await redis.info('memory'))} B`,
    );
    report({ name: 'recovery.open_signals', value: seeded.open, unit: 'signals' });
    const producerConnection = new Redis(url, { maxRetriesPerRequest: null });
    const publisher = createTickPublisher({
      connection: producerConnection,
      prefix,
      shards: set.shards,
      batchSize: set.batch,
    });
    /**
     * One worker process (or one per group of shards) takes over every shard: the next tick of every symbol waits in the
     * queues (one job per shard); timed from just before createShardWorkers to the last shard's
     * job done. Run twice: as configured, and again (the next round of ticks) with a larger
     * young generation, which spares the scavenger most of the copying of what loadShard builds.
     */
    const takeOver = async (
      round: number,
      v8: string[],
      groups: number[][] = [Array.from({ length: set.shards }, (_, i) => i)],
    ): Promise<{
      seconds: number;
      withStart: number;
      firstShard: number;
      cpuSeconds: number;
      gc: string;
      memory: { heapMb: number; rssMb: number; maxRssMb: number };
    }> => {
      await publisher.publish(streams.take(seeded.next + round * SYMBOLS, SYMBOLS));
      const fleet = await Fleet.shards('shard', prefix, groups, {
        bufferSize: set.bufferSize,
        v8,
        profile: set.profile,
      });
      try {
        await fleet.until(() => fleet.doneByShard.size === set.shards, 300_000);
        // From the first process's start (they start together).
        const start = Math.min(...fleet.messages.filter((m) => m.e === 'start').map((m) => m.at));
        const ready = [...fleet.doneByShard.values()].map((l) => l[0]!.at);
        const last = Math.max(...ready);
        // CPU since the process started (its start-up included): loading is most of it.
        const cpuMs = await fleet.cpuMs();
        const gc = `GC ${fleet.pauses.gcMs.toFixed(0)} ms (longest ${fleet.pauses.gcMaxMs.toFixed(0)})`;
        const { heapMb, rssMb, maxRssMb } = fleet.pauses;
        return {
          seconds: (last - start) / 1000,
          withStart: (last - fleet.spawnedAt) / 1000,
          firstShard: (Math.min(...ready) - start) / 1000,
          cpuSeconds: cpuMs / 1000,
          gc,
          memory: { heapMb, rssMb, maxRssMb },
        };
      } finally {
        await fleet.stop();
      }
    };
    try {
      const plain = await takeOver(0, set.childV8);
      report({ name: 'recovery.seconds', value: plain.seconds, unit: 's' });
      report({ name: 'recovery.seconds_with_process_start', value: plain.withStart, unit: 's' });
      // When the first of the shards applied its next tick: a shard need not wait for the others.
      report({ name: 'recovery.first_shard_seconds', value: plain.firstShard, unit: 's' });
      report({ name: 'recovery.worker_cpu_seconds', value: plain.cpuSeconds, unit: 's' });
      // The worker's memory once every shard is loaded (the heap as it is then, not after a GC).
      report({ name: 'recovery.worker_rss_mb', value: plain.memory.rssMb, unit: 'MB' });
      report({ name: 'recovery.worker_peak_rss_mb', value: plain.memory.maxRssMb, unit: 'MB' });
      report({ name: 'recovery.worker_heap_mb', value: plain.memory.heapMb, unit: 'MB' });
      // The Procfile's flags, `--recovery-rounds` times (the next round of ticks each time).
      const semiRounds: Awaited<ReturnType<typeof takeOver>>[] = [];
      for (let r = 0; r < set.recoveryRounds; r++)
        semiRounds.push(await takeOver(1 + r, [...set.childV8, '--max-semi-space-size=64']));
      const bySeconds = [...semiRounds].sort((a, b) => a.seconds - b.seconds);
      const semi = bySeconds[(bySeconds.length - 1) >> 1]!;
      report({ name: 'recovery.seconds_semi_space_64mb', value: semi.seconds, unit: 's' });
      if (semiRounds.length > 1) {
        report({ name: 'recovery.seconds_semi_space_64mb_fastest', value: bySeconds[0]!.seconds, unit: 's' });
        report({
          name: 'recovery.seconds_semi_space_64mb_slowest',
          value: bySeconds.at(-1)!.seconds,
          unit: 's',
        });
        say(
          `recovery: ${semiRounds.length} take-overs with the Procfile's flags: ${semiRounds.map((x) => x.seconds.toFixed(2)).join(', ')} s`,
        );
      }
      report({ name: 'recovery.first_shard_seconds_semi_space_64mb', value: semi.firstShard, unit: 's' });
      report({ name: 'recovery.worker_cpu_seconds_semi_space_64mb', value: semi.cpuSeconds, unit: 's' });
      report({
        name: 'recovery.worker_peak_rss_mb_semi_space_64mb',
        value: semi.memory.maxRssMb,
        unit: 'MB',
      });
      // The Procfile's worker scaled out: `--workers` processes (2 by default), the shards split
      // between them as WORKER_SHARDS would, each loading its own at once.
      const groups = splitShards(set.shards, set.workers);
      const scaled = await takeOver(
        1 + set.recoveryRounds,
        [...set.childV8, '--max-semi-space-size=64'],
        groups,
      );
      const tag = `${groups.length}_workers_semi_space_64mb`;
      report({ name: `recovery.seconds_${tag}`, value: scaled.seconds, unit: 's' });
      report({ name: `recovery.first_shard_seconds_${tag}`, value: scaled.firstShard, unit: 's' });
      report({ name: `recovery.worker_cpu_seconds_${tag}`, value: scaled.cpuSeconds, unit: 's' });
      report({ name: `recovery.workers_peak_rss_mb_${tag}`, value: scaled.memory.maxRssMb, unit: 'MB' });
      report({
        name: 'recovery.redis_used_memory_mb',
        value: usedMemory(await redis.info('memory')) / 1e6,
        unit: 'MB',
      });
      report({
        name: 'recovery.redis_rss_mb',
        value: usedMemory(await redis.info('memory'), 'used_memory_rss') / 1e6,
        unit: 'MB',
      });
      say(
        `recovery: worker ${plain.gc}; with --max-semi-space-size=64: ${semi.gc}; ` +
          `${groups.length} workers (${groups.map((g) => g.join(',')).join(' | ')}): ${scaled.gc}`,
      );
    } finally {
      await publisher.close();
      producerConnection.disconnect();
    }
  } finally {
    if (set.keepRecovery) say(`recovery: kept the seeded shards under prefix ${prefix}`);
    else await dropPrefix(redis, prefix);
  }
}

/** A byte figure of Redis's INFO memory section (NaN when absent). */
function usedMemory(info: string, field = 'used_memory'): number {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
}
