/**
 * Issue 12, "Many machines on existing engines": any number of worker processes may serve the
 * same shards (one at a time applies a shard's jobs: a global concurrency of 1 per shard queue,
 * and the checkpoint's compare-and-set). With 1, 2 and 4 real worker processes on every shard the
 * outcomes are the same, and those of replay; workers joining and leaving while ticks flow (a
 * SIGTERM that hands its job back cleanly, a SIGKILL that leaves it to stall) change nothing.
 * On a single Redis and on the local Redis Cluster (scripts/services.sh cluster-start).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { toWire } from '../../src/live/messages.ts';
import { appliedTickCount, loadRecent } from '../../src/live/shardStore.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { replay } from '../../src/replay/replay.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  redisEnv,
  spawnFlusher,
  spawnWorker,
  tail,
  type PipelineClient,
  type PipelineConfig,
  type WorkerProcess,
} from '../support/livePipeline.ts';
import { outputsOf } from '../support/realProcesses.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  createRedisNamespace,
  createTestDatabase,
  redisClusterNodes,
  redisUrl,
  useResourceTracker,
  type RedisNamespace,
  type TestDatabase,
} from '../support/services.ts';

const SHARDS = 4;
/** Short, so that a SIGKILLed worker's job is handed over quickly. */
const LOCK_DURATION_MS = 2000;

const tracker = useResourceTracker();

let ibm: Tick[] = [];
let binance: Tick[] = [];
beforeAll(async () => {
  ibm = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  binance = await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz');
});

const processes: WorkerProcess[] = [];
const clients: PipelineClient[] = [];
const databases: TestDatabase[] = [];
const namespaces: RedisNamespace[] = [];
afterEach(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  processes.length = 0;
  await Promise.all(clients.map((c) => c.close()));
  clients.length = 0;
  await Promise.all(databases.map((d) => d.drop()));
  databases.length = 0;
  await Promise.all(namespaces.map((n) => n.cleanup()));
  namespaces.length = 0;
});

const outputs = (): string => outputsOf(processes);

/** A pipeline of its own: a fresh database and Redis namespace, no process running yet. */
async function freshPipeline(label: string, cluster: boolean): Promise<PipelineConfig> {
  const db = await createTestDatabase();
  databases.push(db);
  const ns = createRedisNamespace(label, cluster);
  namespaces.push(ns);
  return {
    redisUrl: redisUrl(),
    ...(cluster && { clusterNodes: redisClusterNodes() }),
    databaseUrl: db.url,
    prefix: ns.prefix,
    shards: SHARDS,
    flusher: true,
  };
}

function processEnv(cfg: PipelineConfig): Record<string, string> {
  return {
    ...redisEnv(cfg),
    DATABASE_URL: cfg.databaseUrl,
    QUEUE_PREFIX: cfg.prefix,
    SHARDS: String(SHARDS),
    LOCK_DURATION_MS: String(LOCK_DURATION_MS),
    TICK_BUFFER_SIZE: '200000',
  };
}

async function startWorkers(cfg: PipelineConfig, labels: string[]): Promise<WorkerProcess[]> {
  const started = labels.map((label) => spawnWorker(label, processEnv(cfg)));
  processes.push(...started);
  await Promise.all(started.map((w) => w.waitForOutput('worker started', 60_000)));
  return started;
}

async function startFlusher(cfg: PipelineConfig): Promise<WorkerProcess> {
  const flusher = spawnFlusher('flusher', processEnv(cfg));
  processes.push(flusher);
  await flusher.waitForOutput('flusher started', 60_000);
  return flusher;
}

function client(cfg: PipelineConfig): PipelineClient {
  const live = tracker.track(createPipelineClient(cfg), 'pipeline client');
  clients.push(live);
  return live;
}

/** Whether a worker applied at least one shard job (it loads a shard before its first). */
function appliedShardJobs(w: WorkerProcess): boolean {
  return w.output().includes('"msg":"shard loaded"');
}

/** `ticks` cut into `count` parts, each symbol's ticks in every part in their order. */
function parts(ticks: Tick[], count: number): Tick[][] {
  const bySymbol = new Map<string, Tick[]>();
  for (const t of ticks) {
    let list = bySymbol.get(t.symbol);
    if (list === undefined) bySymbol.set(t.symbol, (list = []));
    list.push(t);
  }
  return Array.from({ length: count }, (_, k) =>
    [...bySymbol.values()].flatMap((list) =>
      list.slice(Math.floor((list.length * k) / count), Math.floor((list.length * (k + 1)) / count)),
    ),
  );
}

function testSignals(): SignalPayload[] {
  return [
    ...generateSignals(spreadAnchors(ibm, 200), { count: 200, seed: 61, prefix: 'ibm' }),
    ...generateSignals(spreadAnchors(binance, 100), { count: 100, seed: 62, prefix: 'bin' }),
  ];
}

/** Nothing lost or applied twice: no failed or poison job, each tick counted and buffered once. */
async function expectEachTickOnce(live: PipelineClient, prefix: string, fed: Tick[]): Promise<void> {
  expect(await live.failedShardJobs()).toEqual([]);
  expect(await live.poisonEntries()).toEqual([]);
  for (const symbol of ['IBM', 'BTCUSDT', 'ETHUSDT']) {
    const ticks = fed.filter((t) => t.symbol === symbol);
    const keys = new ShardKeys(prefix, shardOf(symbol, SHARDS));
    expect(await appliedTickCount(live.redis, keys, symbol), `${symbol}: ticks applied`).toBe(ticks.length);
    const recent = await loadRecent(live.redis, keys, symbol);
    expect(recent.length, `${symbol}: recent-tick buffer`).toBe(ticks.length);
    const firstDifference = recent.findIndex(
      (x, i) => JSON.stringify(toWire(x)) !== JSON.stringify(toWire(ticks[i]!)),
    );
    expect(firstDifference, `${symbol}: first buffered tick out of place`).toBe(-1);
  }
}

/** PostgreSQL holds each closed outcome once. */
async function expectClosedOnce(live: PipelineClient, closed: number): Promise<void> {
  const { rows } = await live.db.query<{ outcomes: number; audits: number }>(
    `SELECT (SELECT count(*) FROM signal_outcomes)::int AS outcomes,
            (SELECT count(*) FROM audit_logs WHERE event = 'closed')::int AS audits`,
  );
  expect(rows[0]).toEqual({ outcomes: closed, audits: closed });
}

async function expectCleanExit(...workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
  for (const w of workers) expect((await w.exited).code, `${w.label}'s exit\n${tail(w.output())}`).toBe(0);
}

describe.each([
  { target: 'a single Redis', cluster: false },
  { target: 'a Redis Cluster', cluster: true },
])('worker processes on the same shards, on $target', ({ cluster }) => {
  // On the single Redis only: ten processes a target are long on a shared 2-core machine, and
  // the join-and-leave test below runs real processes on the cluster too.
  if (!cluster)
    it('gives the same outcomes, those of replay, with 1, 2 and 4 worker processes', async () => {
      const signals = testSignals();
      // Half of each file: three pipelines and seven worker processes on a machine others share.
      const ticks = [
        ...ibm.slice(0, Math.floor(ibm.length / 2)),
        ...binance.slice(0, Math.floor(binance.length / 2)),
      ];
      const expected = await replay({ signals, ticks });
      const ids = signals.map((s) => s.id);
      const closed = expected.lines.filter((l) => l.state === 'closed').length;
      expect(closed).toBeGreaterThan(50);
      const results = new Map<number, unknown[]>();
      for (const count of [1, 2, 4]) {
        const cfg = await freshPipeline(`workers-${count}`, cluster);
        const workers = await startWorkers(
          cfg,
          Array.from({ length: count }, (_, i) => `worker ${i + 1} of ${count}`),
        );
        const flusher = await startFlusher(cfg);
        const live = client(cfg);
        await live.submitSignals(signals);
        await live.waitUntilDrained({ diagnostics: outputs });
        // In parts, each applied before the next: a worker keeps fetching its shard's next job while
        // there is a backlog, so each part's first job is a new draw of which worker takes the shard.
        for (const part of parts(ticks, 8)) {
          await live.publishTicks(part);
          await live.waitUntilDrained({ timeoutMs: 120_000, diagnostics: outputs });
        }

        await expectEachTickOnce(live, cfg.prefix, ticks);
        const actual = await live.collectOutcomes(ids);
        expect(describeDifference(actual, expected.lines), `${count} workers`).toBeNull();
        await expectClosedOnce(live, closed);
        results.set(count, actual);
        // The shards really were shared: more than one process applied shard jobs.
        const busy = workers.filter(appliedShardJobs).length;
        if (count === 1) expect(busy).toBe(1);
        else expect(busy, `workers that applied shard jobs\n${outputs()}`).toBeGreaterThanOrEqual(2);
        await expectCleanExit(...workers, flusher);
      }
      expect(results.get(2)).toEqual(results.get(1));
      expect(results.get(4)).toEqual(results.get(1));
    }, 600_000);

  it('loses nothing when workers join and leave (SIGTERM, SIGKILL) while ticks flow', async () => {
    // Small tick jobs (200 ticks), so that the feed is many jobs that take the workers a while.
    const cfg = { ...(await freshPipeline('join-leave', cluster)), batchSize: 200 };
    const signals = testSignals();
    const [a] = await startWorkers(cfg, ['worker A']);
    const flusher = await startFlusher(cfg);
    const live = client(cfg);
    await live.submitSignals(signals);
    await live.waitUntilDrained({ diagnostics: outputs });

    // The feed in 16 parts, each symbol's ticks in order. Parts 0-3 go out without waiting for
    // the workers, and B and C join while they are applied. Parts 4-8 each wait until applied:
    // a worker keeps fetching its shard's next job while there is a backlog, so a newcomer gets
    // one when a part starts on an idle queue. Part 9 goes out and, with its jobs queued and
    // running, B is stopped (SIGTERM) and C killed (SIGKILL); the rest follows without waiting.
    const feed = parts([...ibm, ...binance], 16);
    let leaving: WorkerProcess[] = [];
    for (let k = 0; k < feed.length; k++) {
      await live.publishTicks(feed[k]!);
      if (k === 3) leaving = await startWorkers(cfg, ['worker B', 'worker C']);
      if (k >= 4 && k <= 8) await live.waitUntilDrained({ timeoutMs: 120_000, diagnostics: outputs });
      if (k === 9) {
        const [b, c] = leaving as [WorkerProcess, WorkerProcess];
        await Promise.all([b.stop(), c.kill()]);
        expect((await b.exited).code, `worker B's exit on SIGTERM\n${tail(b.output())}`).toBe(0);
        expect((await c.exited).signal).toBe('SIGKILL');
      }
    }
    await live.waitUntilDrained({ timeoutMs: 120_000, diagnostics: outputs });

    // Those that joined took part before they left.
    expect(leaving.some(appliedShardJobs), `neither joining worker applied a shard job\n${outputs()}`).toBe(
      true,
    );
    await expectEachTickOnce(live, cfg.prefix, [...ibm, ...binance]);
    const expected = await replay({ signals, ticks: [...ibm, ...binance] });
    const actual = await live.collectOutcomes(signals.map((s) => s.id));
    expect(describeDifference(actual, expected.lines)).toBeNull();
    await expectClosedOnce(live, expected.lines.filter((l) => l.state === 'closed').length);
    await expectCleanExit(a!, flusher);
  }, 300_000);
});
