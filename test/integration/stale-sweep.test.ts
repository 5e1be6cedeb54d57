/**
 * SPEC.md, the stale sweep: with no ticks arriving, the live system still closes signals whose
 * entry expiry or time limit has passed. Its clock is the market clock (the latest tick time any
 * shard applied, plus the wall time since); once it passes a signal's deadline plus the grace
 * period with no tick of the signal's symbol at or after the deadline, the signal closes at the
 * deadline, at the last known trigger price, as EXPIRED or TIME_EXIT, `stale: true`. A tick at
 * or after the deadline closes it normally instead (as replay does). STALE_SWEEP=off: nothing
 * schedules the sweep, and such signals stay open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { shardOf } from '../../src/names.ts';
import { enqueueSweep } from '../../src/live/scheduleSweep.ts';
import { createShardQueues, type ShardQueues } from '../../src/live/shardQueues.ts';
import { replay } from '../../src/replay/replay.ts';
import {
  createPipelineClient,
  spawnProcess,
  startInProcessWorkers,
  tail,
  type InProcessWorkers,
  type PipelineClient,
  type PipelineConfig,
  type WorkerProcess,
} from '../support/livePipeline.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { redisUrl, useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('sweep');
const tracker = useResourceTracker();

const SHARDS = 2;
const T = 1_700_000_000_000;
const GRACE_MS = 5000;
/** Its ticks stop at T+10 s. */
const QUIET = 'QUIET';
/** Another shard's symbol, whose ticks move the market clock on. */
const BUSY = 'BUSY';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let workers: InProcessWorkers | undefined;

function config(): PipelineConfig {
  return { redisUrl: redisUrl(), databaseUrl: db.url, prefix: ns.prefix, shards: SHARDS, flusher: true };
}

/** In-process workers (with `now` as their wall clock) and a client, closed after the test. */
async function start(now?: () => number): Promise<PipelineClient> {
  workers = tracker.track(await startInProcessWorkers(config(), now ? { now } : {}), 'in-process workers');
  cleanups.push(async () => {
    await workers?.close();
    workers = undefined;
  });
  const live = tracker.track(createPipelineClient(config()), 'pipeline client');
  cleanups.push(() => live.close());
  return live;
}

/** The shard queues a sweep is enqueued on, as the scheduler process has them; closed after the test. */
function sweepQueues(live: PipelineClient): ShardQueues {
  const queues = createShardQueues({ connection: live.redis, prefix: ns.prefix, onError: () => {} });
  cleanups.push(() => queues.close());
  return queues;
}

/** New workers in place of the old: they restore the shards from Redis. */
async function restartWorkers(now: () => number): Promise<void> {
  await workers!.close();
  workers = tracker.track(await startInProcessWorkers(config(), { now }), 'restarted workers');
}

const base = (id: string, extra: Partial<SignalPayload>): SignalPayload => ({
  v: 1,
  id,
  symbol: QUIET,
  side: 'long',
  createdAt: T,
  entry: { type: 'market' },
  ...extra,
});

/**
 * The signals of one test, ids prefixed with `p`: tests share the file's database, and an id
 * PostgreSQL already holds an outcome for would not get another.
 */
const signals = (p: string): SignalPayload[] => [
  // Never fills; its entry expires at T+60 s.
  base(`${p}expires`, { entry: { type: 'limit', price: 90 }, entryExpiresAt: T + 60_000 }),
  // Filled at T; held at most 30 s.
  base(`${p}time-last`, { timeLimitMs: 30_000 }),
  // A short that compares its exits with the ask: its last trigger price is the last ask.
  base(`${p}time-ask`, { side: 'short', trigger: 'bid_ask', timeLimitMs: 30_000 }),
  // With 50 bps of slippage: the market entry and the stale close both take liquidity.
  base(`${p}time-slip`, { timeLimitMs: 30_000, slippageBps: 50 }),
  // No deadline at all, and one far away.
  base(`${p}no-deadline`, {}),
  base(`${p}far-deadline`, { timeLimitMs: 36_000_000 }),
];

/** QUIET ticks every second from T to T+10 s, price 100 → 101, quotes 0.1 either side. */
const QUIET_TICKS: Tick[] = Array.from({ length: 11 }, (_, i) => {
  const price = Number((100 + 0.1 * i).toFixed(2));
  return {
    symbol: QUIET,
    ts: T + 1000 * i,
    price,
    bid: Number((price - 0.1).toFixed(2)),
    ask: Number((price + 0.1).toFixed(2)),
  };
});

type Line = { id: string; state: string; outcome?: string; stale?: boolean };

/** The signals' live outcomes by id without the prefix. */
async function lines(live: PipelineClient, p: string): Promise<Record<string, Line>> {
  const all = (await live.collectOutcomes(signals(p).map((s) => s.id))) as Line[];
  return Object.fromEntries(all.map((l) => [l.id.slice(p.length), l]));
}

describe('stale sweep', () => {
  it('closes signals past deadline + grace with no tick since, at the deadline and the last trigger price, stale', async () => {
    // A real date: ticks more than MAX_CLOCK_SKEW_MS ahead of the wall clock are refused.
    let wall = Date.now();
    const live = await start(() => wall);
    expect(shardOf(QUIET, SHARDS)).not.toBe(shardOf(BUSY, SHARDS));
    const sweep = (): Promise<number | null> =>
      enqueueSweep({
        redis: live.redis,
        queues: sweepQueues(live),
        prefix: ns.prefix,
        shards: SHARDS,
        graceMs: GRACE_MS,
        now: () => wall,
      });

    // No tick yet: no market clock, no sweep.
    await live.submitSignals(signals('a-'));
    await live.waitUntilDrained();
    expect(await sweep()).toBeNull();

    await live.publishTicks(QUIET_TICKS);
    await live.waitUntilDrained();
    const open = await lines(live, 'a-');

    // The clock moves on through another shard's ticks; QUIET stays silent. One millisecond
    // short of the first deadline + grace: nothing closes.
    await live.publishTicks([{ symbol: BUSY, ts: T + 30_000 + GRACE_MS - 1, price: 50 }]);
    await live.waitUntilDrained();
    expect(await sweep()).toBe(T + 30_000 + GRACE_MS - 1);
    await live.waitUntilDrained();
    expect(await lines(live, 'a-')).toEqual(open);

    // From here on the shards are served by workers that restored them from Redis.
    await restartWorkers(() => wall);

    // Wall time counts too: one millisecond later, both time limits are due.
    wall += 1;
    expect(await sweep()).toBe(T + 30_000 + GRACE_MS);
    await live.waitUntilDrained();
    let now = await lines(live, 'a-');
    const timeExit = {
      state: 'closed',
      outcome: 'TIME_EXIT',
      partial: false,
      closedAt: T + 30_000,
      holdingMs: 30_000,
      stale: true,
    };
    expect(now['time-last']).toMatchObject({
      ...timeExit,
      fill: { ts: T, price: 100 },
      legs: [{ reason: 'TIME', price: 101, fraction: 1, ts: T + 30_000 }],
    });
    // Filled short at the first bid, closed at the last ask.
    expect(now['time-ask']).toMatchObject({
      ...timeExit,
      fill: { ts: T, price: 99.9 },
      legs: [{ reason: 'TIME', price: 101.1, fraction: 1, ts: T + 30_000 }],
    });
    // Slippage on both fills (SPEC "Slippage": the stale sweep's closes take it): booked at
    // 100·1.005 and closed at the last price 101·(1 − 0.005).
    expect(now['time-slip']).toMatchObject({ ...timeExit, fill: { ts: T } });
    const slip = now['time-slip'] as unknown as { fill: { price: number }; legs: { price: number }[] };
    expect(slip.fill.price).toBeCloseTo(100.5, 12);
    expect(slip.legs).toHaveLength(1);
    expect(slip.legs[0]!.price).toBeCloseTo(100.495, 12);
    for (const id of ['expires', 'no-deadline', 'far-deadline']) expect(now[id], id).toEqual(open[id]);

    // The entry expiry: 30 s of wall time later.
    wall += 30_000;
    expect(await sweep()).toBe(T + 60_000 + GRACE_MS);
    await live.waitUntilDrained();
    now = await lines(live, 'a-');
    expect(now['expires']).toEqual({
      id: 'a-expires',
      state: 'closed',
      outcome: 'EXPIRED',
      legs: [],
      closedAt: T + 60_000,
      stale: true,
    });
    expect(now['no-deadline']).toEqual(open['no-deadline']);
    expect(now['far-deadline']).toEqual(open['far-deadline']);
    expect(now['no-deadline']).toMatchObject({ state: 'open' });

    // Stored as stale in PostgreSQL, with their legs.
    const { rows } = await live.db.query<{ signal_id: string; outcome: string; stale: boolean }>(
      `SELECT signal_id, outcome, stale FROM signal_outcomes WHERE signal_id LIKE 'a-%' ORDER BY signal_id`,
    );
    expect(rows).toEqual([
      { signal_id: 'a-expires', outcome: 'EXPIRED', stale: true },
      { signal_id: 'a-time-ask', outcome: 'TIME_EXIT', stale: true },
      { signal_id: 'a-time-last', outcome: 'TIME_EXIT', stale: true },
      { signal_id: 'a-time-slip', outcome: 'TIME_EXIT', stale: true },
    ]);
  });

  it('lets a tick at or after the deadline close them normally, as replay does; a later sweep changes nothing', async () => {
    // A real date: ticks more than MAX_CLOCK_SKEW_MS ahead of the wall clock are refused.
    let wall = Date.now();
    const live = await start(() => wall);
    const ticks: Tick[] = [
      ...QUIET_TICKS,
      { symbol: QUIET, ts: T + 30_000, price: 101.5, bid: 101.4, ask: 101.6 },
      { symbol: QUIET, ts: T + 60_000, price: 102, bid: 101.9, ask: 102.1 },
    ];
    await live.submitSignals(signals('b-'));
    await live.waitUntilDrained();
    await live.publishTicks(ticks);
    await live.waitUntilDrained();

    const mine = signals('b-');
    const ids = mine.map((s) => s.id);
    const expected = (await replay({ signals: mine, ticks })).lines;
    expect(describeDifference(await live.collectOutcomes(ids), expected)).toBeNull();
    const byId = Object.fromEntries(expected.map((l) => [l.id!.slice(2), l]));
    expect(byId['time-last']).toMatchObject({ outcome: 'TIME_EXIT', closedAt: T + 30_000 });
    expect(byId['time-ask']).toMatchObject({ outcome: 'TIME_EXIT', closedAt: T + 30_000 });
    expect(byId['expires']).toMatchObject({ outcome: 'EXPIRED', closedAt: T + 60_000 });
    expect(expected.some((l) => 'stale' in l)).toBe(false);

    // Long after (but before far-deadline's deadline): the sweep finds nothing to do.
    wall += 3_600_000;
    expect(
      await enqueueSweep({
        redis: live.redis,
        queues: sweepQueues(live),
        prefix: ns.prefix,
        shards: SHARDS,
        graceMs: GRACE_MS,
        now: () => wall,
      }),
    ).toBe(T + 60_000 + 3_600_000);
    await live.waitUntilDrained();
    expect(describeDifference(await live.collectOutcomes(ids), expected)).toBeNull();
  });

  it('STALE_SWEEP=off: the scheduler process schedules no sweep and the signals stay open; on: they close', async () => {
    // Real wall time here: the last tick is half a second before the time limits end, and the
    // grace is 0, so the market clock passes them half a second after the tick is applied.
    const live = await start();
    const ticks = QUIET_TICKS.map((t, i) => ({ ...t, ts: T + 2950 * i })); // up to T+29.5 s
    await live.submitSignals(signals('c-'));
    await live.waitUntilDrained();
    await live.publishTicks(ticks);
    await live.waitUntilDrained();
    const open = await lines(live, 'c-');
    expect(open['time-last']).toMatchObject({ state: 'open' });

    const scheduler = (label: string, staleSweep: string): WorkerProcess => {
      const p = spawnProcess(label, 'workers/scheduler.ts', {
        REDIS_URL: redisUrl(),
        QUEUE_PREFIX: ns.prefix,
        SHARDS: String(SHARDS),
        STALE_SWEEP: staleSweep,
        STALE_GRACE_MS: '0',
        SWEEP_CRON: '* * * * * *',
        ANALYZE_CRON: '0 0 1 1 *',
      });
      cleanups.push(() => p.kill());
      return p;
    };
    const sweepJobs = async (): Promise<number> => {
      let n = 0;
      for (let s = 0; s < SHARDS; s++)
        n += (await live.shardQueue(s).getJobs(['completed', 'waiting', 'active'])).filter(
          (j) => j.name === 'sweep',
        ).length;
      return n;
    };

    const off = scheduler('scheduler (STALE_SWEEP=off)', 'off');
    await off.waitForOutput('scheduler started');
    // Three of its would-be cron ticks, well past the deadlines.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await off.stop();
    expect((await off.exited).code, tail(off.output())).toBe(0);
    await live.waitUntilDrained();
    expect(await sweepJobs()).toBe(0);
    expect(await lines(live, 'c-')).toEqual(open);

    const on = scheduler('scheduler (STALE_SWEEP=on)', 'on');
    await on.waitForOutput('scheduler started');
    const deadline = Date.now() + 15_000;
    while ((await lines(live, 'c-'))['time-last']?.state !== 'closed') {
      if (Date.now() > deadline) throw new Error(`no stale close within 15 s\n${tail(on.output())}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await on.stop();
    await live.waitUntilDrained();
    expect(await sweepJobs()).toBeGreaterThan(0);
    const now = await lines(live, 'c-');
    expect(now['time-last']).toMatchObject({
      outcome: 'TIME_EXIT',
      closedAt: T + 30_000,
      stale: true,
      legs: [{ reason: 'TIME', price: 101, fraction: 1, ts: T + 30_000 }],
    });
    expect(now['time-ask']).toMatchObject({
      outcome: 'TIME_EXIT',
      closedAt: T + 30_000,
      stale: true,
      legs: [{ reason: 'TIME', price: 101.1, fraction: 1, ts: T + 30_000 }],
    });
    // Its entry expiry (T+60 s) is 30 s of market time away.
    expect(now['expires']).toEqual(open['expires']);
  });
});
