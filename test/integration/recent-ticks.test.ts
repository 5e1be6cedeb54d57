/**
 * A symbol's recent ticks are one packed binary string (docs/STORAGE.md "Redis: a shard's recent
 * ticks"); the previous version kept them as a list of JSON wire ticks. A running system is
 * upgraded in place, so a shard whose buffers are lists must be loaded as they are, catch late
 * signals up from them exactly as before, and continue: new ticks go to the string, read after
 * the list's, and the list goes once the string alone holds a whole buffer (and the open
 * signals' records, kept then in one hash a shard, move to their buckets). And
 * the packed form keeps the buffer's rule: the last TICK_BUFFER_SIZE ticks, every tick once, in
 * order, whatever size the jobs are.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { toWire } from '../../src/live/messages.ts';
import { RECENT_TICK_BYTES, shardCodec } from '../../src/live/shardCodec.ts';
import { commitShard, loadRecent, loadShard, readRecords } from '../../src/live/shardStore.ts';
import type { RedisClient } from '../../src/RedisClient.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { replay } from '../../src/replay/replay.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  startInProcessWorkers,
  type PipelineClient,
  type PipelineConfig,
} from '../support/livePipeline.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { redisUrl, useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const tracker = useResourceTracker();
const db = useTestDatabase();
const ns = useRedisNamespace('recent-ticks');

const SHARDS = 2;
const BUFFER = 3000;

let quotes: Tick[] = [];
let binance: Tick[] = [];
beforeAll(async () => {
  // IBM quotes carry bid and ask; BTCUSDT/ETHUSDT trades carry neither.
  quotes = (await readDataTicks('lean_usequity_IBM_quotes_2013-10-07_11.csv.gz')).slice(0, 12_000);
  binance = (await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz')).slice(0, 12_000);
});

let stopWorkers: (() => Promise<void>) | undefined;
let closeClient: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stopWorkers?.();
  await closeClient?.();
  stopWorkers = closeClient = undefined;
});

function config(): PipelineConfig {
  return {
    redisUrl: redisUrl(),
    databaseUrl: db.url,
    prefix: ns.prefix,
    shards: SHARDS,
    bufferSize: BUFFER,
    flusher: true,
  };
}

/**
 * Rewrites every symbol's recent ticks as the previous version's checkpoint script left them:
 * a list of the last `BUFFER` ticks, one `shardCodec.encodeRecentTick` entry each (RPUSH, then
 * LTRIM to the buffer), and no packed string. And its index clock, as that version wrote it
 * every job: up to date, the stacks inline, no stack strings and no book-seqs entry.
 */
async function downgradeRecentTicks(redis: RedisClient, symbols: string[]): Promise<void> {
  for (const symbol of symbols) {
    const keys = new ShardKeys(ns.prefix, shardOf(symbol, SHARDS));
    const clock = (await loadShard(redis, keys, BUFFER)).bookClock(symbol);
    expect(clock.seq, `${symbol}: ticks applied`).toBeGreaterThan(0);
    await redis.hset(keys.books, symbol, JSON.stringify(clock));
    await redis.hdel(keys.bookSeqs, symbol);
    for (const series of [0, 1, 2, 3])
      await redis.del(keys.extremaStack(symbol, series, 'max'), keys.extremaStack(symbol, series, 'min'));
    const ticks = await loadRecent(redis, keys, symbol, BUFFER);
    expect(ticks.length, `${symbol}: ticks to rewrite`).toBeGreaterThan(0);
    await redis.del(keys.recentTicks(symbol));
    for (let i = 0; i < ticks.length; i += 1000)
      await redis.rpush(
        keys.recentList(symbol),
        ...ticks.slice(i, i + 1000).map(shardCodec.encodeRecentTick),
      );
  }
}

/**
 * Every shard's open-signal records put back in the one hash a shard kept before the buckets
 * (docs/STORAGE.md "Redis: a shard's open-signal records"); returns how many.
 */
async function unbucketRecords(redis: RedisClient): Promise<number> {
  let moved = 0;
  for (let shard = 0; shard < SHARDS; shard++) {
    const keys = new ShardKeys(ns.prefix, shard);
    const records = await readRecords(redis, keys);
    for (const [id, text] of records) await redis.hset(keys.signals, id, text);
    await redis.del(...keys.signalBuckets);
    moved += records.size;
  }
  return moved;
}

describe('recent ticks kept by the previous version as lists', () => {
  it('are loaded as they are, catch late signals up exactly, and are read before the new ticks until a buffer follows them', async () => {
    const cfg = config();
    const symbols = ['IBM', 'BTCUSDT', 'ETHUSDT'];
    const signals = [
      ...generateSignals(spreadAnchors(quotes, 120), { count: 120, seed: 31, prefix: 'ibm' }),
      ...generateSignals(spreadAnchors(binance, 120), { count: 120, seed: 32, prefix: 'bin' }),
    ];
    signals.forEach((s, i) => {
      if (s.symbol === 'IBM') s.trigger = i % 2 === 0 ? 'bid_ask' : 'mid';
    });
    // Cut each series where the ticks still in the buffer reach back a good way before it.
    const cutIbm = quotes[Math.floor(quotes.length * 0.6)]!.ts;
    const cutBin = binance[Math.floor(binance.length * 0.6)]!.ts;
    const cutOf = (s: SignalPayload): number => (s.symbol === 'IBM' ? cutIbm : cutBin);
    const ticksA = [...quotes.filter((t) => t.ts <= cutIbm), ...binance.filter((t) => t.ts <= cutBin)];
    const ticksB = [...quotes.filter((t) => t.ts > cutIbm), ...binance.filter((t) => t.ts > cutBin)];
    // The oldest tick each symbol's buffer holds at the cut: late signals created after it are
    // caught up in full.
    const bufferedFrom = new Map(
      symbols.map((symbol) => {
        const mine = ticksA.filter((t) => t.symbol === symbol);
        return [symbol, mine[Math.max(0, mine.length - BUFFER)]!.ts];
      }),
    );
    const late = signals.filter((s) => s.createdAt <= cutOf(s) && s.createdAt > bufferedFrom.get(s.symbol)!);
    const lateIds = new Set(late.map((s) => s.id));
    const early = signals.filter((s) => !lateIds.has(s.id));
    expect(late.length, 'late signals').toBeGreaterThan(20);

    let workers = tracker.track(await startInProcessWorkers(cfg), 'in-process workers');
    stopWorkers = () => workers.close();
    const live: PipelineClient = tracker.track(createPipelineClient(cfg), 'pipeline client');
    closeClient = () => live.close();
    await live.submitSignals(early);
    await live.waitUntilDrained();
    await live.publishTicks(ticksA);
    await live.waitUntilDrained();
    await stopWorkers();

    // What the previous versions would have left in Redis (records too: in one hash a shard);
    // fresh workers take the shards over.
    await downgradeRecentTicks(live.redis, symbols);
    expect(await unbucketRecords(live.redis), 'open records').toBeGreaterThan(50);
    workers = tracker.track(await startInProcessWorkers(cfg), 'workers after the upgrade');
    stopWorkers = () => workers.close();
    // The late registrations read the lists (no write to the symbols comes before them).
    await live.submitSignals(late);
    await live.waitUntilDrained();
    for (const symbol of symbols) {
      const keys = new ShardKeys(ns.prefix, shardOf(symbol, SHARDS));
      expect(await live.redis.exists(keys.recentList(symbol)), `${symbol}: list still there`).toBe(1);
    }
    await live.publishTicks(ticksB);
    await live.waitUntilDrained();

    expect(await live.failedShardJobs()).toEqual([]);
    expect(await live.poisonEntries()).toEqual([]);
    const expected = await replay({ signals, ticks: [...quotes, ...binance] });
    expect(expected.rejectedSignals).toBe(0);
    expect(
      describeDifference(await live.collectOutcomes(signals.map((s) => s.id)), expected.lines),
    ).toBeNull();
    // The comparison covers catch-up: late signals that had filled before they arrived.
    const lineOf = new Map(expected.lines.map((l) => [l.id, l]));
    const caughtUp = late.filter((s) => {
      const fill = (lineOf.get(s.id) as { fill?: { ts: number } }).fill;
      return fill !== undefined && fill.ts <= cutOf(s);
    });
    expect(caughtUp.length, 'late signals filled from the lists').toBeGreaterThan(10);
    const { rows: gaps } = await live.db.query(
      "SELECT signal_id FROM audit_logs WHERE event = 'catchup_gap'",
    );
    expect(gaps, 'catch-up gaps').toEqual([]);

    // The list's ticks, then the string's, each once and in order; the list gone where the
    // string alone holds a whole buffer, and only there.
    const fullStrings = new Set<string>();
    for (const symbol of symbols) {
      const keys = new ShardKeys(ns.prefix, shardOf(symbol, SHARDS));
      const since = ticksB.filter((t) => t.symbol === symbol).length;
      if (since >= BUFFER) fullStrings.add(symbol);
      expect(await live.redis.exists(keys.recentList(symbol)), `${symbol}: list (${since} ticks since)`).toBe(
        since >= BUFFER ? 0 : 1,
      );
      const all = [...quotes, ...binance].filter((t) => t.symbol === symbol);
      expect(
        (await loadRecent(live.redis, keys, symbol, BUFFER)).map(toWire),
        `${symbol}: the last ${BUFFER} ticks`,
      ).toEqual(all.slice(-BUFFER).map(toWire));
    }
    expect(fullStrings.size, 'symbols whose list went').toBeGreaterThan(0);
    expect(fullStrings.size, 'symbols whose list stays').toBeLessThan(symbols.length);

    // The workers moved the old hashes' records to their buckets once they had loaded the shards.
    for (let shard = 0; shard < SHARDS; shard++) {
      const keys = new ShardKeys(ns.prefix, shard);
      for (let waited = 0; (await live.redis.exists(keys.signals)) === 1 && waited < 10_000; waited += 100)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await live.redis.exists(keys.signals), `shard ${shard}: records outside their buckets`).toBe(0);
    }
  });

  it('reads every quote exactly, the list before the string, and deletes the list once the string holds a buffer', async () => {
    const redis = tracker.redis();
    closeClient = async () => void (await redis.quit());
    const buffer = 5;
    const symbol = 'XYZ';
    const keys = new ShardKeys(ns.prefix, shardOf(symbol, SHARDS));
    const T = 1_700_000_000_000;
    const old: Tick[] = [
      { symbol, ts: T, price: 100 },
      { symbol, ts: T + 1, price: 0.1 + 0.2, bid: 0.30000000000000004 },
      { symbol, ts: T + 2, price: 1e-7, ask: 1.0000000000000002e-7 },
      { symbol, ts: T + 3, price: 123456.78901234567, bid: 123456.7, ask: 123456.80000000002 },
      { symbol, ts: T + 4, price: 5e-324, bid: 1.7976931348623157e308 },
    ];
    await redis.rpush(keys.recentList(symbol), ...old.map(shardCodec.encodeRecentTick));
    expect(await loadRecent(redis, keys, symbol, buffer), 'read from the list').toEqual(old);

    const runtime = await loadShard(redis, keys, buffer);
    const sent: Tick[] = [];
    let marker: string | null = null;
    const commit = async (ticks: Tick[]): Promise<void> => {
      const id = String(sent.length + 1);
      const delta = runtime.apply(id, { kind: 'ticks', ticks: ticks.map(toWire) }, new Map());
      expect(await commitShard(redis, keys, marker, id, delta, buffer, 0), `job ${id}`).toBe(true);
      runtime.noteApplied(id);
      marker = id;
      sent.push(...ticks);
    };
    await commit([{ symbol, ts: T + 5, price: 2 / 3, ask: 0.7 }]);
    expect(await redis.exists(keys.recentList(symbol)), 'list kept while the string is short').toBe(1);
    expect(await loadRecent(redis, keys, symbol, buffer), 'list, then string').toEqual(
      [...old, ...sent].slice(-buffer),
    );
    expect(await loadRecent(redis, keys, symbol), 'everything kept').toEqual([...old, ...sent]);

    await commit([3, 4, 5].map((k) => ({ symbol, ts: T + 3 + k, price: 1 + k / 3, bid: k / 7 })));
    expect(await redis.exists(keys.recentList(symbol)), 'list kept while the string is short').toBe(1);
    expect(await loadRecent(redis, keys, symbol, buffer), 'list, then string').toEqual(
      [...old, ...sent].slice(-buffer),
    );

    await commit([{ symbol, ts: T + 9, price: 9 }]);
    expect(await redis.exists(keys.recentList(symbol)), 'list deleted: the string holds a buffer').toBe(0);
    expect(await loadRecent(redis, keys, symbol, buffer), 'the string alone').toEqual(sent.slice(-buffer));
  });
});

describe('recent ticks packed', () => {
  it('keep the last TICK_BUFFER_SIZE ticks in order through jobs of every size, trimmed only past twice that', async () => {
    const redis = tracker.redis();
    closeClient = async () => void (await redis.quit());
    const buffer = 50;
    const symbol = 'XYZ';
    const keys = new ShardKeys(ns.prefix, shardOf(symbol, SHARDS));
    const runtime = await loadShard(redis, keys, buffer);
    const T = 1_700_000_000_000;
    const sent: Tick[] = [];
    let longest = 0;
    let marker: string | null = null;
    for (let job = 1; sent.length < 600; job++) {
      const size = [1, 7, 49, 50, 51, 120][job % 6]!;
      const ticks: Tick[] = [];
      for (let k = 0; k < size; k++) {
        const n = sent.length + k;
        ticks.push({
          symbol,
          ts: T + n,
          price: 100 + (n % 17) / 8,
          ...(n % 3 === 0 && { bid: 99 + n / 1000 }),
        });
      }
      sent.push(...ticks);
      const id = String(job);
      const delta = runtime.apply(id, { kind: 'ticks', ticks: ticks.map(toWire) }, new Map());
      expect(await commitShard(redis, keys, marker, id, delta, buffer, 0), `job ${id} committed`).toBe(true);
      runtime.noteApplied(id);
      marker = id;
      expect(await loadRecent(redis, keys, symbol, buffer), `after job ${id}`).toEqual(sent.slice(-buffer));
      const bytes = await redis.strlen(keys.recentTicks(symbol));
      expect(bytes % RECENT_TICK_BYTES, `after job ${id}: whole records`).toBe(0);
      expect(bytes, `after job ${id}: at most twice the buffer`).toBeLessThanOrEqual(
        2 * buffer * RECENT_TICK_BYTES,
      );
      longest = Math.max(longest, bytes);
    }
    // Trimmed lazily: the string did hold more than the buffer between trims.
    expect(longest).toBeGreaterThan(buffer * RECENT_TICK_BYTES);
  });
});
