/**
 * The intake stores accepted signals in batches: the track-signal jobs running at once share one
 * INSERT (group commit). Each job still gets its own answer: a duplicate id is
 * recognised within a batch as across batches, a retried job is not a duplicate of itself, a
 * bad signal fails its own job only, and a signal PostgreSQL refuses fails only its own job.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GUARDS } from '../../src/live/createIntakeWorkers.ts';
import type { ShardJobData } from '../../src/live/messages.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { recordAcceptedBatch, type AcceptedSubmission } from '../../src/storage/recordAcceptedBatch.ts';
import { checkSignal } from '../../src/validation/checkSignal.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('batch');
const tracker = useResourceTracker();

const T = 1_700_000_000_000;
const SHARDS = 2;
const { start } = useLivePipeline({ db, ns, tracker, shards: SHARDS, flusher: false });

function payload(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    id,
    symbol: id.endsWith('b') ? 'XYZ' : 'ABC',
    side: 'long',
    createdAt: T,
    entry: { type: 'limit', price: 100 },
    takeProfits: [{ price: 110, fraction: 1 }],
    stopLoss: { price: 95 },
    ...overrides,
  };
}

function submission(p: Record<string, unknown>, jobId: string): AcceptedSubmission {
  const checked = checkSignal(p, DEFAULT_GUARDS, T);
  if (!checked.ok) throw new Error(`test payload ${String(p.id)} is not valid`);
  return { signal: checked.signal, payload: p, jobId };
}

describe('intake batches', () => {
  it('answers each submission of a batch as storing them one by one in order would: first of an id stored, later ones duplicates, a retried job not', async () => {
    const pool = tracker.pool(db.url);
    // Before the batch: one accepted by job j0 (unforwarded, as after a crash), one closed.
    const before = await recordAcceptedBatch(pool, [
      submission(payload('old-1'), 'j0'),
      submission(payload('old-closed'), 'j00'),
    ]);
    expect(before.map((r) => r.inserted)).toEqual([true, true]);
    await pool.query(`INSERT INTO closed_signals (signal_id, closed_at) VALUES ('old-closed', now())`);

    const records = await recordAcceptedBatch(pool, [
      submission(payload('new-1'), 'j1'),
      submission(payload('old-1'), 'j0'), // BullMQ retrying j0
      submission(payload('new-1', { strategy: 'other' }), 'j2'), // same id again, in this batch
      submission(payload('old-1'), 'j3'), // an id accepted before this batch
      submission(payload('new-2'), 'j4'),
      submission(payload('old-closed'), 'j00'), // retried, and its outcome is committed
    ]);
    expect(
      records.map((r) => ({
        id: r.signal.id,
        strategy: r.signal.strategy ?? null,
        inserted: r.inserted,
        duplicate: r.duplicate,
        forwarded: r.forwarded,
        closed: r.closed,
      })),
    ).toEqual([
      { id: 'new-1', strategy: null, inserted: true, duplicate: false, forwarded: false, closed: false },
      { id: 'old-1', strategy: null, inserted: false, duplicate: false, forwarded: false, closed: false },
      // The signal as first accepted, whatever the duplicate carried.
      { id: 'new-1', strategy: null, inserted: false, duplicate: true, forwarded: false, closed: false },
      { id: 'old-1', strategy: null, inserted: false, duplicate: true, forwarded: false, closed: false },
      { id: 'new-2', strategy: null, inserted: true, duplicate: false, forwarded: false, closed: false },
      { id: 'old-closed', strategy: null, inserted: false, duplicate: false, forwarded: false, closed: true },
    ]);

    const { rows } = await pool.query<{
      id: string;
      status: string;
      job_id: string;
      errors: string[] | null;
    }>(
      `SELECT id, status, job_id, errors FROM signals WHERE id IN ('old-1', 'old-closed', 'new-1', 'new-2') ORDER BY seq`,
    );
    expect(rows).toEqual([
      { id: 'old-1', status: 'accepted', job_id: 'j0', errors: null },
      { id: 'old-closed', status: 'accepted', job_id: 'j00', errors: null },
      { id: 'new-1', status: 'accepted', job_id: 'j1', errors: null },
      { id: 'new-2', status: 'accepted', job_id: 'j4', errors: null },
      {
        id: 'new-1',
        status: 'rejected',
        job_id: 'j2',
        errors: ['id: new-1 was already accepted (job j1); this submission is ignored'],
      },
      {
        id: 'old-1',
        status: 'rejected',
        job_id: 'j3',
        errors: ['id: old-1 was already accepted (job j0); this submission is ignored'],
      },
    ]);
    const audit = await pool.query<{ signal_id: string; event: string; details: unknown; at: Date }>(
      `SELECT signal_id, event, details, at FROM audit_logs
       WHERE signal_id IN ('old-1', 'old-closed', 'new-1', 'new-2') ORDER BY id`,
    );
    expect(audit.rows.map((a) => [a.signal_id, a.event, a.details])).toEqual([
      ['old-1', 'accepted', { jobId: 'j0' }],
      ['old-closed', 'accepted', { jobId: 'j00' }],
      ['new-1', 'accepted', { jobId: 'j1' }],
      ['new-2', 'accepted', { jobId: 'j4' }],
      [
        'new-1',
        'rejected',
        {
          jobId: 'j2',
          codes: ['DUPLICATE_ID'],
          errors: ['id: new-1 was already accepted (job j1); this submission is ignored'],
        },
      ],
      [
        'old-1',
        'rejected',
        {
          jobId: 'j3',
          codes: ['DUPLICATE_ID'],
          errors: ['id: old-1 was already accepted (job j0); this submission is ignored'],
        },
      ],
    ]);
    // An accepted audit row is at the signal's createdAt, as one stored alone.
    expect(audit.rows[2]!.at.getTime()).toBe(T);
    await pool.end();
  });

  it('completes each job of a burst with its own answer: duplicates within the burst recognised, a bad signal failing its own job only', async () => {
    const live = await start();
    await live.trackSignal.pause();
    const ids = Array.from({ length: 24 }, (_, i) => `burst-${i}${i % 2 === 0 ? 'a' : 'b'}`);
    const jobs = await live.submitSignals([
      ...ids.map((id) => payload(id)),
      payload(ids[3]!, { strategy: 'other' }), // a duplicate inside the burst
      payload('bad-1', { side: 'sideways' }), // bad input
      payload(ids[0]!), // another duplicate
    ]);
    await live.trackSignal.resume();
    await live.waitUntilDrained();

    const states = await Promise.all(jobs.map((j) => j.getState()));
    expect(states).toEqual([...ids.map(() => 'completed'), 'completed', 'failed', 'completed']);
    const values = await Promise.all(
      jobs.map(async (j) => (await live.trackSignal.getJob(j.id!))?.returnvalue as unknown),
    );
    expect(values).toEqual([
      ...ids.map((id) => ({
        id,
        shard: shardOf(id.endsWith('b') ? 'XYZ' : 'ABC', SHARDS),
        duplicate: false,
      })),
      { id: ids[3], shard: shardOf('XYZ', SHARDS), duplicate: true },
      null,
      { id: ids[0], shard: shardOf('ABC', SHARDS), duplicate: true },
    ]);
    const bad = await live.trackSignal.getJob(jobs[ids.length + 1]!.id!);
    expect(bad?.attemptsMade, 'the bad signal is tried once').toBe(1);
    expect(bad?.failedReason).toMatch(/^rejected signal bad-1: side: /);

    const { rows } = await live.db.query<{ id: string; status: string; forwarded: boolean }>(
      `SELECT id, status, forwarded_at IS NOT NULL AS forwarded FROM signals
       WHERE id LIKE 'burst-%' OR id = 'bad-1' ORDER BY id, status`,
    );
    expect(rows.filter((r) => r.status === 'accepted')).toEqual(
      [...ids].sort().map((id) => ({ id, status: 'accepted', forwarded: true })),
    );
    expect(
      rows.filter((r) => r.status === 'rejected').map((r) => r.id),
      'the two duplicates and the bad one, stored as rejected',
    ).toEqual(['bad-1', ids[0], ids[3]].sort());
    // Every accepted one registered on its shard, once.
    for (const id of ids) {
      const keys = new ShardKeys(ns.prefix, shardOf(id.endsWith('b') ? 'XYZ' : 'ABC', SHARDS));
      expect(await live.redis.hget(keys.ids, id), `${id} in its shard ledger`).toBe('open');
    }
    // One registration job a shard a batch (a batch holds at most INTAKE_CONCURRENCY jobs),
    // each accepted signal in exactly one of them.
    const registrations = (
      await Promise.all(Array.from({ length: SHARDS }, (_, n) => live.shardQueue(n).getCompleted(0, 1000)))
    )
      .flat()
      .map((j) => ({ name: j.name, data: j.data as ShardJobData }))
      .filter((j) => j.data.kind === 'register' || j.data.kind === 'register-batch');
    const registered = registrations.flatMap(({ data }) =>
      data.kind === 'register'
        ? [data.signal.id]
        : data.kind === 'register-batch'
          ? data.signals.map((s) => s.id)
          : [],
    );
    expect(registered.sort()).toEqual([...ids].sort());
    const batches = registrations.filter((j) => j.data.kind === 'register-batch');
    expect(batches.length, 'registered in batches').toBeGreaterThan(0);
    expect(registrations.length, 'fewer jobs than signals').toBeLessThan(ids.length);
    for (const { name, data } of batches)
      if (data.kind === 'register-batch') {
        expect(name).toBe(`register:${data.signals[0]!.id} +${data.signals.length - 1}`);
        expect(new Set(data.signals.map((s) => shardOf(s.symbol, SHARDS))).size, 'one shard a job').toBe(1);
      }
  });

  it('stores every column as submitted, whatever its text holds (the rows travel as one JSON document): quotes, backslashes, braces, commas, the word NULL, characters beyond the BMP; absent fields as NULL', async () => {
    const pool = tracker.pool(db.url);
    const awkward = {
      tenant: 'desk "A", {north}',
      strategy: 'a "quoted" \\ back\\slash, {brace} and , commas',
      model: 'NULL',
      modelVersion: 'null',
      timeframe: '𝄞 ü 日本',
      confidence: 0.1,
      meta: { note: 'line\nbreak\ttab "q" \\', nested: [1, null, { x: '}{' }] },
    };
    const submitted = [
      submission(payload('text-1', awkward), 'jt1'),
      submission(payload('text-2', { confidence: 0.30000000000000004 }), 'jt2'),
      submission(payload('text-3', { model: '', confidence: 1 }), 'jt3'),
    ];
    const records = await recordAcceptedBatch(pool, submitted);
    expect(records.map((r) => r.inserted)).toEqual([true, true, true]);
    const { rows } = await pool.query<Record<string, unknown>>(
      `SELECT id, tenant, symbol, side, strategy, model, model_version, timeframe, confidence,
              created_at, payload, normalized, job_id
       FROM signals WHERE id IN ('text-1', 'text-2', 'text-3') AND status = 'accepted' ORDER BY seq`,
    );
    expect(rows).toEqual(
      submitted.map(({ signal, payload: p, jobId }) => ({
        id: signal.id,
        tenant: signal.tenant,
        symbol: signal.symbol,
        side: signal.side,
        strategy: signal.strategy ?? null,
        model: signal.model ?? null,
        model_version: signal.modelVersion ?? null,
        timeframe: signal.timeframe ?? null,
        confidence: signal.confidence ?? null,
        created_at: new Date(signal.createdAt),
        payload: p,
        normalized: JSON.parse(JSON.stringify(signal)),
        job_id: jobId,
      })),
    );
    expect(rows[0]).toMatchObject({ tenant: awkward.tenant, model: 'NULL', model_version: 'null' });
    expect(rows[2]).toMatchObject({ model: '', strategy: null, confidence: 1 });
    await pool.end();
  });

  it('fails only the job of a signal PostgreSQL refuses; the others of its batch are stored and tracked', async () => {
    const pool = tracker.pool(db.url);
    // A refusal no validation can foresee (as a constraint or trigger added by an operator).
    await pool.query(`
      CREATE OR REPLACE FUNCTION refuse_signal() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 'refused' AND NEW.status = 'accepted' THEN
          RAISE EXCEPTION 'refused by the test trigger' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_signal BEFORE INSERT ON signals FOR EACH ROW EXECUTE FUNCTION refuse_signal();`);
    try {
      const live = await start();
      await live.trackSignal.pause();
      const jobs = await live.submitSignals([payload('keep-1'), payload('refused'), payload('keep-2')]);
      await live.trackSignal.resume();
      await live.waitUntilDrained();
      expect(await Promise.all(jobs.map((j) => j.getState()))).toEqual(['completed', 'failed', 'completed']);
      const refused = await live.trackSignal.getJob(jobs[1]!.id!);
      expect(refused?.failedReason).toBe('refused by the test trigger');
      const { rows } = await live.db.query<{ id: string }>(
        `SELECT id FROM signals
         WHERE status = 'accepted' AND forwarded_at IS NOT NULL AND id IN ('keep-1', 'refused', 'keep-2')
         ORDER BY id`,
      );
      expect(rows.map((r) => r.id)).toEqual(['keep-1', 'keep-2']);
    } finally {
      await pool.query(`DROP TRIGGER refuse_signal ON signals; DROP FUNCTION refuse_signal()`);
      await pool.end();
    }
  });
  it('stores batches of several tenants side by side, tenants in opposite orders, without a deadlock; each tenant keeps one chain', async () => {
    const pool = tracker.pool(db.url);
    const tenants = ['t-a', 't-b', 't-c'];
    // Rounds of two batches at once whose rows meet the tenants' audit chains in opposite orders.
    for (let round = 0; round < 15; round++) {
      const batch = (order: string[], tag: string): AcceptedSubmission[] =>
        order.flatMap((tenant) =>
          [0, 1].map((k) =>
            submission(
              payload(`${tag}-${round}-${tenant}-${k}`, { tenant }),
              `${tag}-${round}-${tenant}-${k}`,
            ),
          ),
        );
      const [a, b] = await Promise.all([
        recordAcceptedBatch(pool, batch(tenants, 'fwd')),
        recordAcceptedBatch(pool, batch([...tenants].reverse(), 'rev')),
      ]);
      expect([...a, ...b].every((r) => r.inserted)).toBe(true);
    }
    const chains = await pool.query<{ tenant: string; rows: number; seqs: number }>(
      `SELECT tenant, count(*)::int AS rows, count(DISTINCT chain_seq)::int AS seqs
       FROM audit_logs WHERE tenant = ANY($1::text[]) GROUP BY tenant ORDER BY tenant`,
      [tenants],
    );
    expect(chains.rows).toEqual(tenants.map((tenant) => ({ tenant, rows: 60, seqs: 60 })));
    await pool.end();
  });
  it('stores a duplicate submission once however often its job runs (a worker killed after COMMIT runs it again)', async () => {
    const pool = tracker.pool(db.url);
    await recordAcceptedBatch(pool, [submission(payload('dup-once'), 'first-job')]);
    for (let run = 0; run < 3; run++) {
      const [again] = await recordAcceptedBatch(pool, [submission(payload('dup-once'), 'second-job')]);
      expect(again).toMatchObject({ inserted: false, duplicate: true });
    }
    const rejected = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM signals WHERE id = 'dup-once' AND status = 'rejected'`,
    );
    const audited = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_logs WHERE signal_id = 'dup-once' AND event = 'rejected'`,
    );
    expect([rejected.rows[0]!.n, audited.rows[0]!.n]).toEqual([1, 1]);
    await pool.end();
  });

  it('stores a batch whose JSON is over the limit of one statement in several statements: in order, one answer each, duplicates still found', async () => {
    const pool = tracker.pool(db.url);
    const statements: string[] = [];
    const query = pool.query.bind(pool);
    pool.query = ((config: unknown, ...rest: unknown[]) => {
      const name = (config as { name?: string } | null)?.name;
      if (name !== undefined) statements.push(name);
      return (query as (...args: unknown[]) => unknown)(config, ...rest);
    }) as typeof pool.query;
    const note = 'x'.repeat(600);
    const submitted = [
      ...Array.from({ length: 9 }, (_, i) => submission(payload(`split-${i}`, { meta: { note } }), `js${i}`)),
      submission(payload('split-3', { meta: { note } }), 'js-again'), // a duplicate of the fourth
    ];
    const records = await recordAcceptedBatch(pool, submitted, { maxStatementJson: 3_000 });
    expect(records.map((r) => [r.signal.id, r.inserted, r.duplicate])).toEqual([
      ...Array.from({ length: 9 }, (_, i) => [`split-${i}`, true, false]),
      ['split-3', false, true],
    ]);
    // Each row's JSON (payload and normalized form) is over 1,200 characters: one or two a statement.
    const inserts = statements.filter((n) => n === 'outcome-tracker:record-accepted-json').length;
    expect(inserts).toBeGreaterThanOrEqual(5);
    expect(inserts).toBeLessThanOrEqual(9);
    const { rows } = await pool.query<{ id: string; chain_seq: string }>(
      `SELECT s.id, a.chain_seq::text FROM signals s JOIN audit_logs a ON a.signal_id = s.id AND a.event = 'accepted'
       WHERE s.id LIKE 'split-%' AND s.status = 'accepted' ORDER BY s.seq`,
    );
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 9 }, (_, i) => `split-${i}`));
    const seqs = rows.map((r) => Number(r.chain_seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    await pool.end();
  });
});
