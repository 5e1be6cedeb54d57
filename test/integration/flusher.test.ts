/**
 * The flusher against real Redis and PostgreSQL: outbox entries produced by the real shard
 * path (ShardRuntime + commitShard) land in PostgreSQL exactly once, whatever is replayed,
 * and wait in Redis while PostgreSQL is down.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import type { Operation, OutcomeLine, Tick } from '../../machines/types.ts';
import { createFlusher, type FlusherOptions } from '../../src/live/createFlusher.ts';
import { shardQueueName, ShardKeys, shardOf } from '../../src/names.ts';
import { toWire, type ShardJobData } from '../../src/live/messages.ts';
import type { OutboxEntry } from '../../src/storage/OutboxEntry.ts';
import { commitShard, lookupIds } from '../../src/live/shardStore.ts';
import { ShardRuntime } from '../../src/live/ShardRuntime.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { readOutcomeLines } from '../../src/storage/readOutcomeLines.ts';
import { isRetryablePgError } from '../../src/storage/retryablePg.ts';
import { recordAccepted } from '../../src/storage/recordAccepted.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import {
  silentLog,
  startIsolatedServices,
  useRedisNamespace,
  useResourceTracker,
  useTestDatabase,
  withTestDatabase,
  type IsolatedServices,
} from '../support/services.ts';

const SHARDS = 4;
/** Market time with a non-zero millisecond part, to see that timestamps keep it. */
const T = 1_700_000_000_123;
const log = pino({ level: 'silent' });

/** Drives shards the way the shard workers do: apply a job in memory, commit its delta with the CAS. */
class ShardDriver {
  private readonly runtimes = new Map<number, ShardRuntime>();
  private job = 0;
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly bufferSize = 1,
  ) {}

  async apply(shard: number, data: ShardJobData): Promise<void> {
    const keys = new ShardKeys(this.prefix, shard);
    let runtime = this.runtimes.get(shard);
    if (runtime === undefined) this.runtimes.set(shard, (runtime = new ShardRuntime(this.bufferSize)));
    const jobId = String(++this.job);
    const ids = data.kind === 'register' ? [data.signal.id] : data.kind === 'op' ? [data.op.id] : [];
    const delta = runtime.apply(jobId, data, await lookupIds(this.redis, keys, ids));
    const committed = await commitShard(
      this.redis,
      keys,
      runtime.appliedJob,
      jobId,
      delta,
      this.bufferSize,
      T,
    );
    expect(committed, `commit of job ${jobId} on shard ${shard}`).toBe(true);
    runtime.appliedJob = jobId;
  }
  register(signal: NormalizedSignal): Promise<void> {
    return this.apply(shardOf(signal.symbol, SHARDS), { kind: 'register', signal });
  }
  async ticks(...ticks: Tick[]): Promise<void> {
    for (const t of ticks) await this.apply(shardOf(t.symbol, SHARDS), { kind: 'ticks', ticks: [toWire(t)] });
  }
  op(symbol: string, op: Operation): Promise<void> {
    return this.apply(shardOf(symbol, SHARDS), { kind: 'op', op });
  }
  async sweep(clock: number, graceMs: number): Promise<void> {
    for (let s = 0; s < SHARDS; s++) await this.apply(s, { kind: 'sweep', clock, graceMs });
  }
}

/** Closes a connection and waits for 'end', which is when the tracker counts it closed. */
async function closeRedis(redis: Redis): Promise<void> {
  const ended = new Promise((resolve) => redis.once('end', resolve));
  // disconnect, not quit: quit's own reply can lose the race with the socket closing.
  redis.disconnect();
  await ended;
}

function normalized(payload: object): NormalizedSignal {
  const checked = validateSignal({ v: 1, createdAt: T, ...payload });
  if (!checked.ok) throw new Error(`test payload invalid: ${checked.errors.join('; ')}`);
  return checked.signal;
}

/** Every outbox entry of every shard: `shard|key` → entry JSON. */
async function outboxes(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  for (let s = 0; s < SHARDS; s++) {
    for (const [k, v] of Object.entries(await redis.hgetall(new ShardKeys(prefix, s).outbox)))
      all.set(`${s}|${k}`, v);
  }
  return all;
}

/** The entries that PostgreSQL stores (not the events, which are only published). */
function storedEntries(entries: Map<string, string>): Map<string, string> {
  return new Map([...entries].filter(([sk]) => !sk.split('|')[1]!.startsWith('ev:')));
}

async function restoreOutboxes(redis: Redis, prefix: string, entries: Map<string, string>): Promise<void> {
  for (const [sk, v] of entries) {
    const [s, ...rest] = sk.split('|');
    await redis.hset(new ShardKeys(prefix, Number(s)).outbox, rest.join('|'), v);
  }
}

function closedLines(entries: Map<string, string>): Map<string, OutcomeLine> {
  const lines = new Map<string, OutcomeLine>();
  for (const v of entries.values()) {
    const e = JSON.parse(v) as OutboxEntry;
    if (e.kind === 'closed') lines.set(e.outcome.id, e.outcome);
  }
  return lines;
}

async function count(db: pg.Pool | pg.Client, table: string, where = 'true'): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`);
  return r.rows[0]!.n;
}

/**
 * Signals covering every kind of outcome and outbox entry: A partial SL at breakeven, B short
 * TP with fees, C expired unfilled, D invalid at fill, E cancelled pending, F amended, amend
 * rejected, then exited, I stale time exit (sweep), J registered late past the tick buffer
 * (a catch-up gap), H still pending; plus an operation on an unknown signal.
 */
async function runScenario(driver: ShardDriver, pool: pg.Pool): Promise<void> {
  const signals = [
    normalized({
      id: 'A',
      symbol: 'ALFA',
      side: 'long',
      entry: { type: 'limit', price: 100 },
      takeProfits: [
        { price: 110, fraction: 0.5 },
        { price: 120, fraction: 0.5 },
      ],
      stopLoss: { price: 90 },
      breakevenAfterTp: 1,
      tenant: 't1',
      strategy: 's1',
      model: 'm1',
      modelVersion: 'v1',
      timeframe: '1h',
      confidence: 0.7,
    }),
    normalized({
      id: 'B',
      symbol: 'BRAV',
      side: 'short',
      entry: { type: 'market' },
      takeProfits: [{ price: 90, fraction: 1 }],
      stopLoss: { price: 110 },
      feeBps: 5,
    }),
    normalized({
      id: 'C',
      symbol: 'CHAR',
      side: 'long',
      entry: { type: 'limit', price: 50 },
      entryExpiresAt: T + 100,
    }),
    normalized({
      id: 'D',
      symbol: 'DELT',
      side: 'long',
      entry: { type: 'limit', price: 100 },
      stopLoss: { price: 99.9 },
      takeProfits: [{ price: 101, fraction: 1 }],
    }),
    normalized({ id: 'E', symbol: 'ECHO', side: 'long', entry: { type: 'limit', price: 10 } }),
    normalized({
      id: 'F',
      symbol: 'FOXT',
      side: 'long',
      entry: { type: 'market' },
      stopLoss: { price: 90 },
      takeProfits: [{ price: 120, fraction: 1 }],
    }),
    normalized({ id: 'H', symbol: 'HOTL', side: 'long', entry: { type: 'limit', price: 1 } }),
    normalized({ id: 'I', symbol: 'INDI', side: 'long', entry: { type: 'market' }, timeLimitMs: 1000 }),
  ];
  for (const s of signals) {
    await recordAccepted(pool, s, s, null);
    await driver.register(s);
  }
  const tick = (symbol: string, dt: number, price: number): Tick => ({ symbol, ts: T + dt, price });
  await driver.ticks(tick('ALFA', 1, 101), tick('ALFA', 2, 99.5), tick('ALFA', 3, 111), tick('ALFA', 4, 99));
  await driver.ticks(tick('BRAV', 10, 100), tick('BRAV', 11, 95), tick('BRAV', 12, 89));
  await driver.ticks(tick('CHAR', 50, 60), tick('CHAR', 100, 61));
  await driver.ticks(tick('DELT', 5, 95));
  await driver.op('ECHO', { op: 'cancel', id: 'E', ts: T + 20 });
  await driver.ticks(tick('FOXT', 1, 100));
  await driver.op('FOXT', { op: 'amend', id: 'F', ts: T + 2, stopLoss: { price: 95 } });
  await driver.op('FOXT', { op: 'amend', id: 'F', ts: T + 3, stopLoss: { price: 95 } });
  await driver.ticks(tick('FOXT', 4, 105));
  await driver.op('FOXT', { op: 'exit', id: 'F', ts: T + 5 });
  await driver.op('NOPE', { op: 'exit', id: 'NOPE', ts: T + 6 });
  await driver.ticks(tick('INDI', 1, 50));
  await driver.sweep(T + 1 + 1000 + 60_000, 60_000);
  // J arrives after four JULI ticks; a buffer of one has dropped the older ones.
  await driver.ticks(tick('JULI', 1, 10), tick('JULI', 2, 10), tick('JULI', 3, 10), tick('JULI', 4, 10));
  const j = normalized({ id: 'J', symbol: 'JULI', side: 'long', entry: { type: 'market' } });
  await recordAccepted(pool, j, j, null);
  await driver.register(j);
}

const CLOSED_IDS = ['A', 'B', 'C', 'D', 'E', 'F', 'I'];

describe('flusher', () => {
  const db = useTestDatabase();
  const ns = useRedisNamespace('flusher');
  const resources = useResourceTracker();

  function flusherFor(redis: Redis, pool: pg.Pool, extra: Partial<FlusherOptions> = {}) {
    return resources.track(
      createFlusher({
        redis,
        pool,
        prefix: ns.prefix,
        shards: SHARDS,
        batchSize: 5,
        intervalMs: 20,
        log,
        now: Date.now,
        ...extra,
      }),
      'flusher',
    );
  }

  it('writes each closed outcome with its grouping keys, legs and audit rows, and empties the outbox', async () => {
    const redis = resources.redis();
    const pool = resources.pool(db.url);
    await runScenario(new ShardDriver(redis, ns.prefix), pool);
    const before = await outboxes(redis, ns.prefix);
    const lines = closedLines(before);
    expect([...lines.keys()].sort()).toEqual(CLOSED_IDS);
    // 7 outcomes, 5 operation results (cancel, amend, rejected amend, exit, unknown), 1 gap;
    // and the events of fills, legs and stop moves, which go to the events stream only.
    expect(storedEntries(before).size).toBe(13);
    expect(before.size).toBeGreaterThan(13);

    const flusher = flusherFor(redis, pool);
    expect(await flusher.flushOnce()).toBe(before.size);
    expect((await outboxes(redis, ns.prefix)).size).toBe(0);

    // Read back, each outcome is the very line the shard produced: values and key order.
    const stored = await readOutcomeLines(pool, CLOSED_IDS);
    for (const id of CLOSED_IDS)
      expect(JSON.stringify(stored.get(id)), `outcome ${id}`).toBe(JSON.stringify(lines.get(id)));
    expect(lines.get('A')).toMatchObject({ outcome: 'SL_HIT', partial: true });
    expect(lines.get('I')).toMatchObject({ outcome: 'TIME_EXIT', stale: true });
    expect(lines.get('D')).toMatchObject({ outcome: 'INVALID_AT_FILL' });

    const a = (
      await pool.query(
        `SELECT tenant, symbol, side, strategy, model, model_version, timeframe, confidence, outcome, partial,
           (extract(epoch FROM signal_created_at) * 1000)::float8 AS created_ms,
           (extract(epoch FROM closed_at) * 1000)::float8 AS closed_ms,
           (extract(epoch FROM fill_ts) * 1000)::float8 AS fill_ms, fill_price, holding_ms::float8 AS holding_ms,
           gross_return, net_return, r_multiple, mfe, mae, stale
         FROM signal_outcomes WHERE signal_id = 'A'`,
      )
    ).rows;
    const lineA = lines.get('A')!;
    expect(a).toEqual([
      {
        tenant: 't1',
        symbol: 'ALFA',
        side: 'long',
        strategy: 's1',
        model: 'm1',
        model_version: 'v1',
        timeframe: '1h',
        confidence: 0.7,
        outcome: 'SL_HIT',
        partial: true,
        created_ms: T,
        closed_ms: lineA.closedAt,
        fill_ms: lineA.fill!.ts,
        fill_price: lineA.fill!.price,
        holding_ms: lineA.holdingMs,
        gross_return: lineA.grossReturn,
        net_return: lineA.netReturn,
        r_multiple: lineA.rMultiple,
        mfe: lineA.mfe,
        mae: lineA.mae,
        stale: false,
      },
    ]);

    const legs = (
      await pool.query(
        `SELECT leg_index, (extract(epoch FROM ts) * 1000)::float8 AS ts, reason, level, stop_kind, price, fraction,
           tenant, symbol, side, strategy, model, model_version
         FROM tp_sl_hits WHERE signal_id = 'A' ORDER BY leg_index`,
      )
    ).rows;
    const group = {
      tenant: 't1',
      symbol: 'ALFA',
      side: 'long',
      strategy: 's1',
      model: 'm1',
      model_version: 'v1',
    };
    expect(legs).toEqual(
      lineA.legs.map((leg, i) => ({
        leg_index: i,
        ts: leg.ts,
        reason: leg.reason,
        level: leg.level ?? null,
        stop_kind: leg.stopKind ?? null,
        price: leg.price,
        fraction: leg.fraction,
        ...group,
      })),
    );
    expect(legs.map((l) => [l.reason, l.level, l.stop_kind, l.price])).toEqual([
      ['TP', 1, null, 110],
      ['SL', null, 'breakeven', 99],
    ]);
    const legRows = [...lines.values()].reduce((n, l) => n + l.legs.length, 0);
    expect(await count(pool, 'tp_sl_hits')).toBe(legRows);

    const audit = (
      await pool.query<{
        signal_id: string | null;
        tenant: string | null;
        event: string;
        at: number;
        details: Record<string, unknown>;
      }>(
        `SELECT signal_id, tenant, event, (extract(epoch FROM at) * 1000)::float8 AS at, details
         FROM audit_logs WHERE event <> 'accepted' ORDER BY at, event`,
      )
    ).rows;
    const events = (id: string) => audit.filter((r) => r.signal_id === id).map((r) => [r.event, r.at - T]);
    expect(events('F')).toEqual([
      ['amended', 2],
      ['op_rejected', 3],
      ['closed', 5],
      ['exited', 5],
    ]);
    expect(events('E')).toEqual([
      ['cancelled', 20],
      ['closed', 20],
    ]);
    expect(
      audit
        .filter((r) => r.event === 'closed')
        .map((r) => r.signal_id)
        .sort(),
    ).toEqual(CLOSED_IDS);
    const unknown = audit.find((r) => r.signal_id === 'NOPE')!;
    expect(unknown).toMatchObject({ event: 'op_rejected', tenant: null });
    expect(unknown.details.errors).toEqual([expect.stringMatching(/unknown signal NOPE/)]);
    const gap = audit.find((r) => r.event === 'catchup_gap')!;
    expect(gap).toMatchObject({
      signal_id: 'J',
      tenant: 'default',
      at: T,
      details: { symbol: 'JULI', createdAt: T },
    });
    expect(gap.details.missedUpTo).toBeGreaterThanOrEqual(T + 1);
    expect(await count(pool, 'outbox_applied')).toBe(6);

    await flusher.close();
    await pool.end();
    await closeRedis(redis);
  });

  it('writes nothing twice: the same entries flushed again, or left behind by a crash before HDEL', async () => {
    const redis = resources.redis();
    const pool = resources.pool(db.url);
    await pool.query(
      'DELETE FROM signals; DELETE FROM closed_signals; DELETE FROM signal_outcomes; DELETE FROM tp_sl_hits; DELETE FROM outbox_applied',
    );
    await runScenario(new ShardDriver(redis, ns.prefix), pool);
    const entries = await outboxes(redis, ns.prefix);
    const flusher = flusherFor(redis, pool);
    const auditBefore = await count(pool, 'audit_logs');

    expect(storedEntries(entries).size).toBe(13);
    expect(await flusher.flushOnce()).toBe(entries.size);
    const snapshot = async () => ({
      closed: await count(pool, 'closed_signals'),
      outcomes: await count(pool, 'signal_outcomes'),
      legs: await count(pool, 'tp_sl_hits'),
      audit: (await count(pool, 'audit_logs')) - auditBefore,
      ledger: await count(pool, 'outbox_applied'),
    });
    const once = await snapshot();
    expect(once).toMatchObject({ closed: 7, outcomes: 7, audit: 7 + 6, ledger: 6 });

    // A flusher that committed and died before HDEL: the same entries are in Redis again.
    await restoreOutboxes(redis, ns.prefix, entries);
    expect(await flusher.flushOnce()).toBe(entries.size);
    expect(await snapshot()).toEqual(once);
    expect((await outboxes(redis, ns.prefix)).size).toBe(0);

    // Two flushers on the same entries at the same time.
    await restoreOutboxes(redis, ns.prefix, entries);
    const other = flusherFor(redis, pool, { batchSize: 3 });
    await Promise.all([flusher.flushOnce(), other.flushOnce()]);
    expect(await snapshot()).toEqual(once);
    expect((await outboxes(redis, ns.prefix)).size).toBe(0);

    await Promise.all([flusher.close(), other.close()]);
    await pool.end();
    await closeRedis(redis);
  });

  it('keeps an outcome whose signal is not stored yet, and a row PostgreSQL refuses, in the outbox; writes the rest', async () => {
    const redis = resources.redis();
    const pool = resources.pool(db.url);
    const driver = new ShardDriver(redis, ns.prefix);
    const good = normalized({
      id: 'G1',
      symbol: 'GOOD',
      side: 'long',
      entry: { type: 'limit', price: 5 },
      entryExpiresAt: T + 10,
    });
    const late = normalized({
      id: 'L1',
      symbol: 'LATE',
      side: 'long',
      entry: { type: 'limit', price: 5 },
      entryExpiresAt: T + 10,
    });
    await recordAccepted(pool, good, good, null);
    await driver.register(good);
    await driver.register(late); // on its shard, but (not yet) in the signals table
    await driver.ticks({ symbol: 'GOOD', ts: T + 10, price: 9 }, { symbol: 'LATE', ts: T + 10, price: 9 });
    // An outcome code the schema does not know: PostgreSQL refuses it for good.
    const badKeys = new ShardKeys(ns.prefix, shardOf('GOOD', SHARDS));
    const bad: OutboxEntry = {
      kind: 'closed',
      symbol: 'GOOD',
      outcome: { id: 'X1', state: 'closed', outcome: 'BOGUS' as 'EXPIRED', legs: [], closedAt: T },
    };
    const bogus = normalized({ id: 'X1', symbol: 'GOOD', side: 'long', entry: { type: 'market' } });
    await recordAccepted(pool, bogus, bogus, null);
    await redis.hset(badKeys.outbox, 'closed:X1', JSON.stringify(bad));
    // Not in the documented format at all (put there by hand): set aside, never blocking.
    await redis.hset(badKeys.outbox, 'op:junk', '{"kind":"op"}', 'gap:junk', 'not json');

    const flusher = flusherFor(redis, pool, { batchSize: 10 });
    expect(await flusher.flushOnce()).toBe(1);
    expect((await readOutcomeLines(pool, ['G1', 'L1', 'X1'])).size).toBe(1);
    expect([...(await outboxes(redis, ns.prefix)).keys()].map((k) => k.split('|')[1]).sort()).toEqual([
      'closed:L1',
      'closed:X1',
      'gap:junk',
      'op:junk',
    ]);

    // Once the signal is stored, its outcome follows at the next pass; the refused one stays.
    await recordAccepted(pool, late, late, null);
    expect(await flusher.flushOnce()).toBe(1);
    expect([...(await readOutcomeLines(pool, ['G1', 'L1', 'X1'])).keys()].sort()).toEqual(['G1', 'L1']);
    expect([...(await outboxes(redis, ns.prefix)).keys()].map((k) => k.split('|')[1]).sort()).toEqual([
      'closed:X1',
      'gap:junk',
      'op:junk',
    ]);

    await flusher.close();
    await pool.end();
    await closeRedis(redis);
  });

  it('splits a batch PostgreSQL is short of resources for, and waits out the shortage for a single outcome instead of setting it aside', async () => {
    // A database of its own: the other tests' outcomes of the same ids are already written.
    await withTestDatabase(resources, async (own) => {
      const redis = resources.redis();
      const setUp = resources.pool(own.url);
      await runScenario(new ShardDriver(redis, ns.prefix), setUp);
      // PostgreSQL's lock table full (53200 "out of shared memory"), as another connection holding
      // many locks leaves it: the outcome rows' statement is refused, whatever its size, the first
      // eight times; then the locks are given back.
      const pool = resources.pool(own.url, 'pool short of resources');
      let refusals = 8;
      pool.on('connect', (client) => {
        const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
        (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args) => {
          const text = typeof args[0] === 'string' ? args[0] : '';
          if (text.includes('INSERT INTO signal_outcomes') && refusals-- > 0)
            return Promise.reject(Object.assign(new Error('out of shared memory'), { code: '53200' }));
          return query(...args);
        };
      });
      const logged: string[] = [];
      const flusher = flusherFor(redis, pool, {
        retry: { baseMs: 10, maxMs: 50 },
        log: pino({ level: 'error' }, { write: (line: string) => void logged.push(line) }),
      });

      flusher.start();
      await expect
        .poll(async () => closedLines(await outboxes(redis, ns.prefix)).size, {
          timeout: 20_000,
          interval: 20,
        })
        .toBe(0);
      await flusher.close();

      expect(refusals).toBeLessThan(0);
      expect([...(await readOutcomeLines(setUp, CLOSED_IDS)).keys()].sort()).toEqual(CLOSED_IDS);
      expect(logged.join('').includes('refused an outbox entry'), 'no outcome set aside').toBe(false);
      await pool.end();
      await setUp.end();
      await closeRedis(redis);
    });
  });

  it('drops an outcome of a signal PostgreSQL never learns of after FLUSH_ORPHAN_GRACE_MS, once, with an audit row, and the shard forgets it', async () => {
    const redis = resources.redis();
    const pool = resources.pool(db.url);
    const driver = new ShardDriver(redis, ns.prefix);
    // A registration a foreign producer put on the shard queue: tracked, never stored.
    const forged = normalized({
      id: 'F1',
      symbol: 'FORGE',
      side: 'long',
      entry: { type: 'limit', price: 5 },
      entryExpiresAt: T + 10,
    });
    await driver.register(forged);
    await driver.ticks({ symbol: 'FORGE', ts: T + 10, price: 9 });
    const keys = new ShardKeys(ns.prefix, shardOf('FORGE', SHARDS));
    const entry = await redis.hget(keys.outbox, 'closed:F1');
    expect(entry).not.toBeNull();
    const droppedRows = async () =>
      (
        await pool.query<{
          signal_id: string;
          tenant: string | null;
          details: { shard: number; key: string; entry: OutboxEntry };
        }>(`SELECT signal_id, tenant, details FROM audit_logs WHERE event = 'orphan_dropped'`)
      ).rows;
    const forgets = async () => {
      const queue = new Queue(shardQueueName(keys.shard), { connection: redis, prefix: ns.prefix });
      const jobs = await queue.getWaiting();
      await queue.close();
      return jobs.map((j) => j.data as unknown);
    };

    let clock = T;
    const flusher = flusherFor(redis, pool, { orphanGraceMs: 60_000, now: () => clock });
    expect(await flusher.flushOnce()).toBe(0); // first seen: it waits
    clock += 59_999;
    expect(await flusher.flushOnce()).toBe(0);
    expect(await redis.hget(keys.outbox, 'closed:F1')).toBe(entry);
    expect(await droppedRows()).toEqual([]);
    clock += 1;
    expect(await flusher.flushOnce()).toBe(1);
    expect(await redis.hget(keys.outbox, 'closed:F1')).toBeNull();
    const rows = await droppedRows();
    expect(rows).toEqual([
      {
        signal_id: 'F1',
        tenant: null,
        details: { shard: keys.shard, key: 'closed:F1', entry: JSON.parse(entry!) },
      },
    ]);
    expect(await forgets()).toEqual([{ kind: 'forget', ids: ['F1'] }]);
    expect((await readOutcomeLines(pool, ['F1'])).size).toBe(0);

    // The same entry again (a flusher that died after COMMIT, before removing it): dropped
    // again after its grace, without a second audit row.
    await redis.hset(keys.outbox, 'closed:F1', entry!);
    const second = flusherFor(redis, pool, { orphanGraceMs: 60_000, now: () => clock });
    expect(await second.flushOnce()).toBe(0);
    clock += 60_000;
    expect(await second.flushOnce()).toBe(1);
    expect(await droppedRows()).toHaveLength(1);
    expect(await redis.hlen(keys.outbox)).toBe(0);

    await second.close();
    await flusher.close();
    await pool.end();
    await closeRedis(redis);
  });

  it('start() flushes entries as they arrive and close() stops the loop', async () => {
    const redis = resources.redis();
    const pool = resources.pool(db.url);
    const driver = new ShardDriver(redis, ns.prefix);
    const flusher = flusherFor(redis, pool);
    flusher.start();
    const s = normalized({
      id: 'LOOP1',
      symbol: 'LOOP',
      side: 'long',
      entry: { type: 'limit', price: 5 },
      entryExpiresAt: T + 10,
    });
    await recordAccepted(pool, s, s, null);
    await driver.register(s);
    await driver.ticks({ symbol: 'LOOP', ts: T + 10, price: 9 });
    await expect.poll(async () => (await readOutcomeLines(pool, ['LOOP1'])).size, { timeout: 5000 }).toBe(1);
    // The entry goes after COMMIT: between the two, the row is there and the entry still is.
    await expect.poll(async () => (await outboxes(redis, ns.prefix)).size, { timeout: 5000 }).toBe(0);
    await flusher.close();
    await pool.end();
    await closeRedis(redis);
  });
});

describe('flusher while PostgreSQL goes down', () => {
  const ns = useRedisNamespace('flusher-pg-down');
  const resources = useResourceTracker();
  let services: IsolatedServices | undefined;

  beforeAll(async () => {
    services = await startIsolatedServices();
    await migrate({ databaseUrl: services.databaseUrl, log: silentLog });
  });
  afterAll(async () => {
    await services?.stop();
  });

  it('fails the pass with a retryable error and keeps every entry in Redis; after a restart each outcome arrives once', async () => {
    const redis = resources.redis();
    const pool = resources.pool(services!.databaseUrl, 'isolated pg pool');
    const driver = new ShardDriver(redis, ns.prefix);
    await runScenario(driver, pool);
    const entries = await outboxes(redis, ns.prefix);

    // Many more outcomes, so that the outage can land in the middle of the flushing.
    const N = 6000;
    await pool.query(
      `INSERT INTO signals (id, status, tenant, symbol, side, created_at, payload, normalized)
       SELECT 'bulk-' || i, 'accepted', 'default', 'BULK', 'long', now(), '{}', '{}' FROM generate_series(1, $1) i`,
      [N],
    );
    const template = JSON.parse(entries.get(`${shardOf('CHAR', SHARDS)}|closed:C`)!) as Extract<
      OutboxEntry,
      { kind: 'closed' }
    >;
    for (let s = 0; s < SHARDS; s++) {
      const fields: string[] = [];
      for (let i = 1 + s; i <= N; i += SHARDS) {
        const e: OutboxEntry = {
          ...template,
          outcome: { ...template.outcome, id: `bulk-${i}`, closedAt: T + i },
        };
        fields.push(`closed:bulk-${i}`, JSON.stringify(e));
      }
      await redis.hset(new ShardKeys(ns.prefix, s).outbox, ...fields);
    }
    const total = entries.size + N;
    const size = async () => {
      let n = 0;
      for (let s = 0; s < SHARDS; s++) n += await redis.hlen(new ShardKeys(ns.prefix, s).outbox);
      return n;
    };
    expect(await size()).toBe(total);

    // Down before the first pass: the pass fails, retryably, and nothing leaves Redis.
    await services!.pgStop('immediate');
    const flusher = resources.track(
      createFlusher({
        redis,
        pool,
        prefix: ns.prefix,
        shards: SHARDS,
        batchSize: 10,
        intervalMs: 20,
        log,
        now: Date.now,
        retry: { baseMs: 20, maxMs: 200 },
      }),
      'flusher',
    );
    const err = await flusher.flushOnce().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, 'flushOnce with PostgreSQL down').not.toBeNull();
    expect(isRetryablePgError(err)).toBe(true);
    expect(await size()).toBe(total);

    // Up again, flushing in a loop; down again part-way; up again.
    await services!.pgStart();
    flusher.start();
    await expect.poll(size, { timeout: 20_000, interval: 5 }).toBeLessThan(total);
    await services!.pgStop('immediate');
    // A batch committed just before the stop may still be removing its entries from Redis.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const leftWhileDown = await size();
    expect(leftWhileDown, 'the outage should land mid-way').toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await size(), 'nothing leaves Redis while PostgreSQL is down').toBe(leftWhileDown);
    await services!.pgStart();
    await expect.poll(size, { timeout: 30_000, interval: 50 }).toBe(0);
    await flusher.close();

    const check = await resources.client(services!.databaseUrl, 'isolated pg check');
    expect(await count(check, 'closed_signals')).toBe(7 + N);
    expect(await count(check, 'signal_outcomes')).toBe(7 + N);
    expect(
      await count(check, '(SELECT signal_id FROM signal_outcomes GROUP BY signal_id HAVING count(*) > 1) d'),
    ).toBe(0);
    expect(await count(check, 'audit_logs', `event = 'closed'`)).toBe(7 + N);
    expect(
      await count(
        check,
        'audit_logs',
        `event IN ('amended', 'cancelled', 'exited', 'op_rejected', 'catchup_gap')`,
      ),
    ).toBe(6);
    const lines = closedLines(entries);
    const stored = await readOutcomeLines(check, CLOSED_IDS);
    for (const id of CLOSED_IDS)
      expect(JSON.stringify(stored.get(id)), `outcome ${id}`).toBe(JSON.stringify(lines.get(id)));
    await check.end();
    await pool.end();
    await closeRedis(redis);
  });
});
