/**
 * DESIGN.md decisions 3 and 4, end to end with real worker processes: several workers share the
 * shards; one is SIGKILLed while it applies a tick batch and another is started. BullMQ hands
 * the stalled job back (at the head of its shard's queue), the checkpoint's progress marker
 * keeps its effects from being applied twice, and the outcomes a flusher process writes to
 * PostgreSQL are still those of replay.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Job, Queue } from 'bullmq';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { toWire } from '../../src/live/messages.ts';
import { appliedTickCount, loadRecent } from '../../src/live/shardStore.ts';
import { replay } from '../../src/replay/replay.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  spawnFlusher,
  spawnWorker,
  tail,
  type PipelineClient,
  type WorkerProcess,
} from '../support/livePipeline.ts';
import { useRealProcesses } from '../support/realProcesses.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  createTestDatabase,
  redisUrl,
  useRedisNamespace,
  useResourceTracker,
  type TestDatabase,
} from '../support/services.ts';

// A database per test: both tests submit the same signals, and each must find PostgreSQL as
// fresh as its Redis namespace (an id already accepted and forwarded is not registered again).
let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});
const ns = useRedisNamespace('crash');
const tracker = useResourceTracker();

const SHARDS = 2;
const LOCK_DURATION_MS = 2000;
/** Large batches, so that a job runs long enough to be killed in the middle of it. */
const BATCH_SIZE = 30_000;

let ibm: Tick[] = [];
let binance: Tick[] = [];
beforeAll(async () => {
  ibm = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  binance = await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz');
});

const run = useRealProcesses();
const { processes, outputs } = run;

const IBM_SHARD = shardOf('IBM', SHARDS);
const CRYPTO_SHARD = shardOf('BTCUSDT', SHARDS);

function workerEnv(): Record<string, string> {
  return {
    REDIS_URL: redisUrl(),
    DATABASE_URL: db.url,
    QUEUE_PREFIX: ns.prefix,
    SHARDS: String(SHARDS),
    LOCK_DURATION_MS: String(LOCK_DURATION_MS),
    TICK_BUFFER_SIZE: '200000',
  };
}

function startWorker(label: string, env: Record<string, string> = {}): WorkerProcess {
  const p = spawnWorker(label, { ...workerEnv(), ...env });
  processes.push(p);
  return p;
}

interface Scenario {
  live: PipelineClient;
  a: WorkerProcess;
  b: WorkerProcess;
  flusher: WorkerProcess;
  signals: SignalPayload[];
  ibmQueue: Queue;
}

/**
 * Worker A serves every shard, worker B only the crypto shard (shared with A): the IBM shard's
 * jobs run in A, so we know which process holds them. Signals are registered, every tick is
 * published in large batches, and the scenario returns as soon as A is applying the second IBM
 * batch: by then A has a warm runtime and a progress marker, so whoever takes over the batch A
 * holds when it is stopped (stopWithBatch) must restore from Redis and then skip or redo
 * exactly that batch.
 */
async function scenario(): Promise<Scenario> {
  expect(shardOf('ETHUSDT', SHARDS)).toBe(CRYPTO_SHARD);
  expect(IBM_SHARD).not.toBe(CRYPTO_SHARD);
  const a = startWorker('worker A');
  const b = startWorker('worker B', { WORKER_SHARDS: String(CRYPTO_SHARD) });
  const flusher = spawnFlusher('flusher', workerEnv());
  processes.push(flusher);
  await Promise.all([
    a.waitForOutput('worker started'),
    b.waitForOutput('worker started'),
    flusher.waitForOutput('flusher started'),
  ]);

  run.client = tracker.track(
    createPipelineClient({
      redisUrl: redisUrl(),
      databaseUrl: db.url,
      prefix: ns.prefix,
      shards: SHARDS,
      batchSize: BATCH_SIZE,
      flusher: true,
    }),
    'pipeline client',
  );
  const live = run.client;
  const signals = [
    ...generateSignals(spreadAnchors(ibm, 400), { count: 400, seed: 31, prefix: 'ibm' }),
    ...generateSignals(spreadAnchors(binance, 100), { count: 100, seed: 32, prefix: 'bin' }),
  ];
  await live.submitSignals(signals);
  await live.waitUntilDrained({ diagnostics: outputs });

  await live.publishTicks([...ibm, ...binance]);
  const ibmQueue = live.shardQueue(IBM_SHARD);
  const jobs = (await ibmQueue.getJobs(['waiting', 'active'], 0, -1, true)) as Job[];
  expect(jobs.length).toBeGreaterThanOrEqual(3);
  const target = jobs[1]!.id!;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const active = await ibmQueue.getActive();
    if (active.some((j) => j.id === target)) break;
    if (Date.now() > deadline) throw new Error(`job ${target} never became active\n${outputs()}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { live, a, b, flusher, signals, ibmQueue };
}

/**
 * Stops worker A (SIGSTOP) with an IBM batch in its hands, and answers that batch: the one
 * active once A is stopped. A may have finished the one the scenario saw active between that
 * look and the signal (found by CI on a loaded machine); if A is between batches, it goes on
 * and is stopped again.
 */
async function stopWithBatch(s: Scenario): Promise<string> {
  for (let tries = 0; ; tries++) {
    s.a.child.kill('SIGSTOP');
    const target = (await s.ibmQueue.getActive())[0]?.id;
    if (target !== undefined) return target;
    s.a.child.kill('SIGCONT');
    if (tries === 100) throw new Error(`A held no IBM batch when stopped\n${outputs()}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Nothing lost, nothing applied twice, outcomes equal replay. */
async function expectExactlyOnce({ live, signals }: Scenario): Promise<void> {
  expect(await live.failedShardJobs()).toEqual([]);
  expect(await live.poisonEntries()).toEqual([]);
  // Each symbol's book counted each of its ticks once, and its recent-tick buffer holds each
  // tick once, in order.
  for (const [symbol, ticks] of [
    ['IBM', ibm],
    ['BTCUSDT', binance.filter((t) => t.symbol === 'BTCUSDT')],
    ['ETHUSDT', binance.filter((t) => t.symbol === 'ETHUSDT')],
  ] as const) {
    const keys = new ShardKeys(ns.prefix, shardOf(symbol, SHARDS));
    expect(await appliedTickCount(live.redis, keys, symbol), `${symbol}: ticks applied`).toBe(ticks.length);
    const recent = await loadRecent(live.redis, keys, symbol);
    expect(recent.length, `${symbol}: recent-tick buffer`).toBe(ticks.length);
    const firstDifference = recent.findIndex(
      (x, i) => JSON.stringify(toWire(x)) !== JSON.stringify(toWire(ticks[i]!)),
    );
    expect(firstDifference, `${symbol}: first buffered tick out of place`).toBe(-1);
  }
  // Every completed shard job applied its ticks with none late (a batch applied a second time
  // would find its ticks older than the book's clock), or was skipped as already applied.
  for (const n of [IBM_SHARD, CRYPTO_SHARD]) {
    for (const job of await live.shardQueue(n).getCompleted()) {
      const result = job.returnvalue as { skipped?: string; lateTicks?: number };
      if (result.skipped === undefined) expect(result.lateTicks, `job ${job.id} late ticks`).toBe(0);
    }
  }
  const expected = await replay({ signals, ticks: [...ibm, ...binance] });
  const actual = await live.collectOutcomes(signals.map((s) => s.id));
  expect(describeDifference(actual, expected.lines)).toBeNull();
  // PostgreSQL got each closed outcome once: one outcome row and one 'closed' audit row each.
  const closed = expected.lines.filter((l) => l.state === 'closed').length;
  const { rows } = await live.db.query<{ outcomes: number; audits: number; signals: number }>(
    `SELECT (SELECT count(*) FROM signal_outcomes)::int AS outcomes,
            (SELECT count(*) FROM audit_logs WHERE event = 'closed')::int AS audits,
            (SELECT count(DISTINCT signal_id) FROM audit_logs WHERE event = 'closed')::int AS signals`,
  );
  expect(rows[0]).toEqual({ outcomes: closed, audits: closed, signals: closed });
}

async function expectCleanExit(...workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
  for (const w of workers) expect((await w.exited).code, `${w.label}'s exit\n${tail(w.output())}`).toBe(0);
}

describe('worker processes crashing mid-batch', () => {
  it('loses nothing and applies nothing twice when workers are SIGKILLed while they apply a tick batch', async () => {
    const s = await scenario();
    const target = await stopWithBatch(s);
    await s.a.kill();
    const killedAt = Date.now();
    const stateAtKill = await s.ibmQueue.getJobState(target);
    const c = startWorker('worker C');
    await c.waitForOutput('worker started');

    // The dead worker's lock lapses after LOCK_DURATION_MS; C must then take its batch over.
    // Kill C too while it applies that batch: a second stall of the same job, one more than
    // BullMQ's default maxStalledCount (1) forgives. The shard job must not fail for it.
    const deadline = Date.now() + 30_000;
    let takenOver: Job | undefined;
    for (;;) {
      const job = (await s.ibmQueue.getJob(target))!;
      if (job.attemptsStarted >= 2 && (await job.getState()) === 'active') {
        takenOver = job;
        break;
      }
      if (job.finishedOn) throw new Error(`C finished batch ${target} before it could be killed`);
      if (Date.now() > deadline) throw new Error(`batch ${target} was not taken over\n${outputs()}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await c.kill();
    const takeoverMs = takenOver.processedOn! - killedAt;
    const d = startWorker('worker D');
    await s.live.waitUntilDrained({ timeoutMs: 60_000, diagnostics: outputs });

    // Both kills landed while the batch was in a worker's hands; it stalled twice, ran again.
    expect(stateAtKill).toBe('active');
    const killed = (await s.ibmQueue.getJob(target))!;
    expect(killed.finishedOn).toBeTypeOf('number');
    expect(killed.stalledCounter).toBe(2);
    expect(killed.attemptsStarted).toBe(3);
    await expectExactlyOnce(s);
    // A small LOCK_DURATION_MS is there to hand a dead worker's shard over quickly.
    expect(takeoverMs, `the batch was taken over ${takeoverMs} ms after the kill`).toBeLessThan(
      10 * LOCK_DURATION_MS,
    );
    await expectCleanExit(s.b, d, s.flusher);
  }, 120_000);

  it('refuses the stale checkpoint of a worker frozen mid-batch (SIGSTOP) that wakes after another took its batch over', async () => {
    const s = await scenario();
    const target = await stopWithBatch(s);
    try {
      const c = startWorker('worker C');
      await c.waitForOutput('worker started');
      // Wait until the frozen batch has been taken over and finished by another worker.
      const deadline = Date.now() + 30_000;
      while ((await s.ibmQueue.getJobState(target)) !== 'completed') {
        if (Date.now() > deadline) throw new Error(`batch ${target} was not taken over\n${outputs()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      s.a.child.kill('SIGCONT');
    }
    await s.live.waitUntilDrained({ timeoutMs: 60_000, diagnostics: outputs });
    // A woke up with its batch applied in memory only and tried to commit it over the newer
    // checkpoint: the compare-and-set refused, and A reloaded. (If A's commit had reached Redis
    // before it froze, the batch's new owner skipped it by the progress marker instead.)
    const takenOver = (await s.ibmQueue.getJob(target))!;
    expect(
      takenOver.attemptsStarted,
      'the frozen batch was run again by another worker',
    ).toBeGreaterThanOrEqual(2);
    const refused = s.a.output().includes('shard moved on elsewhere');
    const skipped = (takenOver.returnvalue as { skipped?: string }).skipped === 'already applied';
    expect(refused || skipped, `neither a refused commit nor a skip\n${outputs()}`).toBe(true);
    await expectExactlyOnce(s);
    await expectCleanExit(s.a, s.b, s.flusher);
  }, 120_000);
});
