/**
 * DESIGN.md decision 8 and SPEC.md "Validation" through the real queues: a bad `track-signal`
 * payload fails its job once (UnrecoverableError, never retried, whatever `attempts` the
 * producer asked for) with every problem named, stays inspectable in BullMQ, and is stored in
 * PostgreSQL (`signals` as rejected, `audit_logs` 'rejected'). A bad `signal-ops` operation is
 * stored as 'op_rejected' with its reasons: the intake fails the job when it can tell by itself
 * (shape, unknown signal); what only the signal's state can decide (an amend that breaks the
 * level order, an operation on a closed signal or before the signal existed) is decided on the
 * shard, in order with the ticks, and reaches the audit log through the outbox and the flusher.
 * Nothing is silently dropped.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { signalUnknown } from '../../machines/operations.ts';
import { codesOf, messagesOf, type TrackerError } from '../../src/errors.ts';
import { shardOf } from '../../src/names.ts';
import { replay } from '../../src/replay/replay.ts';
import { validateOperation } from '../../src/validation/validateOperation.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('bad');
const tracker = useResourceTracker();

const T = 1_700_000_000_000;

/** A valid long limit signal; cases spoil one thing or several. */
function good(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    id: 'good-1',
    symbol: 'abc',
    side: 'long',
    createdAt: T,
    entry: { type: 'limit', price: 100 },
    takeProfits: [
      { price: 110, fraction: 0.5 },
      { price: 120, fraction: 0.5 },
    ],
    stopLoss: { price: 95 },
    trailing: { distanceBps: 50, activation: { afterTp: 1 } },
    ...overrides,
  };
}

function without(p: Record<string, unknown>, ...fields: string[]): Record<string, unknown> {
  const out = { ...p };
  for (const f of fields) delete out[f];
  return out;
}

interface BadSignal {
  name: string;
  payload: unknown;
  /** Fields the failure must name (each as `field:` in the reason). */
  fields: string[];
}

const BAD_SIGNALS: BadSignal[] = [
  { name: 'a string', payload: 'track this', fields: ['payload'] },
  { name: 'an array', payload: [good()], fields: ['payload'] },
  { name: 'a number', payload: 42, fields: ['payload'] },
  { name: 'null', payload: null, fields: ['payload'] },
  {
    name: 'no required field',
    payload: { strategy: 'x' },
    fields: ['v', 'id', 'symbol', 'side', 'createdAt', 'entry'],
  },
  {
    name: 'null values (null is a value, not an absence)',
    payload: good({ id: 'nulls', side: null, stopLoss: null, takeProfits: null, confidence: null }),
    fields: ['side', 'stopLoss', 'takeProfits', 'confidence'],
  },
  {
    name: 'null inside nested objects',
    payload: good({ id: 'nested-nulls', entry: { type: 'limit', price: null }, stopLoss: { price: null } }),
    fields: ['entry.price', 'stopLoss.price'],
  },
  {
    name: 'unknown fields at every level',
    payload: without(
      good({
        id: 'unknown-fields',
        stopLos: { price: 95 },
        entry: { type: 'limit', price: 100, prize: 1 },
        takeProfits: [
          { price: 110, fraction: 0.5, size: 3 },
          { price: 120, fraction: 0.5 },
        ],
        trailing: { distanceBps: 50, activation: { afterTp: 1, x: 1 }, step: 2 },
      }),
      'stopLoss',
    ),
    fields: ['stopLos', 'entry.prize', 'takeProfits[0].size', 'trailing.step', 'trailing.activation'],
  },
  {
    name: 'wrong types',
    payload: good({
      id: 'types',
      createdAt: '1700000000000',
      side: 1,
      entry: { type: 'limit', price: '100' },
      confidence: 'high',
      meta: 'notes',
    }),
    fields: ['createdAt', 'side', 'entry.price', 'confidence', 'meta'],
  },
  {
    name: 'non-finite numbers as JSON can carry them (strings)',
    payload: good({
      id: 'non-finite',
      stopLoss: { price: 'NaN' },
      takeProfits: [{ price: 'Infinity', fraction: 1 }],
      feeBps: '-Infinity',
    }),
    fields: ['stopLoss.price', 'takeProfits[0].price', 'feeBps'],
  },
  {
    name: 'bad level order for a long',
    payload: good({
      id: 'order-long',
      stopLoss: { price: 105 },
      takeProfits: [
        { price: 99, fraction: 0.5 },
        { price: 98, fraction: 0.5 },
      ],
    }),
    fields: ['stopLoss.price', 'takeProfits[0].price', 'takeProfits[1].price'],
  },
  {
    name: 'bad level order for a short',
    payload: good({ id: 'order-short', side: 'short' }),
    fields: ['stopLoss.price', 'takeProfits[0].price', 'takeProfits[1].price'],
  },
  {
    name: 'fractions above 1, and summing above 1',
    payload: good({
      id: 'fractions',
      takeProfits: [
        { price: 110, fraction: 1.5 },
        { price: 120, fraction: 0.6 },
      ],
    }),
    fields: ['takeProfits[0].fraction', 'takeProfits'],
  },
  { name: 'an id too long', payload: good({ id: 'x'.repeat(129) }), fields: ['id'] },
  { name: 'version 2', payload: good({ id: 'v2', v: 2 }), fields: ['v'] },
  {
    name: 'times that are not integers, ranges broken',
    payload: good({ id: 'times', createdAt: 1.5, timeLimitMs: 0, toleranceBps: 1000, breakevenAfterTp: 3 }),
    fields: ['createdAt', 'timeLimitMs', 'toleranceBps', 'breakevenAfterTp'],
  },
];

const { start } = useLivePipeline({ db, ns, tracker, shards: 2 });

/** Jobs may ask for retries; a rejection must not use them. */
const RETRYING = { attempts: 5, backoff: { type: 'fixed', delay: 10 } } as const;

/** A failed job, as BullMQ keeps it for inspection, with what a rejection must look like. */
async function expectRejectedOnce(job: Job, errors: TrackerError[], label: string): Promise<void> {
  expect(await job.getState(), label).toBe('failed');
  expect(job.attemptsMade, `${label}: attempts made`).toBe(1);
  expect(job.stacktrace?.[0], `${label}: error class`).toMatch(/^UnrecoverableError: /);
  for (const e of errors) {
    const named = `${e.message} [${e.code}]`;
    expect(job.failedReason, `${label}: reason names "${named}"`).toContain(named);
  }
}

/** An audit row's reasons as `{ code, message }`, pairing `details.errors` with `details.codes`. */
function auditReasons(details: { errors: string[]; codes?: string[] }): { code?: string; message: string }[] {
  return details.errors.map((message, k) => ({ code: details.codes?.[k], message }));
}

describe('bad payloads through the real queues', () => {
  it('fails each bad track-signal job once, naming every problem, and stores it as rejected', async () => {
    const live = await start();
    const valid = good();
    const submitted = await live.submitSignals([...BAD_SIGNALS.map((c) => c.payload), valid], RETRYING);
    await live.waitUntilDrained();

    const failed = await live.trackSignal.getFailed();
    expect(failed.map((j) => j.id).sort()).toEqual(
      submitted
        .slice(0, BAD_SIGNALS.length)
        .map((j) => j.id)
        .sort(),
    );
    const { rows: stored } = await live.db.query<{
      job_id: string;
      id: string | null;
      payload: unknown;
      errors: string[];
    }>(`SELECT job_id, id, payload, errors FROM signals WHERE status = 'rejected'`);
    const { rows: audits } = await live.db.query<{
      signal_id: string | null;
      details: { jobId: string; errors: string[]; codes: string[] };
    }>(`SELECT signal_id, details FROM audit_logs WHERE event = 'rejected'`);
    expect(stored).toHaveLength(BAD_SIGNALS.length);
    expect(audits).toHaveLength(BAD_SIGNALS.length);

    for (const [i, c] of BAD_SIGNALS.entries()) {
      const job = (await live.trackSignal.getJob(submitted[i]!.id!))!;
      const checked = validateSignal(c.payload);
      if (checked.ok) throw new Error(`test bug: case "${c.name}" is valid`);
      // Not vacuous: each case's own problems are among the errors.
      const messages = messagesOf(checked.errors);
      for (const field of c.fields)
        expect(
          messages.some((e) => e.startsWith(`${field}:`)),
          `${c.name}: an error names ${field}: ${messages.join('; ')}`,
        ).toBe(true);
      await expectRejectedOnce(job, checked.errors, c.name);

      const row = stored.find((r) => r.job_id === job.id);
      expect(row, `${c.name}: stored in signals`).toBeDefined();
      expect(row!.errors, c.name).toEqual(messages);
      expect(row!.payload, c.name).toEqual(c.payload);
      expect(row!.id, c.name).toBe(checked.id);
      const audit = audits.find((a) => a.details.jobId === job.id);
      expect(audit?.details.errors, `${c.name}: audit row`).toEqual(messages);
      expect(audit?.details.codes, `${c.name}: audit row codes`).toEqual(codesOf(checked.errors));
    }

    // Replay rejects the same payloads with the same codes and words.
    const replayed = await replay({ signals: BAD_SIGNALS.map((c) => c.payload), ticks: [] });
    expect(replayed.signalRejections.map((r) => r.index)).toEqual(BAD_SIGNALS.map((_, i) => i));
    for (const r of replayed.signalRejections) {
      const job = submitted[r.index]!;
      const audit = audits.find((a) => a.details.jobId === job.id)!;
      expect(auditReasons(audit.details), `${BAD_SIGNALS[r.index]!.name}: live equals replay`).toEqual(
        r.errors,
      );
    }

    // The valid signal beside them went through.
    expect(await submitted[BAD_SIGNALS.length]!.getState()).toBe('completed');
    const { rows: accepted } = await live.db.query(`SELECT id FROM signals WHERE status = 'accepted'`);
    expect(accepted).toEqual([{ id: 'good-1' }]);
  });

  it('stores every bad signal-ops operation with its reasons; fails the job once when the intake can tell', async () => {
    const live = await start();
    const signals: SignalPayload[] = [
      good({ id: 'target' }) as unknown as SignalPayload,
      good({ id: 'to-close' }) as unknown as SignalPayload,
    ];
    await live.submitSignals(signals);
    await live.waitUntilDrained();

    // Rejected by the intake on its own: shape, unknown signal.
    const atIntake: unknown[] = [
      'exit everything',
      [{ op: 'exit', id: 'target', ts: T + 1 }],
      { op: 'exit', id: 'nobody', ts: T + 1 },
      { op: 'exit', id: 'target', ts: T + 1, reason: 'manual' },
      { op: 'cancel', id: 'target', ts: T + 1, price: 100 },
      { op: 'amend', id: 'target', ts: T + 1, stopLoss: { price: 94, prize: 1 } },
      { op: 'amend', id: 'target', ts: T + 1, takeProfits: [{ level: 1, price: 111, fraction: 0.5 }] },
      { op: 'close', id: 'target', ts: T + 1 },
      { op: 'exit', id: 'target', ts: '1700000000001', price: 'NaN' },
      { op: 'amend' },
    ];
    const intakeJobs = await live.submitOps(atIntake, RETRYING);
    await live.waitUntilDrained();

    // Decided on the shard, in order: break the level order of a pending long (a stop above
    // its entry), act before the signal existed, close one and then act on it.
    const atShard = [
      { op: 'amend', id: 'target', ts: T + 2, stopLoss: { price: 101 } },
      { op: 'amend', id: 'target', ts: T + 2, takeProfits: [{ level: 2, price: 105 }] },
      { op: 'exit', id: 'target', ts: T - 1 },
      { op: 'cancel', id: 'to-close', ts: T + 3 },
      { op: 'exit', id: 'to-close', ts: T + 4 },
      { op: 'amend', id: 'to-close', ts: T + 5, stopLoss: { price: 96 } },
    ];
    const shardJobs = await live.submitOps(atShard, RETRYING);
    await live.waitUntilDrained();

    const { rows: audits } = await live.db.query<{
      signal_id: string | null;
      details: { op: unknown; errors: string[]; codes: string[]; jobId?: string };
    }>(`SELECT signal_id, details FROM audit_logs WHERE event = 'op_rejected' ORDER BY id`);

    for (const [i, op] of atIntake.entries()) {
      const job = (await live.signalOps.getJob(intakeJobs[i]!.id!))!;
      const checked = validateOperation(op);
      const errors = checked.ok ? [signalUnknown(checked.op.id)] : checked.errors;
      await expectRejectedOnce(job, errors, JSON.stringify(op));
      const audit = audits.find((a) => a.details.jobId === job.id);
      expect(audit, `${JSON.stringify(op)}: audit row`).toBeDefined();
      expect(auditReasons(audit!.details)).toEqual(errors);
      expect(audit!.details.op).toEqual(op);
    }

    // The shard's verdicts: the operation jobs themselves completed (the intake forwarded them;
    // it cannot know), and each rejection is in the audit log with its reasons.
    const expectedReasons: ([RegExp, string] | null)[] = [
      [/stopLoss: 101 must be below the entry price 100/, 'LEVEL_ORDER'],
      [/takeProfits\[0\]\.price: 105 must be above TP 1 110/, 'LEVEL_ORDER'],
      [/before the signal's createdAt/, 'OP_BEFORE_CREATED'],
      null,
      [/already closed/, 'SIGNAL_CLOSED'],
      [/already closed/, 'SIGNAL_CLOSED'],
    ];
    for (const [i, op] of atShard.entries()) {
      expect(await shardJobs[i]!.getState(), JSON.stringify(op)).toBe('completed');
      const expected = expectedReasons[i]!;
      const audit = audits.filter((a) => isDeepStrictEqual(a.details.op, op));
      if (expected === null) {
        expect(audit, `${JSON.stringify(op)} applies`).toEqual([]);
        continue;
      }
      expect(audit, `${JSON.stringify(op)}: one op_rejected row`).toHaveLength(1);
      expect(audit[0]!.signal_id).toBe(op.id);
      expect(audit[0]!.details.errors.join('; ')).toMatch(expected[0]);
      expect(audit[0]!.details.codes).toEqual([expected[1]]);
    }
    expect(audits).toHaveLength(atIntake.length + atShard.length - 1);

    // Replay rejects the same operations with the same codes and words, whether the live
    // system rejected them at its intake or on the shard.
    const replayed = await replay({ signals, ticks: [], ops: [...atIntake, ...atShard] });
    expect(replayed.rejectedOps).toHaveLength(audits.length);
    for (const r of replayed.rejectedOps) {
      const live = audits.filter((a) => isDeepStrictEqual(a.details.op, r.op));
      expect(live, `${JSON.stringify(r.op)}: one live rejection`).toHaveLength(1);
      expect(auditReasons(live[0]!.details), `${JSON.stringify(r.op)}: live equals replay`).toEqual(r.errors);
    }

    // The rejected amends changed nothing; the cancel applied.
    const [target, closed] = (await live.collectOutcomes(['target', 'to-close'])) as Record<
      string,
      unknown
    >[];
    expect(target).toEqual({ id: 'target', state: 'pending', legs: [] });
    expect(closed).toMatchObject({ id: 'to-close', state: 'closed', outcome: 'CANCELLED', closedAt: T + 3 });
    const { rows: cancelled } = await live.db.query(
      `SELECT signal_id FROM audit_logs WHERE event = 'cancelled'`,
    );
    expect(cancelled).toEqual([{ signal_id: 'to-close' }]);
  });

  it('keeps the job id and every reason of an operation too large to store whole (found by fuzzing: the record was cut to its first 4 KiB)', async () => {
    const live = await start();
    const op = {
      op: 'amend',
      id: 'huge',
      ts: T + 1,
      takeProfits: Array.from({ length: 20_000 }, () => ({ price: 1, fraction: 0 })),
    };
    const [job] = await live.submitOps([op], RETRYING);
    await live.waitUntilDrained();
    const { rows } = await live.db.query<{
      details: { op: unknown; errors: string[]; codes: string[]; jobId: string };
    }>(
      `SELECT details FROM audit_logs WHERE event = 'op_rejected' AND signal_id = 'huge' AND details->>'jobId' = $1`,
      [job!.id],
    );
    expect(rows, 'one op_rejected row naming the job').toHaveLength(1);
    const { details } = rows[0]!;
    expect(details.codes).toContain('PAYLOAD_TOO_LARGE');
    expect(details.errors.length).toBe(details.codes.length);
    expect(details.op).toMatchObject({ truncated: true, bytes: expect.any(Number) });
  });

  it('never applies malformed ticks from a feed, and reports how many it skipped', async () => {
    const live = await start();
    const signal = good({ id: 'fed', symbol: 'XYZ', entry: { type: 'market' } });
    await live.submitSignals([signal]);
    await live.waitUntilDrained();
    const fine: Tick[] = [
      { symbol: 'XYZ', ts: T + 1, price: 100 },
      { symbol: 'XYZ', ts: T + 6, price: 101 },
    ];
    // What a buggy feed may send: each would hit the stop (95) if it were applied.
    const malformed = [
      { symbol: 'XYZ', ts: T + 2, price: Number.NaN },
      { symbol: 'XYZ', ts: T + 3, price: 0 },
      { symbol: 'XYZ', ts: T + 4.5, price: 94 },
      { symbol: 'XYZ', ts: T + 5, price: 94, bid: -1, ask: 94.1 },
    ] as Tick[];
    await live.publishTicks([fine[0]!, ...malformed, fine[1]!]);
    await live.waitUntilDrained();

    const expected = await replay({ signals: [signal], ticks: fine });
    expect(describeDifference(await live.collectOutcomes(['fed']), expected.lines)).toBeNull();
    const [job] = (await live.shardQueue(shardOf('XYZ', 2)).getCompleted()).filter((j) => j.name === 'ticks');
    // Counted (ShardRuntime's delta.poisonTicks), but the count must reach someone: the job's
    // result, next to lateTicks, is where Bull Board shows it.
    expect(job!.returnvalue, 'the tick job reports the malformed ticks it skipped').toMatchObject({
      poisonTicks: malformed.length,
    });
  });

  it('records a shard job it cannot apply as poison, skips it, and goes on with the next', async () => {
    const live = await start();
    const signal = good({ id: 'after-poison', symbol: 'XYZ', entry: { type: 'market' } });
    await live.submitSignals([signal]);
    await live.waitUntilDrained();
    const shard = shardOf('XYZ', 2);
    const poison = await live.shardQueue(shard).add('ticks', { kind: 'ticks', ticks: 42 });
    const ticks: Tick[] = [
      { symbol: 'XYZ', ts: T + 1, price: 100 },
      { symbol: 'XYZ', ts: T + 2, price: 111 },
    ];
    await live.publishTicks(ticks);
    await live.waitUntilDrained();

    expect(await live.failedShardJobs()).toEqual([]);
    const entries = await live.poisonEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      shard,
      jobId: poison.id,
      record: { data: { kind: 'ticks', ticks: 42 } },
    });
    expect(entries[0]!.record).toMatchObject({
      error: 'ticks: must be an array',
      code: 'SHARD_JOB_MALFORMED',
    });
    // The ticks behind it were applied: TP1 (110) filled, TP2 (120) not yet.
    const expected = await replay({ signals: [signal], ticks });
    expect(describeDifference(await live.collectOutcomes(['after-poison']), expected.lines)).toBeNull();
    expect(expected.lines[0]).toMatchObject({ state: 'partial' });
  });
});
