/**
 * `npm run bench -- redis [--signals=100000] [--shards=8] [--path=2000]`
 *
 * Redis memory per signal, through the production code: shard workers (createShardWorkers, in
 * a child process, bench/pipeline/worker.ts) and the flusher (createFlusher, another child).
 * Uses REDIS_URL / DATABASE_URL, or starts private instances when they are unset
 * (bench/privateServices.ts): used_memory is server-wide, so a private Redis is the clean
 * measurement.
 *
 * 1. The shard worker starts (its queues exist); BullMQ's job history is removed (completed
 *    jobs, the events streams): the baseline, `used_memory` and `MEMORY USAGE key SAMPLES 0`
 *    of every key under the run's prefix.
 * 2. `--signals` normalized signals are registered through the shard queues directly (`register`
 *    jobs, added in bulk with the intake's job options), and stored in PostgreSQL as accepted
 *    (as the intake would), so that the flusher can write their outcomes. Measured once the
 *    shard worker has applied every registration: `redis.bytes_per_open_signal`. Beside it,
 *    the raw baseline: the same checkpoint records written with plain HSETs into one hash.
 * 3. A real tick path (BTCUSDT and ETHUSDT trades from the Binance file, IBM trades from the
 *    Lean file, each thinned to `--path` ticks) is published through createTickPublisher.
 *    Every signal is a market entry on one of these symbols, created just before the path's
 *    first tick (which fills it), with its take-profits and stop inside the path's range, so
 *    the path closes every one of them.
 * 4. The flusher drains the outboxes into PostgreSQL and sends the `forget` jobs; measured once
 *    the outboxes are empty and the shard queues idle, with BullMQ's job history removed
 *    again: `redis.bytes_per_closed_signal` is the growth of the shard-state keys over a
 *    control run (the same ticks on a prefix of its own, no signals), divided by the signals.
 *
 * Keys live under a prefix of their own and are removed afterwards; PostgreSQL figures use a
 * scratch database.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { NormalizedSignal } from '../machines/signalContext.ts';
import type { Tick } from '../machines/types.ts';
import { seededRandom } from '../src/demo/generateSignals.ts';
import { createTickPublisher } from '../src/live/createTickPublisher.ts';
import { ShardKeys, shardOf, shardQueueName } from '../src/names.ts';
import { countOpenRecords, readRecords } from '../src/live/shardStore.ts';
import type { ShardJobData } from '../src/live/messages.ts';
import { SHARD_JOB_OPTIONS } from '../src/live/shardQueues.ts';
import { migrate } from '../src/storage/migrate.ts';
import { readTicks } from '../src/ticks/readTicks.ts';
import { farSignal } from './farSignal.ts';
import { dropPrefix } from './pipeline/dropPrefix.ts';
import { Fleet } from './pipeline/Fleet.ts';
import { insertSignals } from './pipeline/insertSignals.ts';
import { quietLog, scratchDatabase } from './pipeline/scratchDatabase.ts';
import { withServices } from './privateServices.ts';
import type { Report } from './Report.ts';

const BINANCE = 'data/binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz';
const IBM_TRADES = 'data/lean_usequity_IBM_trades_2013-10-07_11.csv.gz';
const BUFFER_SIZE = 20_000; // TICK_BUFFER_SIZE default
const TICK_BATCH_SIZE = 2000; // TICK_BATCH_SIZE default
const FLUSH_BATCH_SIZE = 1000; // FLUSH_BATCH_SIZE default

const say = (msg: string): void => {
  process.stderr.write(`[redis] ${msg}\n`);
};

interface Settings {
  signals: number;
  shards: number;
  pathTicks: number;
}

function settings(flags: string[]): Settings {
  const num = (name: string, fallback: number): number => {
    const f = flags.find((x) => x.startsWith(`--${name}=`));
    return f === undefined ? fallback : Number(f.slice(name.length + 3));
  };
  return { signals: num('signals', 100_000), shards: num('shards', 8), pathTicks: num('path', 2000) };
}

// ---------------------------------------------------------------------------------------------
// The tick path and the signals it closes.

interface Path {
  symbol: string;
  ticks: Tick[];
  hi: number;
  lo: number;
}

/** `symbol`'s ticks in `file` over its first day, thinned evenly to `n` (first and last kept). */
async function loadPath(file: string, symbol: string, n: number): Promise<Path> {
  const all: Tick[] = [];
  for await (const t of readTicks(file)) {
    if (t.symbol !== symbol) continue;
    if (all.length > 0 && t.ts > all[0]!.ts + 86_400_000) break;
    all.push(t);
  }
  const ticks: Tick[] = [];
  for (let k = 0; k < n; k++) {
    const t = all[Math.round((k * (all.length - 1)) / Math.max(1, n - 1))]!;
    if (ticks.length === 0 || t.ts > ticks[ticks.length - 1]!.ts) ticks.push(t);
  }
  const prices = ticks.map((t) => t.price);
  const path = { symbol, ticks, hi: Math.max(...prices), lo: Math.min(...prices) };
  if (!(path.hi > ticks[0]!.price && path.lo < ticks[0]!.price))
    throw new Error(`${symbol}: the path's first price is its high or low; no room for levels`);
  return path;
}

/**
 * Signals of bench/farSignal.ts's shape (market entry, two take-profits, a stop, a tenth
 * trailing), created just before their path's first tick, with the levels moved inside the
 * path's range: take-profits 5–95 % of the way to its high (long) or low (short), the stop
 * 5–95 % of the way to the other extreme. A path visits both extremes, so by its end every
 * signal has hit its stop or its last take-profit (or a breakeven or trailing stop before).
 */
function pathSignals(paths: Path[], count: number, tag: string): NormalizedSignal[] {
  const rnd = seededRandom(9);
  const out: NormalizedSignal[] = [];
  for (let i = 0; i < count; i++) {
    const p = paths[i % paths.length]!;
    const p0 = p.ticks[0]!.price;
    const s = farSignal(`${tag}${i}`, i, p.symbol, p0, p.ticks[0]!.ts - 1, rnd);
    const dir = s.side === 'long' ? 1 : -1;
    const room = dir === 1 ? p.hi - p0 : p0 - p.lo;
    const risk = dir === 1 ? p0 - p.lo : p.hi - p0;
    const level = (k: number): number => Math.round((p0 + dir * k) * 1e4) / 1e4;
    const [a, b] = [0.05 + 0.9 * rnd(), 0.05 + 0.9 * rnd()].sort((x, y) => x - y);
    s.takeProfits = [
      { price: level(a! * room), fraction: 0.5 },
      { price: level(b! * room), fraction: 0.5 },
    ];
    s.stopLoss = { price: level(-(0.05 + 0.9 * rnd()) * risk) };
    out.push(s);
  }
  return out;
}

/** The paths' ticks interleaved round-robin (each symbol's in time order). */
function interleave(paths: Path[]): Tick[] {
  const out: Tick[] = [];
  const longest = Math.max(...paths.map((p) => p.ticks.length));
  for (let k = 0; k < longest; k++) for (const p of paths) if (k < p.ticks.length) out.push(p.ticks[k]!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/** The kinds of a shard's state keys (src/names.ts ShardKeys), by key suffix. */
const STATE_KINDS = [
  'signals',
  'ids',
  'books',
  'outbox',
  'poison',
  'progress',
  'applied-auto',
  'applied-custom',
  'applied-ops',
  'clock',
  'recent',
] as const;
type StateKind = (typeof STATE_KINDS)[number];

interface Snapshot {
  usedMemory: number;
  /** INFO memory, field → value. */
  info: Map<string, number>;
  /** Bytes (MEMORY USAGE … SAMPLES 0) of the shard-state keys, by kind. */
  state: Map<StateKind, number>;
  stateBytes: number;
  /** Bytes of every other key under the prefix: BullMQ's queues, jobs and events. */
  bullmqBytes: number;
  bullmqKeys: number;
  /** Every shard-state key with its bytes. */
  stateKeys: Map<string, number>;
}

async function memoryInfo(redis: Redis): Promise<Map<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 300)); // let lazy frees and client buffers settle
  const out = new Map<string, number>();
  for (const m of (await redis.info('memory')).matchAll(/^(\w+):(\d+)\r?$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

async function usedMemory(redis: Redis): Promise<number> {
  return (await memoryInfo(redis)).get('used_memory')!;
}

/** Where used_memory moved between two snapshots, by INFO memory's parts. */
function memoryMoves(a: Snapshot, b: Snapshot): string {
  const fields = [
    'used_memory',
    'used_memory_dataset',
    'used_memory_overhead',
    'used_memory_scripts',
    'mem_clients_normal',
    'mem_aof_buffer',
  ];
  return fields.map((f) => `${f} ${(b.info.get(f) ?? 0) - (a.info.get(f) ?? 0)}`).join(', ');
}

function stateKind(key: string, prefix: string): StateKind | null {
  const m = /^\{ticks-\d+\}:(.+)$/.exec(key.slice(prefix.length + 1));
  if (m === null) return null;
  const rest = m[1]!;
  if (rest.startsWith('recent:') || rest.startsWith('recent-ticks:')) return 'recent';
  if (/^signals:\d+$/.test(rest)) return 'signals'; // the record buckets
  return (STATE_KINDS as readonly string[]).includes(rest) ? (rest as StateKind) : null;
}

async function memoryUsage(redis: Redis, keys: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(i, i + 500)) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    for (const [err, bytes] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      out.push(Number(bytes ?? 0)); // null: the key went meanwhile
    }
  }
  return out;
}

async function snapshot(redis: Redis, prefix: string): Promise<Snapshot> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  const sizes = await memoryUsage(redis, keys);
  const info = await memoryInfo(redis);
  const snap: Snapshot = {
    usedMemory: info.get('used_memory')!,
    info,
    state: new Map(STATE_KINDS.map((k) => [k, 0])),
    stateBytes: 0,
    bullmqBytes: 0,
    bullmqKeys: 0,
    stateKeys: new Map(),
  };
  keys.forEach((key, i) => {
    const kind = stateKind(key, prefix);
    const bytes = sizes[i]!;
    if (kind === null) {
      snap.bullmqBytes += bytes;
      snap.bullmqKeys++;
    } else {
      snap.state.set(kind, snap.state.get(kind)! + bytes);
      snap.stateBytes += bytes;
      snap.stateKeys.set(key, bytes);
    }
  });
  return snap;
}

function describe(s: Snapshot): string {
  const kinds = [...s.state]
    .filter(([, b]) => b > 0)
    .map(([k, b]) => `${k} ${b}`)
    .join(', ');
  return (
    `used_memory ${s.usedMemory} B; shard state ${s.stateBytes} B (${kinds || 'nothing'}); ` +
    `BullMQ ${s.bullmqBytes} B in ${s.bullmqKeys} keys`
  );
}

/** Removes BullMQ's job history from the shard queues: completed jobs and the events streams. */
async function dropJobHistory(redis: Redis, prefix: string, shards: number): Promise<void> {
  for (let n = 0; n < shards; n++) {
    const queue = new Queue(shardQueueName(n), { connection: redis, prefix });
    while ((await queue.clean(0, 10_000, 'completed')).length > 0);
    await redis.xtrim(queue.keys.events!, 'MAXLEN', 0);
    await queue.close();
  }
}

/** Jobs not yet finished on the shard queues. */
async function pendingJobs(redis: Redis, prefix: string, shards: number): Promise<number> {
  let pending = 0;
  for (let n = 0; n < shards; n++) {
    const queue = new Queue(shardQueueName(n), { connection: redis, prefix });
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    pending += Object.values(c).reduce((a, b) => a + b, 0);
    await queue.close();
  }
  return pending;
}

async function sumHlen(redis: Redis, prefix: string, shards: number, key: 'signals' | 'ids' | 'outbox') {
  let n = 0;
  for (let s = 0; s < shards; s++) {
    const keys = new ShardKeys(prefix, s);
    n += key === 'signals' ? await countOpenRecords(redis, keys) : await redis.hlen(keys[key]);
  }
  return n;
}

async function waitFor(what: string, pred: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function shardFleet(url: string, prefix: string, shards: number): Promise<Fleet> {
  const all = Array.from({ length: shards }, (_, n) => n);
  return Fleet.spawn(
    [{ mode: 'shard', redisUrl: url, prefix, shards: all, bufferSize: BUFFER_SIZE }],
    false,
    [],
  );
}

/** Publishes `ticks` through the production producer and waits until `fleet` has applied them. */
async function publishPath(fleet: Fleet, url: string, prefix: string, shards: number, ticks: Tick[]) {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const publisher = createTickPublisher({ connection, prefix, shards, batchSize: TICK_BATCH_SIZE });
  const before = fleet.completedTicks;
  try {
    await publisher.publish(ticks);
    await fleet.until(() => fleet.completedTicks - before >= ticks.length);
  } finally {
    await publisher.close();
    connection.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------

export async function run(report: Report, flags: string[]): Promise<void> {
  const set = settings(flags);
  await withServices('redis', say, async (services) => {
    if (!services.private) say('using REDIS_URL: used_memory is server-wide, so other clients add noise');
    await measure(report, set, services.redisUrl, services.databaseUrl);
  });
}

async function measure(report: Report, set: Settings, url: string, databaseUrl: string): Promise<void> {
  const N = set.signals;
  const paths = [
    await loadPath(BINANCE, 'BTCUSDT', set.pathTicks),
    await loadPath(BINANCE, 'ETHUSDT', set.pathTicks),
    await loadPath(IBM_TRADES, 'IBM', set.pathTicks),
  ];
  const ticks = interleave(paths);
  const tag = `rm${process.pid}-`;
  const signals = pathSignals(paths, N, tag);
  say(
    `${N} signals on ${paths
      .map(
        (p) =>
          `${p.symbol} (shard ${shardOf(p.symbol, set.shards)}, ${p.ticks.length} ticks ` +
          `${p.lo}–${p.hi}, first ${p.ticks[0]!.price})`,
      )
      .join(', ')}; SHARDS=${set.shards}, ` + `TICK_BUFFER_SIZE=${BUFFER_SIZE}; ids like ${signals[0]!.id}`,
  );
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = `bench${process.pid}redis`;
  const control = `bench${process.pid}redisctl`;
  const plainKey = `bench${process.pid}plain:records`;
  const db = await scratchDatabase(databaseUrl);
  const client = new pg.Client({ connectionString: db.url });
  const fleets: Fleet[] = [];
  try {
    await migrate({ databaseUrl: db.url, log: quietLog });
    await client.connect();
    await insertSignals(client, signals);
    const others = await redis.dbsize();
    if (others > 0) say(`note: Redis already holds ${others} keys of others`);

    // 1. Baseline: the shard worker running, its queues empty.
    const workers = await shardFleet(url, prefix, set.shards);
    fleets.push(workers);
    await dropJobHistory(redis, prefix, set.shards);
    const base = await snapshot(redis, prefix);
    say(`baseline: ${describe(base)}`);

    // 2. Register through the shard queues.
    const queues = Array.from(
      { length: set.shards },
      (_, n) => new Queue<ShardJobData>(shardQueueName(n), { connection: redis, prefix }),
    );
    const t0 = performance.now();
    const byShard = new Map<number, NormalizedSignal[]>();
    for (const s of signals) {
      const n = shardOf(s.symbol, set.shards);
      if (!byShard.has(n)) byShard.set(n, []);
      byShard.get(n)!.push(s);
    }
    for (const [n, list] of byShard) {
      for (let i = 0; i < list.length; i += 1000) {
        await queues[n]!.addBulk(
          list.slice(i, i + 1000).map((signal) => ({
            name: 'register',
            data: { kind: 'register', signal },
            opts: SHARD_JOB_OPTIONS,
          })),
        );
      }
    }
    await Promise.all(queues.map((q) => q.close()));
    await workers.until(() => workers.completedJobs >= N);
    say(`registered ${N} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const opened = await sumHlen(redis, prefix, set.shards, 'signals');
    if (opened !== N) throw new Error(`${opened} of ${N} signals open after registration`);
    const open = await snapshot(redis, prefix);
    say(`open: ${describe(open)}`);
    await dropJobHistory(redis, prefix, set.shards);
    const openNoHistory = await snapshot(redis, prefix);
    say(`open, BullMQ job history removed: ${describe(openNoHistory)}`);

    // The raw baseline: the same records as plain HSET entries in one hash.
    const plainBefore = await usedMemory(redis);
    for (let n = 0; n < set.shards; n++) {
      const flat = [...(await readRecords(redis, new ShardKeys(prefix, n)))].flat();
      for (let i = 0; i < flat.length; i += 2000) await redis.hset(plainKey, ...flat.slice(i, i + 2000));
    }
    const [plainBytes] = await memoryUsage(redis, [plainKey]);
    const plainUsed = (await usedMemory(redis)) - plainBefore;
    const plainFields = await redis.hlen(plainKey);
    const recordChars = Number(
      await redis.eval(
        `local n = 0 for _, v in ipairs(redis.call('HVALS', KEYS[1])) do n = n + #v end return n`,
        1,
        plainKey,
      ),
    );
    await redis.del(plainKey);
    say(
      `plain HSET of the ${plainFields} records: MEMORY USAGE ${plainBytes} B, used_memory +${plainUsed} B; ` +
        `records average ${(recordChars / plainFields).toFixed(0)} B of JSON`,
    );

    report({ name: 'redis.baseline_used_memory', value: base.usedMemory, unit: 'bytes' });
    report({
      name: 'redis.bytes_per_open_signal',
      value: (open.usedMemory - base.usedMemory) / N,
      unit: 'bytes',
    });
    report({
      name: 'redis.bytes_per_open_signal_without_job_history',
      value: (openNoHistory.usedMemory - base.usedMemory) / N,
      unit: 'bytes',
    });
    report({
      name: 'redis.shard_state_bytes_per_open_signal',
      value: (open.stateBytes - base.stateBytes) / N,
      unit: 'bytes',
    });
    for (const kind of ['signals', 'ids'] as const) {
      report({
        name: `redis.shard_state_bytes_per_open_signal.${kind}`,
        value: (open.state.get(kind)! - base.state.get(kind)!) / N,
        unit: 'bytes',
      });
    }
    report({
      name: 'redis.bullmq_bytes_per_open_signal',
      value: (open.bullmqBytes - base.bullmqBytes) / N,
      unit: 'bytes',
    });
    report({ name: 'redis.plain_hset_bytes_per_signal', value: plainBytes! / N, unit: 'bytes' });
    report({ name: 'redis.plain_hset_used_memory_per_signal', value: plainUsed / N, unit: 'bytes' });
    report({ name: 'redis.record_json_bytes', value: recordChars / plainFields, unit: 'bytes' });

    // 3. The tick path closes every signal.
    await publishPath(workers, url, prefix, set.shards, ticks);
    const stillOpen = await sumHlen(redis, prefix, set.shards, 'signals');
    const outboxed = await sumHlen(redis, prefix, set.shards, 'outbox');
    say(`after ${ticks.length} ticks: ${stillOpen} open, ${outboxed} outbox entries`);
    if (stillOpen > 0) say(`warning: ${stillOpen} signals did not close on the path`);
    const closed = N - stillOpen;
    await dropJobHistory(redis, prefix, set.shards);
    const unflushed = await snapshot(redis, prefix);
    say(`closed, not flushed: ${describe(unflushed)}`);

    // 4. Flush, and let the shards forget.
    const flusher = await Fleet.spawn(
      [
        {
          mode: 'flush',
          redisUrl: url,
          databaseUrl: db.url,
          prefix,
          shardCount: set.shards,
          batchSize: FLUSH_BATCH_SIZE,
          expect: outboxed,
        },
      ],
      false,
      [],
    );
    fleets.push(flusher);
    const t1 = performance.now();
    await flusher.until(() => flusher.messages.some((m) => m.e === 'finished'));
    say(`flushed ${outboxed} outbox entries in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    // The forget jobs follow the last batch; wait until the queues are idle and stay so.
    let idle = 0;
    await waitFor('the forget jobs', async () => {
      idle = (await pendingJobs(redis, prefix, set.shards)) === 0 ? idle + 1 : 0;
      return idle >= 10;
    });
    await flusher.stop();
    fleets.splice(fleets.indexOf(flusher), 1);
    const stored = Number((await client.query('SELECT count(*) FROM signal_outcomes')).rows[0].count);
    say(
      `PostgreSQL holds ${stored} outcomes; ledger entries left: ${await sumHlen(redis, prefix, set.shards, 'ids')}`,
    );
    const after = await snapshot(redis, prefix);
    say(`closed, flushed, forgotten: ${describe(after)}`);
    await dropJobHistory(redis, prefix, set.shards);
    const final = await snapshot(redis, prefix);
    say(`… BullMQ job history removed: ${describe(final)}`);
    for (const [key, bytes] of [...final.stateKeys].sort((a, b) => b[1] - a[1]))
      say(`  ${key.slice(prefix.length + 1)}: ${bytes} B`);
    say(`used_memory since the baseline, by part: ${memoryMoves(base, final)}`);

    // The control: the same ticks, no signals.
    const ctlWorkers = await shardFleet(url, control, set.shards);
    fleets.push(ctlWorkers);
    await publishPath(ctlWorkers, url, control, set.shards, ticks);
    const ctl = await snapshot(redis, control);
    say(`control (same ticks, no signals): ${describe(ctl)}`);
    for (const [key, bytes] of [...ctl.stateKeys].sort((a, b) => b[1] - a[1]))
      say(`  ${key.slice(control.length + 1)}: ${bytes} B`);

    report({ name: 'redis.closed_signals', value: closed, unit: 'signals' });
    report({
      name: 'redis.shard_state_bytes_per_closed_signal_before_flush',
      value: (unflushed.stateBytes - ctl.stateBytes) / N,
      unit: 'bytes',
    });
    report({
      name: 'redis.bytes_per_closed_signal',
      value: (final.stateBytes - ctl.stateBytes) / N,
      unit: 'bytes',
    });
    for (const kind of STATE_KINDS) {
      const extra = final.state.get(kind)! - ctl.state.get(kind)!;
      if (extra !== 0)
        report({ name: `redis.bytes_per_closed_signal.${kind}`, value: extra / N, unit: 'bytes' });
    }
    report({ name: 'redis.control_shard_state_bytes', value: ctl.stateBytes, unit: 'bytes' });
    report({
      name: 'redis.used_memory_bytes_per_closed_signal',
      value: (final.usedMemory - base.usedMemory) / N,
      unit: 'bytes',
    });
    report({
      name: 'redis.used_memory_bytes_per_closed_signal_less_tick_state',
      value: (final.usedMemory - base.usedMemory - (ctl.stateBytes - base.stateBytes)) / N,
      unit: 'bytes',
    });
    report({
      name: 'redis.bullmq_bytes_per_closed_signal_with_job_history',
      value: (after.bullmqBytes - base.bullmqBytes) / N,
      unit: 'bytes',
    });
    report({
      name: 'redis.bullmq_bytes_per_closed_signal',
      value: (final.bullmqBytes - base.bullmqBytes) / N,
      unit: 'bytes',
    });
  } finally {
    for (const f of fleets) await f.stop();
    await client.end().catch(() => {});
    await dropPrefix(redis, prefix);
    await dropPrefix(redis, control);
    await redis.del(plainKey);
    await db.drop();
    redis.disconnect();
  }
}
