/**
 * DESIGN.md decision 13, "transient is not bad": a dependency that is down delays work and
 * loses none. PostgreSQL is stopped (`immediate`, as a crash) or Redis restarted while
 * producers submit signals and operations; afterwards every valid submission is tracked once,
 * every bad one is stored as rejected once, and the outcomes and operation results equal
 * replay's. Private Redis and PostgreSQL instances of this file's own, so that stopping them
 * disturbs no other test.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import type { AnalyzeJobData } from '../../src/analyzer/analyzeJob.ts';
import { createAnalyzeWorker } from '../../src/analyzer/analyzeWorker.ts';
import { IntakeKeys, QUEUE_NAMES } from '../../src/names.ts';
import { replay } from '../../src/replay/replay.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  startInProcessWorkers,
  testLogger,
  type PipelineClient,
  type PipelineConfig,
} from '../support/livePipeline.ts';
import { operationsAt } from '../support/operationsAt.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  silentLog,
  startIsolatedServices,
  useResourceTracker,
  type IsolatedServices,
} from '../support/services.ts';

const tracker = useResourceTracker();
const SHARDS = 4;

let services: IsolatedServices | undefined;
let ibm: Tick[] = [];
let binance: Tick[] = [];
beforeAll(async () => {
  services = await startIsolatedServices();
  await migrate({ databaseUrl: services.databaseUrl, log: silentLog });
  ibm = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  binance = await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz');
}, 180_000);
afterAll(async () => {
  await services?.stop();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(cfg: PipelineConfig): Promise<PipelineClient> {
  const workers = tracker.track(await startInProcessWorkers(cfg), 'in-process workers');
  cleanups.push(() => workers.close());
  const live = tracker.track(createPipelineClient(cfg), 'pipeline client');
  cleanups.push(() => live.close());
  return live;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A burst over both tick files: signals before and after a cut, operations at the cut and at the end. */
function burst(seed: number) {
  const signals = [
    ...generateSignals(spreadAnchors(ibm, 200), { count: 200, seed, prefix: `ibm${seed}` }),
    ...generateSignals(spreadAnchors(binance, 200), { count: 200, seed: seed + 1, prefix: `bin${seed}` }),
  ];
  const cutIbm = ibm[Math.floor(ibm.length * 0.5)]!.ts;
  const cutBin = binance[Math.floor(binance.length * 0.5)]!.ts;
  const cutOf = (s: SignalPayload): number => (s.symbol === 'IBM' ? cutIbm : cutBin);
  const ticksA = [...ibm.filter((t) => t.ts <= cutIbm), ...binance.filter((t) => t.ts <= cutBin)];
  const ticksB = [...ibm.filter((t) => t.ts > cutIbm), ...binance.filter((t) => t.ts > cutBin)];
  // Half the signals arrive during the fault, late: created before the cut.
  const during = signals.filter((s, i) => s.createdAt <= cutOf(s) && i % 2 === 0);
  const duringIds = new Set(during.map((s) => s.id));
  const before = signals.filter((s) => !duringIds.has(s.id));
  const opsAtCut = [
    ...operationsAt(
      signals.filter((s) => s.symbol === 'IBM'),
      cutIbm,
      seed + 2,
    ),
    ...operationsAt(
      signals.filter((s) => s.symbol !== 'IBM'),
      cutBin,
      seed + 3,
    ),
  ];
  // A second operation right behind some of them, on the same signal at the same market time:
  // they must reach the shard in this order (an exit first would make the cancel a rejection).
  const followUps = opsAtCut
    .filter((_, i) => i % 4 === 0)
    .map((op) => ({ op: 'cancel', id: op.id, ts: op.ts }) as Record<string, unknown>);
  return { signals, before, during, ticksA, ticksB, ops: interleave(opsAtCut, followUps) };
}

/** `ops`, each followed by its follow-up (same id) where there is one. */
function interleave(
  ops: Record<string, unknown>[],
  followUps: Record<string, unknown>[],
): Record<string, unknown>[] {
  const byId = new Map(followUps.map((f) => [f.id, f]));
  return ops.flatMap((op) => {
    const f = byId.get(op.id);
    byId.delete(op.id);
    return f ? [op, f] : [op];
  });
}

/** The operations whose results the audit log holds, rejected ones named. */
async function opResults(live: PipelineClient): Promise<{ rejected: string[]; applied: number }> {
  const { rows } = await live.db.query<{
    event: string;
    details: { op?: { op: string; id: string; ts: number } };
  }>(
    `SELECT event, details FROM audit_logs WHERE event IN ('op_rejected', 'amended', 'cancelled', 'exited')`,
  );
  return {
    rejected: rows
      .filter((r) => r.event === 'op_rejected')
      .map((r) => `${r.details.op!.op} ${r.details.op!.id} @${r.details.op!.ts}`)
      .sort(),
    applied: rows.filter((r) => r.event !== 'op_rejected').length,
  };
}

/** Everything the comparison with replay asserts, once the pipeline is drained. */
async function expectEqualToReplay(
  live: PipelineClient,
  b: ReturnType<typeof burst>,
  bad: readonly { id: string }[],
): Promise<void> {
  expect(await live.failedShardJobs()).toEqual([]);
  expect(await live.poisonEntries()).toEqual([]);
  // Only the bad payloads failed, each once and for its content, never for the outage.
  const failed = await live.trackSignal.getFailed();
  expect(failed.map((j) => (j.data as { id: string }).id).sort()).toEqual(bad.map((s) => s.id).sort());
  for (const j of failed) expect(j.failedReason).toMatch(/^rejected signal /);
  expect((await live.signalOps.getFailed()).map((j) => j.failedReason)).toEqual(
    expect.not.arrayContaining([expect.stringMatching(/ECONNREFUSED|unreachable|terminat/i)]),
  );

  const expected = await replay({ signals: b.signals, ticks: [...ibm, ...binance], ops: b.ops });
  const ids = b.signals.map((s) => s.id);
  expect(describeDifference(await live.collectOutcomes(ids), expected.lines)).toBeNull();

  // Each valid signal stored once as accepted, each bad one once as rejected with its reasons.
  const { rows } = await live.db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM signals GROUP BY status ORDER BY status`,
  );
  expect(rows).toEqual([
    { status: 'accepted', n: b.signals.length },
    { status: 'rejected', n: bad.length },
  ]);
  const unforwarded = await live.db.query(
    `SELECT id FROM signals WHERE status = 'accepted' AND forwarded_at IS NULL`,
  );
  expect(unforwarded.rows).toEqual([]);

  // Every operation applied or rejected as replay has it, in submission order per signal.
  const results = await opResults(live);
  expect(results.rejected).toEqual(
    expected.rejectedOps
      .map((r) => {
        const op = r.op as { op: string; id: string; ts: number };
        return `${op.op} ${op.id} @${op.ts}`;
      })
      .sort(),
  );
  expect(results.applied + results.rejected.length).toBe(b.ops.length);
  expect(await live.outbox()).toEqual([]);
}

describe('outages lose nothing', () => {
  it('PostgreSQL stopped (immediate) during a burst of signals and operations: each tracked once, intake degraded meanwhile, outcomes equal replay', async () => {
    const cfg: PipelineConfig = {
      redisUrl: services!.redisUrl,
      databaseUrl: services!.databaseUrl,
      prefix: 'ot-pg-outage',
      shards: SHARDS,
      flusher: true,
    };
    const live = await start(cfg);
    const b = burst(70);
    expect(b.during.length).toBeGreaterThan(50);
    expect(b.ops.length).toBeGreaterThan(20);
    const bad = [
      { ...b.signals[0]!, id: 'bad-side', side: 'up' },
      { ...b.signals[1]!, id: 'bad-levels', stopLoss: { price: -1 } },
    ];

    await live.submitSignals(b.before);
    await live.waitUntilDrained();
    await live.publishTicks(b.ticksA);
    await live.waitUntilDrained();

    await services!.pgStop('immediate');
    const outageKey = new IntakeKeys(cfg.prefix).outage;
    try {
      await live.submitSignals([...b.during, ...bad]);
      await live.submitOps(b.ops);
      // The intake notices and says so (what /health reports), and the jobs wait, unfailed.
      const deadline = Date.now() + 15_000;
      while ((await live.redis.get(outageKey)) === null) {
        if (Date.now() > deadline) throw new Error('the intake never reported the outage');
        await sleep(50);
      }
      await sleep(4000);
      const counts = await live.trackSignal.getJobCounts('waiting', 'active', 'failed', 'completed');
      expect(counts.failed, 'track-signal jobs failed during the outage').toBe(0);
      expect((counts.waiting ?? 0) + (counts.active ?? 0)).toBeGreaterThan(0);
      expect((await live.signalOps.getJobCounts('failed')).failed).toBe(0);
    } finally {
      await services!.pgStart();
    }
    await live.waitUntilDrained({ timeoutMs: 90_000 });
    expect(await live.redis.get(outageKey), 'outage flag after recovery').toBeNull();
    await live.publishTicks(b.ticksB);
    await live.waitUntilDrained({ timeoutMs: 60_000 });

    await expectEqualToReplay(live, b, bad);
  }, 240_000);

  it('Redis restarted in the middle of a burst of signals and operations: each tracked once, outcomes equal replay', async () => {
    const cfg: PipelineConfig = {
      redisUrl: services!.redisUrl,
      databaseUrl: services!.databaseUrl,
      prefix: 'ot-redis-outage',
      shards: SHARDS,
      flusher: true,
      // A restart can orphan a job until its lock lapses (redis-restart.test.ts): keep it short.
      lockDurationMs: 2000,
    };
    // BullMQ prints refused reconnections of queues without listeners; expected while Redis is down.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    cleanups.push(async () => quiet.mockRestore());
    // Start from an empty schema: the first test's rows are not this one's.
    await migrateAfresh();
    const live = await start(cfg);
    const b = burst(80);
    const bad = [{ ...b.signals[2]!, id: 'bad-entry', entry: { type: 'moon' } }];

    await live.submitSignals(b.before);
    await live.waitUntilDrained();
    await live.publishTicks(b.ticksA);
    await live.waitUntilDrained();

    // The burst goes out in small pieces; Redis restarts once a third of it is queued.
    const pieces = chunk([...b.during, ...bad], 20);
    const opPieces = chunk(b.ops, 10);
    let restarted: Promise<void> | null = null;
    for (let i = 0; i < Math.max(pieces.length, opPieces.length); i++) {
      if (pieces[i]) await live.submitSignals(pieces[i]!);
      if (opPieces[i]) await live.submitOps(opPieces[i]!);
      if (restarted === null && i >= pieces.length / 3) restarted = services!.redisRestart();
    }
    await restarted;
    await live.waitUntilDrained({ timeoutMs: 90_000 });
    await live.publishTicks(b.ticksB);
    await live.waitUntilDrained({ timeoutMs: 60_000 });

    await expectEqualToReplay(live, b, bad);
  }, 240_000);
});

describe('the analyzer through an outage', () => {
  it('waits out PostgreSQL stopped (immediate) instead of failing its job, then stores the analysis', async () => {
    // Found by the fault campaign: analyze jobs spent their three attempts within seconds of an
    // outage and failed for good; now the analysis retries the outage like the intake does.
    const connection = new Redis(services!.redisUrl, { maxRetriesPerRequest: null });
    connection.on('error', () => {});
    const pool = new pg.Pool({ connectionString: services!.databaseUrl });
    pool.on('error', () => {});
    const prefix = 'ot-analyze-outage';
    const queue = new Queue<AnalyzeJobData>(QUEUE_NAMES.analyze, { connection, prefix });
    queue.on('error', () => {});
    const worker = createAnalyzeWorker({ connection, prefix, pool, log: testLogger(), now: Date.now });
    worker.on('error', () => {});
    try {
      await services!.pgStop('immediate');
      try {
        // One attempt: before the fix, the first refused connection failed it for good.
        await queue.add(
          'analyze',
          { window: '1d', groupKind: 'all' },
          { jobId: 'during-outage', attempts: 1 },
        );
        const deadline = Date.now() + 15_000;
        while ((await queue.getJob('during-outage'))?.processedOn === undefined) {
          if (Date.now() > deadline) throw new Error('the analyze job was never picked up');
          await sleep(50);
        }
        await sleep(3000);
        expect(await queue.getJobState('during-outage')).toBe('active');
      } finally {
        await services!.pgStart();
      }
      const deadline = Date.now() + 60_000;
      let state = await queue.getJobState('during-outage');
      while (state !== 'completed' && state !== 'failed' && Date.now() < deadline) {
        await sleep(100);
        state = await queue.getJobState('during-outage');
      }
      const job = (await queue.getJob('during-outage'))!;
      expect(state, job.failedReason).toBe('completed');
      expect(job.attemptsMade).toBe(1);
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await pool.end();
      connection.disconnect();
    }
  }, 120_000);
});

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Empties every table the pipeline writes, keeping the schema. */
async function migrateAfresh(): Promise<void> {
  const client = new pg.Client({ connectionString: services!.databaseUrl });
  await client.connect();
  try {
    // audit_logs is append-only by trigger; the test owns this database, so it may lift that.
    await client.query(`ALTER TABLE audit_logs DISABLE TRIGGER USER`);
    await client.query(
      `TRUNCATE signals, closed_signals, signal_outcomes, tp_sl_hits, audit_logs, outbox_applied`,
    );
    await client.query(`ALTER TABLE audit_logs ENABLE TRIGGER USER`);
  } finally {
    await client.end();
  }
}
