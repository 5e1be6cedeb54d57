/**
 * Operations waiting for a signal that never comes (docs/OPERATIONS.md "Operations keep their
 * order while they wait"): each waits OP_WAIT_FOR_SIGNAL_MS (3 s in these tests) from its own
 * first look, not from when the operations ahead of it were done. Found by the fault campaign:
 * four operations on an unknown signal, each waiting its turn and then its full wait, held
 * `signal-ops` for two minutes.
 */
import { describe, expect, it } from 'vitest';
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
