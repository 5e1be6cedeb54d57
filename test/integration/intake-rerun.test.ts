/**
 * An intake job that runs again: BullMQ delivers at least once, so a worker SIGKILLed after a
 * job's side effects and before its completion was recorded gets the job run a second time
 * (found by the fault campaign, docs/RELIABILITY.md). The second run must add nothing: no
 * second shard job for a forwarded operation, no second stored rejection.
 */
import { describe, expect, it } from 'vitest';
import type { SignalPayload } from '../../machines/types.ts';
import { trackerError } from '../../src/errors.ts';
import { forwardedOpJobId, shardOf } from '../../src/names.ts';
import { recordRejected } from '../../src/storage/recordRejected.ts';
import { recordRejectedOperation } from '../../src/storage/recordRejectedOperation.ts';
import { useLivePipeline, type PipelineClient } from '../support/livePipeline.ts';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';
import { createIntakeWorkers } from '../../src/live/createIntakeWorkers.ts';
import { toWire } from '../../src/live/messages.ts';
import { APPLIED_CUSTOM_KEPT } from '../../src/live/ShardRuntime.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('rerun');
const tracker = useResourceTracker();
const SHARDS = 2;
const pipeline = useLivePipeline({ db, ns, tracker, shards: SHARDS });

const T = 1_700_000_000_000;

/** A long limit signal on AAA that no tick fills: it stays open until an operation closes it. */
function waitingSignal(id: string): SignalPayload {
  return {
    v: 1,
    id,
    symbol: 'AAA',
    side: 'long',
    createdAt: T,
    entry: { type: 'limit', price: 90 },
    stopLoss: { price: 80 },
    takeProfits: [{ price: 120, fraction: 1 }],
  };
}

/** Signal-ops job `jobId` again, as BullMQ hands back one whose worker died before completing it. */
async function runAgain(live: PipelineClient, jobId: string, op: object): Promise<void> {
  await (await live.signalOps.getJob(jobId))!.remove();
  await live.signalOps.add('op', op, { jobId });
}

/** The cancel of signal `id` applied once and not also rejected; its signal-ops job `jobId` completed. */
async function expectCancelledOnce(live: PipelineClient, id: string, jobId: string): Promise<void> {
  const { rows } = await live.db.query<{ event: string; n: number }>(
    `SELECT event, count(*)::int AS n FROM audit_logs WHERE signal_id = $1 GROUP BY event ORDER BY event`,
    [id],
  );
  expect(rows).toEqual([
    { event: 'accepted', n: 1 },
    { event: 'cancelled', n: 1 },
    { event: 'closed', n: 1 },
  ]);
  expect(await (await live.signalOps.getJob(jobId))!.getState()).toBe('completed');
}

describe('an intake job run a second time', () => {
  it('forwards its operation once: the shard applies an amend once however often its signal-ops job runs', async () => {
    const live = await pipeline.start();
    const signal: SignalPayload = {
      v: 1,
      id: 'rerun-1',
      symbol: 'AAA',
      side: 'long',
      createdAt: T,
      entry: { type: 'market' },
      stopLoss: { price: 90 },
      takeProfits: [{ price: 120, fraction: 1 }],
    };
    await live.submitSignals([signal]);
    await live.waitUntilDrained();
    await live.publishTicks([{ symbol: 'AAA', ts: T + 1, price: 100 }]);
    await live.waitUntilDrained();

    const amend = { op: 'amend', id: 'rerun-1', ts: T + 2, stopLoss: { price: 95 } };
    await live.signalOps.add('op', amend, { jobId: 'amend-once' });
    await live.waitUntilDrained();
    await runAgain(live, 'amend-once', amend);
    await live.waitUntilDrained();

    const { rows } = await live.db.query<{ event: string; n: number }>(
      `SELECT event, count(*)::int AS n FROM audit_logs WHERE signal_id = 'rerun-1' GROUP BY event ORDER BY event`,
    );
    expect(rows).toEqual([
      { event: 'accepted', n: 1 },
      { event: 'amended', n: 1 },
    ]);
    // Because the shard job's id is derived from the signal-ops job's.
    const shardJob = await live.shardQueue(shardOf('AAA', SHARDS)).getJob(forwardedOpJobId('amend-once'));
    expect(shardJob?.data).toEqual({ kind: 'op', op: amend });
  });

  it('does not reject as closed an operation it forwarded before and that closed its signal (the shard lists it as applied)', async () => {
    const live = await pipeline.start();
    await live.submitSignals([waitingSignal('rerun-2')]);
    await live.waitUntilDrained();

    // The cancel closes the signal, and the flusher stores its outcome.
    const cancel = { op: 'cancel', id: 'rerun-2', ts: T + 2 };
    await live.signalOps.add('op', cancel, { jobId: 'cancel-once' });
    await live.waitUntilDrained();
    expect((await live.db.query(`SELECT 1 FROM closed_signals WHERE signal_id = 'rerun-2'`)).rowCount).toBe(
      1,
    );
    // Its shard job gone too, as after the 200 the shard queue keeps: the shard's list of the
    // jobs it applied still has it.
    const shardJob = await live.shardQueue(shardOf('AAA', SHARDS)).getJob(forwardedOpJobId('cancel-once'));
    await shardJob!.remove();
    await runAgain(live, 'cancel-once', cancel);
    await live.waitUntilDrained();

    await expectCancelledOnce(live, 'rerun-2', 'cancel-once');
  });

  it('recognises an operation it forwarded before however many tick jobs with ids of their own its shard applied since', async () => {
    const live = await pipeline.start();
    await live.submitSignals([waitingSignal('rerun-4')]);
    await live.waitUntilDrained();
    const cancel = { op: 'cancel', id: 'rerun-4', ts: T + 2 };
    await live.signalOps.add('op', cancel, { jobId: 'cancel-then-ticks' });
    await live.waitUntilDrained();
    const shardQueue = live.shardQueue(shardOf('AAA', SHARDS));
    await (await shardQueue.getJob(forwardedOpJobId('cancel-then-ticks')))!.remove();
    // More tick batches with ids of their own than the shard remembers custom ids (as POST
    // /v1/ticks with an Idempotency-Key sends them) before the intake job runs again, 30-60 s
    // after its worker died.
    const batches = APPLIED_CUSTOM_KEPT + 1;
    await shardQueue.addBulk(
      Array.from({ length: batches }, (_, i) => ({
        name: 'ticks',
        data: { kind: 'ticks' as const, ticks: [toWire({ symbol: 'AAA', ts: T + 3 + i, price: 100 })] },
        opts: { jobId: `tick-batch-${i}` },
      })),
    );
    await live.waitUntilDrained();
    expect(await (await shardQueue.getJob(`tick-batch-${batches - 1}`))?.getState()).toBe('completed');
    await runAgain(live, 'cancel-then-ticks', cancel);
    await live.waitUntilDrained();

    await expectCancelledOnce(live, 'rerun-4', 'cancel-then-ticks');
  });

  it('does not reject as closed an operation it forwarded before that is still queued on its shard', async () => {
    const live = await pipeline.start();
    await live.submitSignals([waitingSignal('rerun-3')]);
    await live.waitUntilDrained();
    const shardQueue = live.shardQueue(shardOf('AAA', SHARDS));
    await shardQueue.pause();
    const finished = async (): Promise<string> => {
      for (;;) {
        const state = await (await live.signalOps.getJob('exit-queued'))!.getState();
        if (state === 'completed' || state === 'failed') return state;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const exit = { op: 'exit', id: 'rerun-3', ts: T + 2 };
    await live.signalOps.add('op', exit, { jobId: 'exit-queued' });
    expect(await finished()).toBe('completed');
    // Meanwhile PostgreSQL learns that the signal closed (as if a tick had closed it).
    await live.db.query(`INSERT INTO closed_signals (signal_id, closed_at) VALUES ('rerun-3', now())`);
    await runAgain(live, 'exit-queued', exit);
    expect(await finished()).toBe('completed');
    const rejected = await live.db.query(
      `SELECT 1 FROM audit_logs WHERE signal_id = 'rerun-3' AND event = 'op_rejected'`,
    );
    expect(rejected.rowCount).toBe(0);
    expect(await shardQueue.getJob(forwardedOpJobId('exit-queued'))).toBeDefined();
    await shardQueue.resume();
    await live.waitUntilDrained();
  });

  it('runs a job again however often it stalls: the intake workers take the unbounded default of MAX_STALLED_COUNT, as the shard workers do', async () => {
    // BullMQ fails a job that stalls more often than this (its default: once); the fault
    // campaign lost submissions whose worker died twice while they waited out an outage.
    const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
    const pool = tracker.pool(db.url);
    const intake = createIntakeWorkers({
      connection: redis,
      redis,
      prefix: ns.prefix,
      pool,
      shards: SHARDS,
      concurrency: 1,
      log: pino({ level: 'silent' }),
      now: Date.now,
    });
    expect(intake.workers.map((w) => w.opts.maxStalledCount)).toEqual([1_000_000, 1_000_000]);
    await intake.close();
    await pool.end();
    await redis.quit();
  });

  it('stores its rejection once, signal or operation; rejections without a job (HTTP) each time', async () => {
    const live = await pipeline.start();
    const reasons = [trackerError('SIGNAL_UNKNOWN', 'signal nope is unknown')];
    for (let i = 0; i < 2; i++) {
      await recordRejected(live.db, { id: 'bad-1', side: 'up' }, 'bad-1', reasons, 'job-7');
      await recordRejectedOperation(live.db, { op: 'cancel', id: 'nope', ts: T }, 'nope', reasons, 'job-8');
      await recordRejected(live.db, { id: 'bad-2', side: 'up' }, 'bad-2', reasons, null);
    }
    // Another job with the same content is another rejection.
    await recordRejectedOperation(live.db, { op: 'cancel', id: 'nope', ts: T }, 'nope', reasons, 'job-9');
    const signals = await live.db.query<{ id: string; n: number }>(
      `SELECT id, count(*)::int AS n FROM signals WHERE status = 'rejected' GROUP BY id ORDER BY id`,
    );
    expect(signals.rows).toEqual([
      { id: 'bad-1', n: 1 },
      { id: 'bad-2', n: 2 },
    ]);
    const audit = await live.db.query<{ signal_id: string; event: string; n: number }>(
      `SELECT signal_id, event, count(*)::int AS n FROM audit_logs
       WHERE signal_id IN ('bad-1', 'bad-2', 'nope') GROUP BY signal_id, event ORDER BY signal_id, event`,
    );
    expect(audit.rows).toEqual([
      { signal_id: 'bad-1', event: 'rejected', n: 1 },
      { signal_id: 'bad-2', event: 'rejected', n: 2 },
      { signal_id: 'nope', event: 'op_rejected', n: 2 },
    ]);
  });
});
