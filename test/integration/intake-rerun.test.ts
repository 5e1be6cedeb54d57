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
import { useLivePipeline } from '../support/livePipeline.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('rerun');
const tracker = useResourceTracker();
const SHARDS = 2;
const pipeline = useLivePipeline({ db, ns, tracker, shards: SHARDS });

const T = 1_700_000_000_000;

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
    // The same job again, as BullMQ hands back one whose worker died before completing it.
    await (await live.signalOps.getJob('amend-once'))!.remove();
    await live.signalOps.add('op', amend, { jobId: 'amend-once' });
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
