/**
 * Taking a shard over from Redis (`loadShard`) as a worker does, against real Redis: a shard
 * checkpointed by an earlier version (records in the `{ value, context, sync }` object form,
 * docs/OPERATIONS.md "Upgrading to compact checkpoint records", and index clocks with their
 * extrema stacks inline) or by this one (the compact array form, stacks in their own strings),
 * or by both during an upgrade in place, loads and continues exactly as if no process had
 * changed.
 */
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import type { OutcomeLine, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { toWire, type ShardJobData } from '../../src/live/messages.ts';
import { shardCodec } from '../../src/live/shardCodec.ts';
import { ShardRuntime } from '../../src/live/ShardRuntime.ts';
import {
  commitShard,
  loadRecent,
  loadShard,
  lookupIds,
  moveUnbucketed,
  readRecords,
  readShard,
  restoreShard,
} from '../../src/live/shardStore.ts';
import { idsOf } from '../../src/live/messages.ts';
import { ShardKeys, signalBucketOf } from '../../src/names.ts';
import { readDataTicks } from '../support/dataFile.ts';
import { normalize } from '../support/runEngine.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { useRedisNamespace, useResourceTracker } from '../support/services.ts';

const ns = useRedisNamespace('shard-load');
const resources = useResourceTracker();
const BUFFER = 5000;
/** More signals than loadShard restores between two yields, so the load takes several slices. */
const SIGNALS = 5000;

let jobs: ShardJobData[] = [];
beforeAll(async () => {
  const ibm: Tick[] = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  const signals = normalize(
    generateSignals(spreadAnchors(ibm, SIGNALS), {
      count: SIGNALS,
      seed: 41,
      prefix: 'ld',
      scale: 0.03,
      notional: { share: 0.5, values: [1000, 25_000] },
    }),
  );
  jobs = interleave(signals, ibm);
});

/** Registrations and tick batches (at most 2000 ticks) in market-time order, as the queue brings them. */
function interleave(signals: NormalizedSignal[], ticks: Tick[]): ShardJobData[] {
  const out: ShardJobData[] = [];
  const pending = [...signals].sort((a, b) => a.createdAt - b.createdAt);
  let batch: Tick[] = [];
  const flush = () => {
    if (batch.length > 0) out.push({ kind: 'ticks', ticks: batch.map(toWire) });
    batch = [];
  };
  for (const t of ticks) {
    while (pending.length > 0 && pending[0]!.createdAt <= t.ts) {
      flush();
      out.push({ kind: 'register', signal: pending.shift()! });
    }
    batch.push(t);
    if (batch.length === 2000) flush();
  }
  flush();
  for (const signal of pending) out.push({ kind: 'register', signal });
  return out;
}

/** Outcome lines of what closed (from the deltas' outbox) and of what is still open, by id. */
class Outcomes {
  readonly lines = new Map<string, OutcomeLine>();
  note(outbox: Iterable<{ kind: string; outcome?: OutcomeLine }>): void {
    for (const e of outbox) if (e.kind === 'closed') this.lines.set(e.outcome!.id, e.outcome!);
  }
  finish(runtime: ShardRuntime): OutcomeLine[] {
    for (const c of runtime.openSignals()) this.lines.set(c.id, outcomeLine(c));
    return [...this.lines.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }
}

describe('loading a shard from Redis', () => {
  it.each([
    [
      'the object form of earlier versions, clocks with their stacks inline',
      (i: number) => i >= 0,
      undefined,
      true,
      'none' as const,
    ],
    // Small pages: many of them, and the reads wait for the decoding to catch up.
    [
      'both forms (an upgrade in place half done), read 97 at a time, then moved to their buckets',
      (i: number) => i % 2 === 0,
      97,
      false,
      'after' as const,
    ],
    // Read 97 at a time as they move: each record met once at least, in one place or the other.
    [
      'the old hash, moved to their buckets as they are read',
      (i: number) => i >= 0,
      97,
      false,
      'during' as const,
    ],
    ['the compact form', () => false, undefined, false, 'none' as const],
  ])(
    'continues exactly from records in %s',
    async (_form, rewrite, pageSize, inlineClocks, move) => {
      const redis = resources.redis();
      try {
        await continuesExactly(redis, rewrite, pageSize, inlineClocks, move);
      } finally {
        const ended = new Promise((resolve) => redis.once('end', resolve));
        redis.disconnect();
        await ended;
      }
    },
    120_000,
  );
});

/**
 * Applies the jobs in one runtime, and again in two processes' runtimes through Redis with a
 * take-over where the most signals are open, the records rewritten in the older form where
 * `rewrite(i)` says, and the index clocks too with `inlineClocks`; the outcomes must be the same.
 */
async function continuesExactly(
  redis: Redis,
  rewrite: (i: number) => boolean,
  pageSize: number | undefined,
  inlineClocks: boolean,
  move: 'none' | 'after' | 'during',
): Promise<void> {
  const keys = new ShardKeys(ns.prefix, 0);
  const expected = new Outcomes();
  const uninterrupted = new ShardRuntime(BUFFER);
  const known = new Map<string, 'open' | 'closed'>();
  let takeOver = 0;
  let mostOpen = 0;
  jobs.forEach((data, i) => {
    const delta = uninterrupted.apply(`${i + 1}`, data, known);
    for (const [id, state] of delta.ids) known.set(id, state);
    expected.note(delta.outbox.values());
    if (uninterrupted.openCount > mostOpen) [takeOver, mostOpen] = [i + 1, uninterrupted.openCount];
  });

  // The jobs up to the take-over applied and committed by one process, as a worker does…
  const actual = new Outcomes();
  let runtime = new ShardRuntime(BUFFER);
  const run = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const data = jobs[i]!;
      const ids = await lookupIds(redis, keys, idsOf(data));
      for (const symbol of runtime.needsRecent(data))
        runtime.setRecent(symbol, await loadRecent(redis, keys, symbol));
      const delta = runtime.apply(`${i + 1}`, data, ids);
      expect(await commitShard(redis, keys, runtime.appliedJob, `${i + 1}`, delta, BUFFER, 0)).toBe(true);
      runtime.noteApplied(`${i + 1}`);
      actual.note(delta.outbox.values());
    }
  };
  await run(0, takeOver);
  const written = await readRecords(redis, keys);
  const ids = [...written.keys()];
  expect(ids.length, 'open signals at the take-over').toBeGreaterThan(1000);
  expect([...written.values()].every((t) => t.startsWith('['))).toBe(true);
  expect(await redis.exists(keys.signals), 'records outside their buckets').toBe(0);
  // …its records rewritten as the previous versions wrote them (the record object's JSON, in the
  // shard's one hash of before the buckets)…
  let rewritten = 0;
  for (const [i, id] of ids.entries()) {
    if (!rewrite(i)) continue;
    await redis.hdel(keys.signalBucket(signalBucketOf(id)), id);
    await redis.hset(keys.signals, id, JSON.stringify(shardCodec.decodeRecord(written.get(id)!)));
    rewritten++;
  }
  // …and its index clocks as the previous version wrote them: the whole stacks in the clock's
  // JSON, no stack strings.
  const symbols = Object.keys(await redis.hgetall(keys.books));
  expect(symbols.length).toBeGreaterThan(0);
  const before = new Map(symbols.map((symbol) => [symbol, runtime.bookClock(symbol)]));
  if (inlineClocks) {
    for (const symbol of symbols) {
      const clock = runtime.bookClock(symbol);
      expect(
        clock.extrema.some((e) => e !== null && e.maxSeq.length > 1),
        `${symbol} tracks extrema`,
      ).toBe(true);
      await redis.hset(keys.books, symbol, JSON.stringify(clock));
      for (const series of [0, 1, 2, 3])
        await redis.del(keys.extremaStack(symbol, series, 'max'), keys.extremaStack(symbol, series, 'min'));
    }
  }
  // …and the rest by another process that takes the shard over from Redis, while a third moves
  // the old hash's records to their buckets ('during'), or …
  const moving = move === 'during' ? moveUnbucketed(redis, keys) : null;
  runtime =
    pageSize === undefined
      ? await loadShard(redis, keys, BUFFER)
      : await restoreShard(readShard(redis, keys, pageSize), BUFFER);
  expect(runtime.appliedJob).toBe(`${takeOver}`);
  expect(runtime.openCount).toBe(ids.length); // each once: a record read twice is restored once
  // …the new process then moves them ('after'), or its checkpoints move those they write.
  if (moving !== null) expect(await moving).toBe(rewritten);
  if (move === 'after') expect(await moveUnbucketed(redis, keys)).toBe(rewritten);
  if (move !== 'none') expect(await redis.exists(keys.signals)).toBe(0);
  for (const symbol of symbols)
    expect(runtime.bookClock(symbol), `${symbol}'s clock`).toEqual(before.get(symbol));
  await run(takeOver, jobs.length);

  expect(describeDifference(actual.finish(runtime), expected.finish(uninterrupted))).toBeNull();
  // The records the new process wrote it wrote in the compact form, each in its bucket and in
  // its bucket only.
  const after = await readRecords(redis, keys);
  expect([...after.values()].filter((t) => t.startsWith('{')).length).toBeLessThanOrEqual(rewritten);
  const unbucketed = await redis.hkeys(keys.signals);
  const inBuckets = new Set((await Promise.all(keys.signalBuckets.map((k) => redis.hkeys(k)))).flat());
  expect(unbucketed.filter((id) => inBuckets.has(id))).toEqual([]);
  expect(after.size).toBe(runtime.openCount);
}
