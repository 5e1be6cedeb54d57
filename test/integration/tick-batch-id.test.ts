/**
 * Publishing ticks safely (docs/QUEUES.md "Publishing ticks safely"): a producer that sends a
 * publish again after an error or a lost reply (Redis restarting) gives it the same batch id,
 * and its ticks are queued and applied once. The fault campaign found a batch applied twice
 * when the retry carried no id (a CI round: 6311 BTCUSDT ticks applied, 6301 published).
 */
import { describe, expect, it } from 'vitest';
import type { Tick } from '../../machines/types.ts';
import { shardOf, ShardKeys } from '../../src/names.ts';
import type { RedisClient } from '../../src/RedisClient.ts';
import { appliedTickCount } from '../../src/live/shardStore.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('batch-id');
const tracker = useResourceTracker();
const SHARDS = 2;
const pipeline = useLivePipeline({ db, ns, tracker, shards: SHARDS, flusher: false });

const T = 1_700_000_000_000;

function ticks(symbol: string, from: number, count: number): Tick[] {
  return Array.from({ length: count }, (_, i) => ({ symbol, ts: from + i * 1000, price: 100 + (i % 7) }));
}

async function applied(redis: RedisClient, symbol: string) {
  return (await appliedTickCount(redis, new ShardKeys(ns.prefix, shardOf(symbol, SHARDS)), symbol)) ?? 0;
}

describe('ticks published under a batch id', () => {
  it('are applied once however often the same publish is sent, while queued and after it ran', async () => {
    const live = await pipeline.start();
    const first = ticks('AAA', T, 30);
    // Sent three times before the worker ran it (a retry while the first is still queued) …
    await Promise.all([1, 2, 3].map(() => live.publishTicks(first, { batchId: 'feed-1' })));
    await live.waitUntilDrained();
    expect(await applied(live.redis, 'AAA')).toBe(30);
    // … and again after it ran.
    await live.publishTicks(first, { batchId: 'feed-1' });
    await live.waitUntilDrained();
    expect(await applied(live.redis, 'AAA')).toBe(30);
    // Another batch id is another batch, and a publish without one is applied as before.
    await live.publishTicks(ticks('AAA', T + 60_000, 10), { batchId: 'feed-2' });
    await live.publishTicks(ticks('AAA', T + 120_000, 5));
    await live.publishTicks(ticks('AAA', T + 180_000, 5));
    await live.waitUntilDrained();
    expect(await applied(live.redis, 'AAA')).toBe(50);
    expect(await live.failedShardJobs()).toEqual([]);
  });

  it('refuses a batch id that BullMQ could not keep apart (a colon, empty, too long)', async () => {
    const live = await pipeline.start();
    for (const bad of ['a:b', '', 'x'.repeat(201)])
      await expect(live.publishTicks(ticks('AAA', T, 1), { batchId: bad })).rejects.toThrow(
        /batchId must be/,
      );
  });
});
