/** Where a shard job's time goes, in this process: the steps of createShardWorkers one by one. */
import type { Redis } from 'ioredis';
import type { Tick } from '../../machines/types.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { toWire, type ShardJobData } from '../../src/live/messages.ts';
import { shardCodec } from '../../src/live/shardCodec.ts';
import { commitShard, loadShard } from '../../src/live/shardStore.ts';
import { createProcessRegistry } from '../../src/telemetry/createProcessRegistry.ts';
import { createWorkerMetrics } from '../../src/telemetry/createWorkerMetrics.ts';
import type { Report } from '../Report.ts';
import { dropPrefix } from './dropPrefix.ts';
import { commandStats } from './redisStats.ts';
import { seedPipeline } from './seedShards.ts';
import { say, type Settings } from './settings.ts';
import { SYMBOLS, type TickStreams } from './TickStreams.ts';

export async function breakdownBench(
  report: Report,
  set: Settings,
  redis: Redis,
  streams: TickStreams,
  base: string,
): Promise<void> {
  const prefix = `${base}parts`;
  try {
    await seedPipeline(redis, prefix, set, streams, 'b');
    const keys = new ShardKeys(prefix, 0);
    const runtime = await loadShard(redis, keys, set.bufferSize);
    const symbolsHere: number[] = [];
    for (let s = 0; s < SYMBOLS; s++) if (shardOf(streams.symbols[s]!, set.shards) === 0) symbolsHere.push(s);
    let round = set.pipelineHistory;
    const jobTicks = (n: number): Tick[] => {
      const out: Tick[] = [];
      while (out.length < n) {
        for (const s of symbolsHere) if (out.length < n) out.push(streams.tick(round * SYMBOLS + s));
        round++;
      }
      return out;
    };
    // The worker process's metrics hook, as createShardWorkers calls it after each commit.
    const metrics = createWorkerMetrics(createProcessRegistry('worker'), Date.now, [0]);
    say(`breakdown: shard 0 holds ${runtime.openCount} open signals, ${symbolsHere.length} symbols`);
    for (const size of [set.batch, 25]) {
      const jobs = size > 100 ? (set.quick ? 40 : 150) : set.quick ? 400 : 2000;
      const t = { parse: 0, apply: 0, commit: 0, metrics: 0, redis: 0, books: 0, recent: 0 };
      let marker = runtime.appliedJob;
      for (let k = 0; k < jobs + 10; k++) {
        const measured = k >= 10;
        const text = JSON.stringify({ kind: 'ticks', ticks: jobTicks(size).map(toWire) });
        const t0 = performance.now();
        const data = JSON.parse(text) as ShardJobData;
        const t1 = performance.now();
        const delta = runtime.apply(`${k + 1}`, data, new Map());
        const t2 = performance.now();
        const s0 = measured ? (await commandStats(redis)).get('evalsha') : undefined;
        const t3 = performance.now();
        if (!(await commitShard(redis, keys, marker, `${k + 1}`, delta, set.bufferSize, Date.now())))
          throw new Error('breakdown: marker moved');
        const t4 = performance.now();
        marker = runtime.appliedJob = `${k + 1}`;
        const t5 = performance.now();
        metrics.onShardCommitted({ shard: 0, data, delta, queuedAt: t0, poison: null });
        const t6 = performance.now();
        if (!measured) continue;
        t.metrics += t6 - t5;
        const s1 = (await commandStats(redis)).get('evalsha')!;
        t.parse += t1 - t0;
        t.apply += t2 - t1;
        t.commit += t4 - t3;
        t.redis += (s1[1] - (s0?.[1] ?? 0)) / 1000;
        for (const [symbol, c] of delta.books) {
          t.books += shardCodec.encodeBookClock(c).length;
          for (const w of shardCodec.stackWrites(symbol, c)) t.books += w.bytes.length;
        }
        for (const list of delta.recent.values()) t.recent += shardCodec.packTicks(list).length;
      }
      const per = (x: number): number => x / jobs;
      const label = `job${size}`;
      report({ name: `pipeline.${label}.parse_ms`, value: per(t.parse), unit: 'ms' });
      report({ name: `pipeline.${label}.apply_ms`, value: per(t.apply), unit: 'ms' });
      report({ name: `pipeline.${label}.commit_ms`, value: per(t.commit), unit: 'ms' });
      report({ name: `pipeline.${label}.commit_redis_ms`, value: per(t.redis), unit: 'ms' });
      report({ name: `pipeline.${label}.metrics_ms`, value: per(t.metrics), unit: 'ms' });
      report({ name: `pipeline.${label}.books_bytes`, value: per(t.books), unit: 'B' });
      report({ name: `pipeline.${label}.recent_bytes`, value: per(t.recent), unit: 'B' });
    }
  } finally {
    await dropPrefix(redis, prefix);
  }
}
