/**
 * Operations waiting for a signal that never comes (docs/OPERATIONS.md "Operations keep their
 * order while they wait"): each waits OP_WAIT_FOR_SIGNAL_MS (3 s in these tests) from its own
 * first look, not from when the operations ahead of it were done. Found by the fault campaign:
 * four operations on an unknown signal, each waiting its turn and then its full wait, held
 * `signal-ops` for two minutes.
 */
import { describe, expect, it } from 'vitest';
import { signalJobId } from '../../src/names.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('opswait');
const tracker = useResourceTracker();
const pipeline = useLivePipeline({ db, ns, tracker, shards: 2 });

const T = Date.now() - 60_000;

describe('operations on a signal that never arrives', () => {
  it('are rejected in arrival order, each one wait after it arrived rather than one wait after the one before', async () => {
    const live = await pipeline.start();
    const ids = ['wait-1', 'wait-2', 'wait-3', 'wait-4'];
    await live.signalOps.addBulk(
      ids.map((jobId, i) => ({
        name: 'op',
        data: { op: 'exit', id: 'never-sent', ts: T + i },
        opts: { jobId },
      })),
    );
    await live.waitUntilDrained();

    const jobs = await Promise.all(ids.map(async (id) => (await live.signalOps.getJob(id))!));
    for (const job of jobs) {
      expect(await job.getState()).toBe('failed');
      expect(job.failedReason).toContain('SIGNAL_UNKNOWN');
    }
    const finished = jobs.map((j) => j.finishedOn!);
    expect([...finished].sort((a, b) => a - b)).toEqual(finished); // arrival order kept
    // Every one started waiting before the first was rejected: their waits ran side by side.
    const since = jobs.map((j) => (j.progress as { waitingSince: number }).waitingSince);
    for (const s of since.slice(1)) expect(s).toBeLessThan(finished[0]!);

    const { rows } = await live.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_logs WHERE event = 'op_rejected' AND signal_id = 'never-sent'`,
    );
    expect(rows[0]!.n).toBe(4);
  });
});

describe('an operation on a signal still queued behind a backlog', () => {
  it('waits for it longer than OP_WAIT_FOR_SIGNAL_MS, and is applied when it arrives', async () => {
    const live = await pipeline.start();
    // The signal sits in track-signal under its recommended job id for 5 s (as behind the
    // backlog an outage leaves), longer than the 3 s an unknown signal's operation waits.
    const signal = {
      v: 1,
      id: 'behind-backlog',
      symbol: 'BACKLOG',
      side: 'long',
      createdAt: T,
      entry: { type: 'limit', price: 100 },
      takeProfits: [{ price: 110, fraction: 1 }],
      stopLoss: { price: 95 },
    };
    await live.trackSignal.add('signal', signal, { jobId: signalJobId(signal.id), delay: 5_000 });
    const [op] = await live.signalOps.addBulk([
      { name: 'op', data: { op: 'cancel', id: signal.id, ts: T + 1 }, opts: { jobId: 'cancel-behind' } },
    ]);
    await live.waitUntilDrained({ timeoutMs: 30_000 });

    expect(await op!.getState()).toBe('completed');
    const { rows } = await live.db.query<{ event: string }>(
      `SELECT event FROM audit_logs WHERE signal_id = $1 ORDER BY at, id`,
      [signal.id],
    );
    expect(rows.map((r) => r.event).sort()).toEqual(['accepted', 'cancelled', 'closed']);
    const outcome = await live.db.query<{ outcome: string }>(
      'SELECT outcome FROM signal_outcomes WHERE signal_id = $1',
      [signal.id],
    );
    expect(outcome.rows).toEqual([{ outcome: 'CANCELLED' }]);
  });
});
