/**
 * Redis keeps only open signals (docs/OPERATIONS.md, DESIGN.md decision 5): once the flusher
 * has committed a closed signal's outcome to PostgreSQL it sends its shard a `forget`, and the
 * shard drops the signal's ledger entry, so Redis does not grow with every signal ever
 * tracked. From then on PostgreSQL answers for the signal: a second submission of its id, the
 * same intake job run again (a crash between registering and marking it forwarded), and an
 * operation on it must all be refused there, since the shard no longer knows the id.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import type { OutcomeLine, SignalPayload, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { replay } from '../../src/replay/replay.ts';
import { readRecords } from '../../src/live/shardStore.ts';
import { readDataTicks } from '../support/dataFile.ts';
import { type PipelineClient, useLivePipeline } from '../support/livePipeline.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('forget');
const tracker = useResourceTracker();

const SHARDS = 4;

let ibm: Tick[] = [];
beforeAll(async () => {
  ibm = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
});

const { start } = useLivePipeline({ db, ns, tracker, shards: SHARDS });

/** Jobs may ask for retries; a rejection must not use them. */
const RETRYING = { attempts: 5, backoff: { type: 'fixed', delay: 10 } } as const;

/** What each shard holds in Redis for signals: ledger entries, open records, outbox entries. */
async function shardState(
  live: PipelineClient,
): Promise<{ shard: number; ids: Record<string, string>; signals: string[]; outbox: number }[]> {
  const out = [];
  for (let shard = 0; shard < SHARDS; shard++) {
    const keys = new ShardKeys(ns.prefix, shard);
    out.push({
      shard,
      ids: await live.redis.hgetall(keys.ids),
      signals: [...(await readRecords(live.redis, keys)).keys()].sort(),
      outbox: await live.redis.hlen(keys.outbox),
    });
  }
  return out;
}

/** What each shard must hold when only `open` signals are left. */
function onlyOpen(signals: readonly SignalPayload[], open: ReadonlySet<string>) {
  return Array.from({ length: SHARDS }, (_, shard) => {
    const here = signals
      .filter((s) => open.has(s.id) && shardOf(s.symbol, SHARDS) === shard)
      .map((s) => s.id)
      .sort();
    return { shard, ids: Object.fromEntries(here.map((id) => [id, 'open'])), signals: here, outbox: 0 };
  });
}

/** Jobs added to shard `shard`'s queue after stream entry `after` ('added' events of its stream). */
async function jobsAddedSince(
  live: PipelineClient,
  shard: number,
  after: string,
): Promise<{ jobId: string; name: string }[]> {
  const entries = await live.redis.xrange(live.shardQueue(shard).toKey('events'), `(${after}`, '+');
  const added = [];
  for (const [, flat] of entries) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
    if (f.event === 'added') added.push({ jobId: f.jobId!, name: f.name! });
  }
  return added;
}

async function lastEventId(live: PipelineClient, shard: number): Promise<string> {
  const [last] = await live.redis.xrevrange(live.shardQueue(shard).toKey('events'), '+', '-', 'COUNT', 1);
  return last?.[0] ?? '0-0';
}

describe('Redis keeps only open signals', () => {
  it('forgets every closed signal once PostgreSQL holds its outcome, and then refuses it a second life: resubmitted, its intake job rerun, or operated on', async () => {
    const live = await start();
    const signals = generateSignals(spreadAnchors(ibm, 120), { count: 120, seed: 11, prefix: 'ibm' });
    const submitted = await live.submitSignals(signals);
    await live.waitUntilDrained({ timeoutMs: 120_000 });
    await live.publishTicks(ibm);
    await live.waitUntilDrained({ timeoutMs: 150_000 });

    const ids = signals.map((s) => s.id);
    const expected = await replay({ signals, ticks: ibm });
    const before = await live.collectOutcomes(ids);
    expect(describeDifference(before, expected.lines), 'live outcomes vs replay').toBeNull();
    const lines = expected.lines as OutcomeLine[];
    const open = new Set(lines.filter((l) => l.state !== 'closed').map((l) => l.id));
    const closed = lines.filter((l) => l.state === 'closed').map((l) => l.id);
    // The premise: both kinds are there, and enough closed ones for the three cases below.
    expect(open.size, 'signals still open at the end of the ticks').toBeGreaterThan(0);
    expect(closed.length, 'signals closed by the ticks').toBeGreaterThanOrEqual(3);
    expect(await live.failedShardJobs()).toEqual([]);
    expect(await live.poisonEntries()).toEqual([]);

    const { rows: committed } = await live.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM closed_signals`,
    );
    expect(committed[0]!.n, 'closed signals committed to PostgreSQL').toBe(closed.length);
    expect(await shardState(live), 'Redis after the flusher: open signals only').toEqual(
      onlyOpen(signals, open),
    );

    const shard = shardOf('IBM', SHARDS);
    const lastTs = ibm[ibm.length - 1]!.ts;
    const [resubmitted, rerun, operated] = closed as [string, string, string];
    const payloadOf = (id: string): SignalPayload => signals.find((s) => s.id === id)!;
    const jobOf = (id: string): Job => submitted.find((j) => (j.data as SignalPayload).id === id)!;
    const mark = await lastEventId(live, shard);

    // (a) The id submitted again, by another job: stored as a rejected duplicate, not tracked.
    const [again] = await live.submitSignals([payloadOf(resubmitted)], RETRYING);
    // (b) The same intake job run again after its signal was forgotten: the crash window
    // between the registration and markForwarded, replayed.
    await live.db.query(`UPDATE signals SET forwarded_at = NULL WHERE id = $1`, [rerun]);
    await jobOf(rerun).retry('completed');
    // (c) An operation on a closed, forgotten signal.
    const [exit] = await live.submitOps([{ op: 'exit', id: operated, ts: lastTs + 1 }], RETRYING);
    await live.waitUntilDrained();

    expect(await jobsAddedSince(live, shard, mark), `jobs added to shard ${shard} since`).toEqual([]);
    expect(await shardState(live), 'Redis afterwards: still open signals only').toEqual(
      onlyOpen(signals, open),
    );
    expect(
      describeDifference(await live.collectOutcomes(ids), expected.lines),
      'outcomes afterwards vs replay',
    ).toBeNull();

    // (a)
    const duplicate = (await live.trackSignal.getJob(again!.id!))!;
    expect(await duplicate.getState(), '(a) the second submission').toBe('completed');
    expect(duplicate.returnvalue, '(a) its result').toEqual({ id: resubmitted, shard, duplicate: true });
    const { rows: aRows } = await live.db.query(
      `SELECT status, errors, job_id FROM signals WHERE id = $1 ORDER BY seq`,
      [resubmitted],
    );
    expect(aRows, '(a) signals rows').toEqual([
      { status: 'accepted', errors: null, job_id: jobOf(resubmitted).id },
      {
        status: 'rejected',
        errors: [
          `id: ${resubmitted} was already accepted (job ${jobOf(resubmitted).id}); this submission is ignored`,
        ],
        job_id: again!.id,
      },
    ]);

    // (b)
    const rerunJob = (await live.trackSignal.getJob(jobOf(rerun).id!))!;
    expect(await rerunJob.getState(), '(b) the job run again').toBe('completed');
    expect(rerunJob.returnvalue, '(b) its result').toEqual({ id: rerun, shard, duplicate: false });
    const { rows: bRows } = await live.db.query(
      `SELECT status, job_id, forwarded_at IS NOT NULL AS forwarded FROM signals WHERE id = $1`,
      [rerun],
    );
    expect(bRows, '(b) signals rows: one, forwarded again, no duplicate').toEqual([
      { status: 'accepted', job_id: jobOf(rerun).id, forwarded: true },
    ]);

    // (c)
    const reason = `signal ${operated} is already closed`;
    const exitJob = (await live.signalOps.getJob(exit!.id!))!;
    expect(await exitJob.getState(), '(c) the operation').toBe('failed');
    expect(exitJob.attemptsMade, '(c) attempts (never retried)').toBe(1);
    expect(exitJob.failedReason).toBe(`rejected operation: ${reason} [SIGNAL_CLOSED]`);
    const { rows: cRows } = await live.db.query(
      `SELECT signal_id, details FROM audit_logs WHERE event = 'op_rejected'`,
    );
    expect(cRows, '(c) op_rejected rows').toEqual([
      {
        signal_id: operated,
        details: {
          op: { op: 'exit', id: operated, ts: lastTs + 1 },
          errors: [reason],
          codes: ['SIGNAL_CLOSED'],
          jobId: exit!.id,
        },
      },
    ]);
  }, 300_000);
});
