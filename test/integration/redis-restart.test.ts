/**
 * DESIGN.md decision 4: checkpoints live in Redis, so Redis restarting must not lose them. The
 * private Redis of scripts/services.sh runs with `appendonly yes`, `appendfsync everysec` and no
 * RDB snapshots; `redis-restart` stops it with SIGTERM, on which Redis writes and fsyncs the AOF
 * before exiting. So a restart loses nothing that was acknowledged, and that is all this file
 * asserts: everything survives byte for byte, workers reconnect by themselves (also when the
 * restart comes in the middle of a batch), and the outcomes still equal replay. What `everysec`
 * does not guarantee (a crash or power loss may cost the last second of writes) is described in
 * docs/OPERATIONS.md "Persistence", not tested here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { appliedTickCount, readRecords } from '../../src/live/shardStore.ts';
import { replay } from '../../src/replay/replay.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  startInProcessWorkers,
  type PipelineClient,
  type PipelineConfig,
} from '../support/livePipeline.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  silentLog,
  startIsolatedServices,
  useResourceTracker,
  type IsolatedServices,
} from '../support/services.ts';

const tracker = useResourceTracker();
const SHARDS = 3;

let services: IsolatedServices | undefined;
let ticks: Tick[] = [];
beforeAll(async () => {
  services = await startIsolatedServices();
  await migrate({ databaseUrl: services.databaseUrl, log: silentLog });
  ticks = [
    ...(await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz')),
    ...(await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz')),
  ];
}, 180_000);
afterAll(async () => {
  await services?.stop();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A hash's fields in sorted order (a hash has no order of its own; a reload may change it). */
function sorted(hash: Record<string, string>): [string, string][] {
  return Object.entries(hash).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Everything a shard keeps in Redis, per key, as comparable text. */
async function shardState(live: PipelineClient, prefix: string): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (let n = 0; n < SHARDS; n++) {
    const keys = new ShardKeys(prefix, n);
    const books = await live.redis.hgetall(keys.books);
    const recent: Record<string, string | undefined> = {};
    for (const symbol of Object.keys(books).sort())
      recent[symbol] = (await live.redis.getBuffer(keys.recentTicks(symbol)))?.toString('base64');
    const parts = {
      progress: await live.redis.get(keys.progress),
      clock: await live.redis.get(keys.clock),
      signals: sorted(Object.fromEntries(await readRecords(live.redis, keys))),
      ids: sorted(await live.redis.hgetall(keys.ids)),
      books: sorted(books),
      bookSeqs: sorted(await live.redis.hgetall(keys.bookSeqs)),
      recent,
      outbox: sorted(await live.redis.hgetall(keys.outbox)),
      poison: sorted(await live.redis.hgetall(keys.poison)),
      queue: await live.shardQueue(n).getJobCounts(),
    };
    for (const [name, value] of Object.entries(parts)) state[`shard ${n} ${name}`] = JSON.stringify(value);
  }
  return state;
}

describe('Redis restart', () => {
  it('keeps checkpoints, queues and outboxes across a restart, idle or mid-batch, and outcomes equal replay', async () => {
    const cfg: PipelineConfig = {
      redisUrl: services!.redisUrl,
      databaseUrl: services!.databaseUrl,
      prefix: 'ot-restart',
      shards: SHARDS,
      batchSize: 1000,
      flusher: true,
      // A restart can orphan a job: Redis moved it to active, then exited before its reply
      // reached the worker, so no one processes it while it holds its shard's only slot, until
      // its lock lapses and the stall check hands it back (LOCK_DURATION_MS, then at most one
      // more for the check). Short here, so that the test does not wait a minute for it.
      lockDurationMs: 2000,
    };
    // The tick publisher's BullMQ queues have no 'error' listener (createTickPublisher), so BullMQ
    // prints each refused reconnection to stderr while Redis is down. Expected here; kept quiet.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    cleanups.push(async () => quiet.mockRestore());
    const workers = tracker.track(await startInProcessWorkers(cfg), 'in-process workers');
    cleanups.push(() => workers.close());
    const live = tracker.track(createPipelineClient(cfg), 'pipeline client');
    cleanups.push(() => live.close());

    const ibm = ticks.filter((t) => t.symbol === 'IBM');
    const binance = ticks.filter((t) => t.symbol !== 'IBM');
    const signals = [
      ...generateSignals(spreadAnchors(ibm, 200), { count: 200, seed: 41, prefix: 'ibm' }),
      ...generateSignals(spreadAnchors(binance, 100), { count: 100, seed: 42, prefix: 'bin' }),
    ];
    const cut = (list: Tick[]): [Tick[], Tick[]] => {
      const at = Math.floor(list.length * 0.4);
      return [list.slice(0, at), list.slice(at)];
    };
    const [ibmA, ibmB] = cut(ibm);
    const [binA, binB] = cut(binance);

    await live.submitSignals(signals);
    await live.waitUntilDrained();
    await live.publishTicks([...ibmA, ...binA]);
    await live.waitUntilDrained();

    // Idle restart: every key of every shard is back as it was.
    const before = await shardState(live, cfg.prefix);
    await services!.redisRestart();
    const after = await shardState(live, cfg.prefix);
    for (const key of Object.keys(before)) expect(after[key], key).toBe(before[key]);

    // Restart while the workers are applying batches: they reconnect and carry on.
    const ibmKeys = new ShardKeys(cfg.prefix, shardOf('IBM', SHARDS));
    const progressBefore = Number(await live.redis.get(ibmKeys.progress));
    await live.publishTicks([...ibmB, ...binB]);
    const deadline = Date.now() + 30_000;
    while (Number(await live.redis.get(ibmKeys.progress)) < progressBefore + 5) {
      if (Date.now() > deadline) throw new Error('the IBM shard made no progress');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const progressAtRestart = Number(await live.redis.get(ibmKeys.progress));
    await services!.redisRestart();
    await live.waitUntilDrained({ timeoutMs: 30_000 });
    // There was work left when Redis went down, and it was done after.
    expect(Number(await live.redis.get(ibmKeys.progress))).toBeGreaterThan(progressAtRestart);

    expect(await live.failedShardJobs()).toEqual([]);
    expect(await live.poisonEntries()).toEqual([]);
    // Each tick applied once: every symbol's book counted exactly its ticks.
    for (const symbol of ['IBM', 'BTCUSDT', 'ETHUSDT']) {
      const keys = new ShardKeys(cfg.prefix, shardOf(symbol, SHARDS));
      expect(await appliedTickCount(live.redis, keys, symbol), `${symbol}: ticks applied`).toBe(
        ticks.filter((t) => t.symbol === symbol).length,
      );
    }
    const expected = await replay({ signals, ticks: [...ibmA, ...binA, ...ibmB, ...binB] });
    const actual = await live.collectOutcomes(signals.map((s) => s.id));
    expect(describeDifference(actual, expected.lines)).toBeNull();
    const closed = expected.lines.filter((l) => l.state === 'closed').length;
    const { rows } = await live.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_logs WHERE event = 'closed'`,
    );
    expect(rows[0]!.n).toBe(closed);
  }, 150_000);
});
