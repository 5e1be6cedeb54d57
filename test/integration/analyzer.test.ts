/**
 * The analyzer against real PostgreSQL and Redis: outcomes stored in signal_outcomes are loaded
 * (legs reduced in SQL), analysed and stored; re-running a window updates its metrics rows and
 * refreshes its insights instead of adding rows; the worker runs `analyze` jobs; two schedulers
 * enqueue every job of a slot once.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AnalyzeJobData } from '../../src/analyzer/analyzeJob.ts';
import { createAnalyzeWorker } from '../../src/analyzer/analyzeWorker.ts';
import { createAnalyzer } from '../../src/analyzer/createAnalyzer.ts';
import { toMs } from '../../src/storage/epochMs.ts';
import { loadOutcomes } from '../../src/storage/loadOutcomes.ts';
import { queryInsights } from '../../src/storage/queryInsights.ts';
import { queryMetrics } from '../../src/storage/queryMetrics.ts';
import { ANALYZE_JOB_OPTIONS, enqueueAnalyze, scheduleAnalyze } from '../../src/analyzer/scheduleAnalyze.ts';
import { analyzeCommand } from '../../src/cli/analyzeCommand.ts';
import { UsageError } from '../../src/cli/usageError.ts';
import { analyzeLastSlotKey, QUEUE_NAMES } from '../../src/names.ts';
import { quit } from '../support/liveWeb.ts';
import {
  createReadOnlyRedisUser,
  redisUrl,
  useRedisNamespace,
  useResourceTracker,
  useTestDatabase,
} from '../support/services.ts';

const db = useTestDatabase();
const resources = useResourceTracker();
const ns = useRedisNamespace('analyzer');
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

// Every test starts from empty tables, whatever the previous one left behind when it failed.
afterEach(async () => {
  const client = new pg.Client({ connectionString: db.url, application_name: 'analyzer test cleanup' });
  await client.connect();
  try {
    await client.query('TRUNCATE signal_outcomes, performance_metrics, performance_insights');
  } finally {
    await client.end();
  }
});

/** Connection options (not a client): BullMQ then opens and closes its connections itself. */
function connection(): { host: string; port: number; db: number; maxRetriesPerRequest: null } {
  const u = new URL(redisUrl());
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    db: Number(u.pathname.slice(1) || 0),
    maxRetriesPerRequest: null,
  };
}

const DAY = 86_400_000;
const END = Date.parse('2025-03-10T00:00:00Z');
const AT = END - 12 * 3_600_000; // noon of 2025-03-09: its windows end at END

interface Outcome {
  id: string;
  tenant?: string;
  strategy?: string | null;
  symbol?: string;
  closedAt: number;
  outcome: string;
  netReturn?: number | null;
  rMultiple?: number | null;
  holdingMs?: number | null;
  confidence?: number | null;
  legs?: object[];
}

async function insertOutcomes(pool: pg.Pool, outcomes: Outcome[]): Promise<void> {
  await pool.query(
    `INSERT INTO signal_outcomes (signal_id, closed_at, tenant, symbol, side, strategy, model, model_version,
       timeframe, confidence, outcome, net_return, gross_return, r_multiple, holding_ms, legs)
     SELECT o.id, o.closed_at, o.tenant, o.symbol, 'long', o.strategy, 'm1', 'v1', '1h', o.confidence, o.outcome,
            o.net_return, o.net_return, o.r_multiple, o.holding_ms, o.legs
     FROM jsonb_to_recordset($1::jsonb) AS o(id text, closed_at timestamptz, tenant text, symbol text, strategy text,
       confidence float8, outcome text, net_return float8, r_multiple float8, holding_ms bigint, legs jsonb)`,
    [
      JSON.stringify(
        outcomes.map((o) => ({
          id: o.id,
          closed_at: new Date(o.closedAt).toISOString(),
          tenant: o.tenant ?? 't1',
          symbol: o.symbol ?? 'AAA',
          strategy: o.strategy === undefined ? 's1' : o.strategy,
          confidence: o.confidence ?? null,
          outcome: o.outcome,
          net_return: o.netReturn ?? null,
          r_multiple: o.rMultiple ?? null,
          holding_ms: o.holdingMs ?? null,
          legs: o.legs ?? [],
        })),
      ),
    ],
  );
}

const TP = (level: number, fraction: number): object => ({
  reason: 'TP',
  level,
  price: 100 + level,
  fraction,
  ts: 0,
});
const SL = (stopKind: string): object => ({ reason: 'SL', stopKind, price: 99, fraction: 1, ts: 0 });

/** 60 trades of strategy `quick` on 2025-03-09 stopped out one minute after the fill. */
function quickStops(prefix: string): Outcome[] {
  return Array.from({ length: 60 }, (_, i) => ({
    id: `${prefix}${i}`,
    strategy: 'quick',
    symbol: 'QQQ',
    closedAt: END - DAY + 3_600_000 + i * 60_000,
    outcome: 'SL_HIT',
    netReturn: -0.01,
    rMultiple: -1,
    holdingMs: 60_000,
    legs: [SL('initial')],
  }));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('loadOutcomes', () => {
  it('reduces the legs in SQL and puts the outcomes in close order', async () => {
    const pool = resources.pool(db.url);
    await insertOutcomes(pool, [
      { id: 'L1', closedAt: END - 5000, outcome: 'TP_HIT', netReturn: 0.02, legs: [TP(1, 0.5), TP(2, 0.5)] },
      {
        id: 'L2',
        closedAt: END - 4000,
        outcome: 'SL_HIT',
        netReturn: 0.002,
        legs: [TP(1, 0.5), SL('breakeven')],
      },
      { id: 'L3', closedAt: END - 3000, outcome: 'TP_HIT', netReturn: 0.01, legs: [TP(1, 1)] },
      { id: 'L4', closedAt: END - 2000, outcome: 'SL_HIT', netReturn: -0.01, legs: [SL('initial')] },
      { id: 'L5', closedAt: END - 6000, outcome: 'CANCELLED' },
      { id: 'L6', tenant: 't0', closedAt: END - 1000, outcome: 'TIME_EXIT', netReturn: 0, legs: [] },
      { id: 'L7', closedAt: END, outcome: 'TP_HIT', netReturn: 0.5, legs: [TP(1, 1)] },
    ]);
    const c = await loadOutcomes(pool, { end: END, tenant: 't1' });
    expect(c.length).toBe(5); // L6 is another tenant's, L7 closes at the end (exclusive)
    expect([...c.closedAt]).toEqual([END - 6000, END - 5000, END - 4000, END - 3000, END - 2000]);
    expect([...c.maxTpLevel]).toEqual([0, 2, 1, 1, 0]);
    expect([...c.continuedAfterTp1]).toEqual([0, 1, 1, 0, 0]);
    expect([...c.closeStopKind]).toEqual([0, 0, 2, 0, 1]); // breakeven = 2, initial = 1
    expect(Number.isNaN(c.netReturn[0]!)).toBe(true);
    const both = await loadOutcomes(pool, { end: END, since: END - 4500 });
    expect([...both.tenants].sort()).toEqual(['t0', 't1']);
    expect(both.length).toBe(4);
    await pool.end();
  });
});

describe('loadOutcomes legs facts', () => {
  it('reads the highest TP and "went on after TP1" as the subqueries over every leg define them, short or long legs', async () => {
    const pool = resources.pool(db.url);
    const M = { reason: 'MANUAL', price: 100, fraction: 0.2, ts: 0 };
    const legSets: object[][] = [
      [],
      [TP(1, 1)],
      [TP(2, 0.5), TP(1, 0.5)],
      [TP(1, 0.3), M, TP(3, 0.3), SL('trailing')],
      [M, TP(1, 1)],
      [{ reason: 'TP', price: 101, fraction: 1, ts: 0 }, M],
      [{ reason: 'TP', level: '1', price: 101, fraction: 0.5, ts: 0 }, M],
      // Longer than the unrolled legs: read by the subqueries themselves.
      [TP(1, 0.2), M, M, TP(2, 0.2), SL('amended')],
      [M, M, M, M, TP(1, 0.5), TP(4, 0.5)],
      [M, M, M, M, M, TP(1, 1)],
    ];
    await insertOutcomes(
      pool,
      legSets.map((legs, k) => ({
        id: `F${k}`,
        closedAt: END - 10_000 + k,
        outcome: 'TP_HIT',
        netReturn: 0.01,
        legs,
      })),
    );
    const { rows } = await pool.query<{ max_tp: number; after_tp1: boolean }>(
      `SELECT (SELECT coalesce(max((l->>'level')::int), 0) FROM jsonb_array_elements(legs) AS l
                WHERE l->>'reason' = 'TP') AS max_tp,
              coalesce((SELECT bool_or(e.l->>'reason' = 'TP' AND e.l->>'level' = '1' AND e.n < jsonb_array_length(legs))
                FROM jsonb_array_elements(legs) WITH ORDINALITY AS e(l, n)), false) AS after_tp1
       FROM signal_outcomes ORDER BY closed_at`,
    );
    const c = await loadOutcomes(pool, { end: END });
    expect([...c.maxTpLevel]).toEqual(rows.map((r) => r.max_tp));
    expect([...c.continuedAfterTp1]).toEqual(rows.map((r) => (r.after_tp1 ? 1 : 0)));
    // The cases above are not all alike: both answers occur among short and long legs.
    expect([...c.maxTpLevel]).toEqual([0, 1, 2, 3, 1, 0, 1, 2, 4, 1]);
    expect([...c.continuedAfterTp1]).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 1, 0]);
    await pool.end();
  });
});

describe('loadOutcomes over COPY binary', () => {
  it('reads times as toMs does in SQL (sub-millisecond halves, before 1970 and 2000) and quotes the tenant', async () => {
    const pool = resources.pool(db.url);
    const times = [
      '2025-03-09 12:00:00.0005+00',
      '2025-03-09 12:00:00.0015+00',
      '2025-03-09 12:00:00.0004999+00',
      '1999-12-31 23:59:59.9995+00',
      '1985-06-01 00:00:00.0025+00',
      '1969-12-31 23:59:59.9995+00',
      '1950-01-01 00:00:00.0005+00',
      '2099-01-01 00:00:00.123456+00',
    ];
    // The timestamps go in as text, so PostgreSQL keeps their microseconds.
    await pool.query(
      `INSERT INTO signal_outcomes (signal_id, closed_at, signal_created_at, tenant, symbol, side, outcome, legs)
       SELECT 'T' || n, t::timestamptz, t::timestamptz - interval '1.2345 s', $2, 'AAA', 'long', 'CANCELLED', '[]'
       FROM unnest($1::text[]) WITH ORDINALITY AS x(t, n)`,
      [times, "o'brien"],
    );
    const { rows } = await pool.query<{ closed: number; created: number }>(
      `SELECT ${toMs('closed_at')} AS closed, ${toMs('signal_created_at')} AS created
       FROM signal_outcomes ORDER BY closed_at`,
    );
    const c = await loadOutcomes(pool, { end: Date.parse('2100-01-01T00:00:00Z'), tenant: "o'brien" });
    expect(c.tenants).toEqual(["o'brien"]);
    expect([...c.closedAt]).toEqual(rows.map((r) => r.closed));
    expect([...c.createdAt]).toEqual(rows.map((r) => r.created));
    await pool.end();
  });
});

describe('createAnalyzer', () => {
  it('stores metrics per window and group, upserts them on a re-run and never repeats an insight', async () => {
    const pool = resources.pool(db.url);
    await insertOutcomes(pool, [
      ...quickStops('Q'),
      { id: 'A1', closedAt: END - 20 * DAY, outcome: 'EXPIRED' },
      {
        id: 'A2',
        closedAt: END - 3 * DAY,
        outcome: 'TP_HIT',
        netReturn: 0.02,
        rMultiple: 2,
        confidence: 0.7,
        legs: [TP(1, 1)],
      },
      {
        id: 'A3',
        symbol: 'BBB',
        closedAt: END - 2 * 3_600_000,
        outcome: 'SL_HIT',
        netReturn: -0.01,
        rMultiple: -1,
        legs: [SL('trailing')],
      },
      {
        id: 'B1',
        tenant: 't2',
        closedAt: END - 3_600_000,
        outcome: 'TIME_EXIT',
        netReturn: 0.001,
        rMultiple: 0.1,
      },
    ]);
    let clock = AT + 5 * 60_000;
    const analyzer = createAnalyzer({ pool, log, now: () => clock });

    const first = await analyzer.analyze({ at: AT });
    expect(first).toMatchObject({ outcomes: 64, windowEnds: [new Date(END).toISOString()] });
    expect(first.insights.raised).toBeGreaterThan(0);
    expect(first.insights.refreshed).toBe(0);

    const { rows: oneDay } = await pool.query(
      `SELECT tenant, group_kind, group_key, sample_count, window_start, window_end, metrics, computed_at
       FROM performance_metrics WHERE window_name = '1d' AND group_kind = 'all' ORDER BY tenant`,
    );
    expect(oneDay.map((r) => [r.tenant, r.sample_count])).toEqual([
      ['t1', 61],
      ['t2', 1],
    ]);
    expect(oneDay[0].window_start.toISOString()).toBe(new Date(END - DAY).toISOString());
    expect(oneDay[0].window_end.toISOString()).toBe(new Date(END).toISOString());
    expect(oneDay[0].computed_at.toISOString()).toBe(new Date(clock).toISOString());
    // 61 trades on 03-09: 60 stops at −1 R and A3 at −1 R: one day of 0.01 · −61 = −0.61.
    expect(oneDay[0].metrics).toMatchObject({ trades: 61, wins: 0, losses: 61, days: 1 });
    expect(oneDay[0].metrics.cumReturn).toBeCloseTo(-0.61, 12);
    expect(oneDay[0].metrics.nullReasons.avgWin).toBe('no_wins');
    expect(oneDay[0].metrics.nullReasons).not.toHaveProperty('winRate');

    // SQL can read the metrics directly.
    const { rows: bySymbol } = await pool.query(
      `SELECT group_key, (metrics->>'winRate')::float8 AS win_rate FROM performance_metrics
       WHERE tenant = 't1' AND window_name = '7d' AND group_kind = 'symbol' ORDER BY group_key`,
    );
    expect(bySymbol).toEqual([
      { group_key: 'AAA', win_rate: 1 },
      { group_key: 'BBB', win_rate: 0 },
      { group_key: 'QQQ', win_rate: 0 },
    ]);

    const { rows: insights } = await pool.query(
      `SELECT rule, severity, window_name, group_kind, group_key, evidence, recommendation, dedup_key, created_at
       FROM performance_insights WHERE rule = 'stops_too_tight' AND window_name = '1d' ORDER BY dedup_key`,
    );
    expect(insights.map((i) => i.dedup_key)).toEqual([
      'stops_too_tight|all|all',
      'stops_too_tight|model|["m1","v1"]',
      'stops_too_tight|strategy|quick',
    ]);
    expect(insights[2]).toMatchObject({ severity: 'warning', group_kind: 'strategy', group_key: 'quick' });
    expect(insights[2].evidence).toMatchObject({ initialStops: 60, medianHoldingMs: 60_000 });
    expect(insights[2].recommendation).toContain('strategy quick');

    const counts = async (): Promise<{ metrics: number; insights: number }> => {
      const { rows } = await pool.query(
        `SELECT (SELECT count(*)::int FROM performance_metrics) AS metrics,
                (SELECT count(*)::int FROM performance_insights) AS insights`,
      );
      return rows[0];
    };
    const before = await counts();
    const keysBefore = (
      await pool.query(
        `SELECT tenant || ' ' || window_name || ' ' || window_end || ' ' || group_kind || ' ' || group_key AS k FROM performance_metrics`,
      )
    ).rows.map((r) => r.k);

    // The same window again, later the same day, with one more outcome: rows are updated in place.
    clock = AT + 3_600_000;
    await insertOutcomes(pool, [
      {
        id: 'A4',
        symbol: 'BBB',
        closedAt: END - 3_600_000,
        outcome: 'TP_HIT',
        netReturn: 0.02,
        rMultiple: 2,
        legs: [TP(1, 1)],
      },
    ]);
    const second = await analyzer.analyze({ at: AT + 3_600_000 });
    expect(second.insights).toMatchObject({ raised: 0, refreshed: first.insights.raised });
    const keysAfter = (
      await pool.query(
        `SELECT tenant || ' ' || window_name || ' ' || window_end || ' ' || group_kind || ' ' || group_key AS k FROM performance_metrics`,
      )
    ).rows.map((r) => r.k);
    expect(keysAfter.filter((k) => !keysBefore.includes(k))).toEqual([]);
    expect(await counts()).toEqual(before);
    const { rows: again } = await pool.query(
      `SELECT sample_count, computed_at, (metrics->>'wins')::int AS wins FROM performance_metrics
       WHERE tenant = 't1' AND window_name = '1d' AND group_kind = 'all'`,
    );
    expect(again).toEqual([{ sample_count: 62, computed_at: new Date(clock), wins: 1 }]);
    const { rows: kept } = await pool.query(
      `SELECT created_at FROM performance_insights WHERE dedup_key = 'stops_too_tight|strategy|quick' AND window_name = '1d'`,
    );
    expect(kept).toEqual([{ created_at: insights[2].created_at }]);

    // A slower run that finished later but computed earlier must not overwrite the newer rows.
    clock = AT + 1000;
    await analyzer.analyze({ at: AT, window: '1d', groupKind: 'all' });
    const { rows: notOlder } = await pool.query(
      `SELECT computed_at FROM performance_metrics WHERE tenant = 't1' AND window_name = '1d' AND group_kind = 'all'`,
    );
    expect(notOlder).toEqual([{ computed_at: new Date(AT + 3_600_000) }]);

    await pool.end();
  });

  it('analyses one window and group kind when asked, reading only the days it needs', async () => {
    const pool = resources.pool(db.url);
    await insertOutcomes(pool, [
      { id: 'X1', closedAt: END - 200 * DAY, outcome: 'TP_HIT', netReturn: 0.01, rMultiple: 1 },
      { id: 'X2', closedAt: END - 2 * DAY, outcome: 'TP_HIT', netReturn: 0.01, rMultiple: 1 },
    ]);
    const analyzer = createAnalyzer({ pool, log, now: () => AT });
    const summary = await analyzer.analyze({ at: AT, window: '7d', groupKind: 'strategy', tenant: 't1' });
    // 7 days plus the 90-day baseline: the outcome 200 days back is not read.
    expect(summary).toMatchObject({ outcomes: 1, windows: ['7d'], groupKinds: ['strategy'], metricsRows: 1 });
    const { rows } = await pool.query('SELECT window_name, group_kind, group_key FROM performance_metrics');
    expect(rows).toEqual([{ window_name: '7d', group_kind: 'strategy', group_key: 's1' }]);
    await pool.end();
  });
});

describe('createAnalyzeWorker', () => {
  it('runs analyze jobs and fails a malformed one without retrying it', async () => {
    const pool = resources.pool(db.url);
    await insertOutcomes(pool, quickStops('W'));
    const queue = resources.track(
      new Queue<AnalyzeJobData>(QUEUE_NAMES.analyze, { connection: connection(), prefix: ns.prefix }),
      'analyze queue',
    );
    const worker = resources.track(
      createAnalyzeWorker({ connection: connection(), prefix: ns.prefix, pool, log, now: () => AT }),
      'analyze worker',
    );
    await queue.add(
      'analyze',
      { window: '1d', groupKind: 'strategy', at: new Date(AT).toISOString() },
      { jobId: 'analyze-ok' },
    );
    await queue.add('analyze', { window: '2d' } as unknown as AnalyzeJobData, {
      jobId: 'analyze-bad',
      attempts: 3,
    });

    const done = await waitFor(
      'the good job',
      async () => (await queue.getJob('analyze-ok'))?.returnvalue ?? undefined,
    );
    expect(done).toMatchObject({ windows: ['1d'], groupKinds: ['strategy'], outcomes: 60, metricsRows: 1 });
    const bad = await waitFor('the bad job to fail', async () => {
      const job = await queue.getJob('analyze-bad');
      return job && (await job.getState()) === 'failed' ? job : undefined;
    });
    expect(bad.attemptsMade).toBe(1);
    expect(bad.failedReason).toContain('window');
    const { rows } = await pool.query(`SELECT group_key FROM performance_metrics`);
    expect(rows).toEqual([{ group_key: 'quick' }]);

    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await pool.end();
  });
});

/** The analysis times of the queue's waiting jobs, each once, in order. */
async function slotsOf(queue: Queue<AnalyzeJobData>): Promise<string[]> {
  const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
  return [...new Set(jobs.map((j) => j.data.at!))].sort();
}

async function waitForSlots(queue: Queue<AnalyzeJobData>, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await slotsOf(queue)).length < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} slots`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('scheduleAnalyze', () => {
  it('two schedulers enqueue each (window, group kind) job of a slot once', async () => {
    const queues = [0, 1].map((n) =>
      resources.track(
        new Queue<AnalyzeJobData>(QUEUE_NAMES.analyze, { connection: connection(), prefix: ns.prefix }),
        `analyze queue ${n}`,
      ),
    );
    // Every second, on both, for a little over two seconds.
    const redis = resources.redis();
    const stops = queues.map((queue) =>
      scheduleAnalyze({ queue, redis, prefix: ns.prefix, cron: '* * * * * *', log, now: Date.now }),
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (const stop of stops) await stop();
    await new Promise((resolve) => setTimeout(resolve, 300)); // let an in-flight add land

    const jobs = await queues[0]!.getJobs(['waiting', 'delayed', 'prioritized']);
    const ids = jobs.map((j) => j.id!);
    const slots = new Set(ids.map((id) => id.split('-').at(-1)));
    expect(slots.size).toBeGreaterThanOrEqual(2);
    // 5 windows × 5 group kinds per slot, each id once, each job's analysis time its slot.
    expect(ids.length).toBe(25 * slots.size);
    expect(new Set(ids).size).toBe(ids.length);
    for (const job of jobs) {
      const basic = job.data.at!.replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
      expect(job.id).toBe(`analyze-${job.data.window}-${job.data.groupKind}-${basic}`);
      expect(job.opts.attempts).toBe(ANALYZE_JOB_OPTIONS.attempts);
    }
    await queues[0]!.obliterate({ force: true });
    for (const queue of queues) await queue.close();
    await quit(redis);
  });

  it('enqueues a slot that Redis refused once Redis takes writes again', async () => {
    // BullMQ's scripts are refused with NOPERM, as they are with OOM when Redis is at its
    // maxmemory, until the user may write again.
    const admin = resources.redis();
    const readOnly = await createReadOnlyRedisUser(admin, 'analyze-schedule');
    try {
      const redis = new Redis(readOnly.url, { maxRetriesPerRequest: null });
      redis.on('error', () => {});
      const queue = new Queue<AnalyzeJobData>(QUEUE_NAMES.analyze, { connection: redis, prefix: ns.prefix });
      queue.on('error', () => {});
      const direct = resources.track(
        new Queue<AnalyzeJobData>(QUEUE_NAMES.analyze, { connection: connection(), prefix: ns.prefix }),
        'analyze queue',
      );
      // One slot a minute, two seconds from now: it falls while writes are refused.
      const slot = Math.ceil((Date.now() + 2000) / 1000) * 1000;
      const stop = scheduleAnalyze({
        queue,
        redis,
        prefix: ns.prefix,
        cron: `${new Date(slot).getUTCSeconds()} * * * * *`,
        log,
        now: Date.now,
        retryMs: 100,
      });
      await new Promise((resolve) => setTimeout(resolve, slot + 1500 - Date.now()));
      expect(await direct.count(), 'nothing enqueued while writes are refused').toBe(0);

      await readOnly.allowWrites();
      await waitForSlots(direct, 1);
      await stop();

      expect(await slotsOf(direct)).toEqual([new Date(slot).toISOString()]);
      expect(await direct.count()).toBe(25);
      expect(await admin.get(analyzeLastSlotKey(ns.prefix))).toBe(String(slot));
      await direct.obliterate({ force: true });
      await direct.close();
      await queue.close();
      redis.disconnect();
    } finally {
      await readOnly.remove();
      await quit(admin);
    }
  });

  /** A scheduler of every fifteenth minute started at `now` (long before a real slot of it). */
  function startedAt(now: number) {
    const redis = resources.redis();
    const queue = resources.track(
      new Queue<AnalyzeJobData>(QUEUE_NAMES.analyze, { connection: connection(), prefix: ns.prefix }),
      'analyze queue',
    );
    const start = () =>
      scheduleAnalyze({ queue, redis, prefix: ns.prefix, cron: '*/15 * * * *', log, now: () => now });
    return { redis, queue, start };
  }

  it('a scheduler that starts enqueues the slots it missed since the last one enqueued, one a set of windows', async () => {
    // Stopped after the 23:30 slot and started at 01:02:30. Missed: 23:45 and 00:00, which both
    // compute the day ending at midnight, then 00:15 to 01:00, which also compute the new day
    // (within the analyzer's two hours of settling after a midnight): the latest of each.
    const { redis, queue, start } = startedAt(Date.parse('2025-11-24T01:02:30Z'));
    await redis.set(analyzeLastSlotKey(ns.prefix), String(Date.parse('2025-11-23T23:30:00Z')));
    const stop = start();
    const last = String(Date.parse('2025-11-24T01:00:00Z'));
    const deadline = Date.now() + 20_000;
    while ((await redis.get(analyzeLastSlotKey(ns.prefix))) !== last) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the 01:00 slot');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await stop();

    expect(await slotsOf(queue)).toEqual(['2025-11-24T00:00:00.000Z', '2025-11-24T01:00:00.000Z']);
    expect(await queue.count()).toBe(25 * 2);
    await queue.obliterate({ force: true });
    await queue.close();
    await quit(redis);
  });

  it('a scheduler that starts with no slot enqueued before enqueues nothing then', async () => {
    const { redis, queue, start } = startedAt(Date.parse('2025-11-24T12:02:30Z'));
    const stop = start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stop();

    expect(await queue.count()).toBe(0);
    await queue.close();
    await quit(redis);
  });

  it('enqueueAnalyze racing itself on one slot adds 25 jobs', async () => {
    const queues = [0, 1, 2].map((n) =>
      resources.track(
        new Queue<AnalyzeJobData>(QUEUE_NAMES.analyze, { connection: connection(), prefix: ns.prefix }),
        `analyze queue ${n}`,
      ),
    );
    const slot = new Date('2025-11-24T12:15:00.400Z'); // the same second, whatever the milliseconds
    await Promise.all(
      queues.map((queue, n) => enqueueAnalyze({ queue, slot: new Date(slot.getTime() + n * 100) })),
    );
    expect(await queues[0]!.count()).toBe(25);
    expect((await queues[0]!.getJob('analyze-all-model-20251124T121500Z'))?.data).toEqual({
      window: 'all',
      groupKind: 'model',
      at: '2025-11-24T12:15:00.000Z',
    });
    await queues[0]!.obliterate({ force: true });
    for (const queue of queues) await queue.close();
  });
});

describe('outcome-tracker analyze', () => {
  function io(): {
    io: { stdin: PassThrough; stdout: PassThrough; stderr: PassThrough };
    stdout: () => string;
  } {
    const out: string[] = [];
    const stdout = new PassThrough();
    stdout.on('data', (c: Buffer) => out.push(c.toString()));
    return {
      io: { stdin: new PassThrough(), stdout, stderr: new PassThrough() },
      stdout: () => out.join(''),
    };
  }

  it('analyses on demand and prints a JSON summary', async () => {
    const pool = resources.pool(db.url);
    await insertOutcomes(pool, quickStops('C'));
    const cli = io();
    const code = await analyzeCommand(
      ['--window', '1d', '--group', 'strategy', '--at', new Date(AT).toISOString()],
      cli.io,
      { DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
    );
    expect(code).toBe(0);
    const summary = JSON.parse(cli.stdout());
    expect(summary).toMatchObject({
      at: new Date(AT).toISOString(),
      windows: ['1d'],
      groupKinds: ['strategy'],
      outcomes: 60,
      metricsRows: 1,
      insights: { raised: 1, refreshed: 0, bySeverity: { warning: 1 } },
    });
    const { rows } = await pool.query('SELECT rule, group_key FROM performance_insights');
    expect(rows).toEqual([{ rule: 'stops_too_tight', group_key: 'quick' }]);
    await pool.end();
  });

  it('rejects an unknown window or group before touching the database', async () => {
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    await expect(analyzeCommand(['--window', '2d'], io().io, env)).rejects.toThrow(UsageError);
    await expect(analyzeCommand(['--group', 'side'], io().io, env)).rejects.toThrow(/--group must be one of/);
    await expect(analyzeCommand(['--at', 'yesterday'], io().io, env)).rejects.toThrow(/ISO 8601/);
    await expect(analyzeCommand([], io().io, {})).rejects.toThrow(/DATABASE_URL/);
  });
});

describe('queryMetrics and queryInsights', () => {
  it('read each group’s latest window or its history, and insights by severity', async () => {
    const pool = resources.pool(db.url);
    await insertOutcomes(pool, [
      ...quickStops('H'),
      { id: 'P1', closedAt: END - 2 * DAY + 3_600_000, outcome: 'TP_HIT', netReturn: 0.02, rMultiple: 2 },
    ]);
    const analyzer = createAnalyzer({ pool, log, now: () => AT });
    // The day before (window end END − 1 day), then the day itself (END).
    await analyzer.analyze({ at: AT - DAY, window: '7d', groupKind: 'strategy' });
    await analyzer.analyze({ at: AT, window: '7d', groupKind: 'strategy' });

    const latest = await queryMetrics(pool, { tenant: 't1', window: '7d', groupKind: 'strategy' });
    expect(latest.map((m) => [m.groupKey, m.windowEnd, m.sampleCount])).toEqual([
      ['quick', new Date(END).toISOString(), 60],
      ['s1', new Date(END).toISOString(), 1],
    ]);
    expect(latest[1]!.metrics).toMatchObject({ winRate: 1, trades: 1 });
    const history = await queryMetrics(pool, {
      tenant: 't1',
      window: '7d',
      groupKind: 'strategy',
      groupKey: 's1',
      history: true,
    });
    expect(history.map((m) => m.windowEnd)).toEqual([
      new Date(END).toISOString(),
      new Date(END - DAY).toISOString(),
    ]);
    const finished = await queryMetrics(pool, {
      tenant: 't1',
      window: '7d',
      groupKind: 'strategy',
      endBefore: END,
    });
    expect(finished.map((m) => [m.groupKey, m.windowEnd])).toEqual([
      ['s1', new Date(END - DAY).toISOString()],
    ]);

    const warnings = await queryInsights(pool, { tenant: 't1', minSeverity: 'warning' });
    expect(warnings.map((i) => [i.rule, i.groupKey, i.window, i.severity])).toEqual([
      ['stops_too_tight', 'quick', '7d', 'warning'],
    ]);
    expect(await queryInsights(pool, { tenant: 't1', minSeverity: 'critical' })).toEqual([]);
    expect(await queryInsights(pool, { tenant: 't2' })).toEqual([]);
    await pool.end();
  });
});
