/**
 * Every submission ends tracked, or stored as rejected with its reasons: none is lost to an
 * error PostgreSQL raises while storing it (a NUL character, an unpaired surrogate, nesting
 * that overflows a stack, an id no index can hold), and none is tracked with a time that means
 * something else (seconds for milliseconds, a date past the year 275760) or a payload over
 * MAX_PAYLOAD_BYTES. Through the real `track-signal` and `signal-ops` queues: each such job
 * fails once, naming the problem, and leaves exactly one row behind.
 */
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import { addRawJob, rawJobRecord } from '../support/rawJob.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('stored');
const tracker = useResourceTracker();

const T = 1_700_000_000_000;
const SHARDS = 2;
const NUL = '\u0000';
const LONE_SURROGATE = '\ud800';
const NUL_PROBLEM = 'contains a NUL character (U+0000), which PostgreSQL cannot store';
const SURROGATE_PROBLEM = 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
/** Longest id a rejection may be stored under: 200 characters and a note of the length. */
const STORED_ID_MAX = 250;

const { start } = useLivePipeline({ db, ns, tracker, shards: SHARDS, flusher: false });

/** A valid pending signal; cases spoil one thing. */
function good(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    id: 'good-1',
    symbol: 'ABC',
    side: 'long',
    createdAt: T,
    entry: { type: 'limit', price: 100 },
    takeProfits: [{ price: 110, fraction: 1 }],
    stopLoss: { price: 95 },
    ...overrides,
  };
}

const bytes = (payload: unknown): number => Buffer.byteLength(JSON.stringify(payload));

interface Case {
  name: string;
  /** The payload, or (when JSON.stringify cannot write it) its JSON text. */
  payload?: Record<string, unknown>;
  raw?: string;
  /** The id the failure names (when it is short enough to be named whole). */
  failedId?: string;
  /** The id stored with the rejection. */
  storedId: string;
  /** The reasons, exactly: each names its field. */
  errors: string[];
  /** Their codes (docs/ERRORS.md), one per reason. */
  codes: ErrorCode[];
}

const MB_ID = 'x'.repeat(1_000_000);
const DEEP = 100_000;
/** `good()` with `meta` nested DEEP levels, as JSON text: built flat, never recursed into. */
const DEEP_RAW = JSON.stringify(good({ id: 'deep-meta', meta: '@' })).replace(
  '"@"',
  `${'{"a":'.repeat(DEEP - 1)}{}${'}'.repeat(DEEP - 1)}`,
);
const bigMeta = good({ id: 'big', meta: { blob: 'x'.repeat(70_000) } });

const CASES: Case[] = [
  {
    name: 'NUL in id',
    codes: ['PAYLOAD_UNSTORABLE'],
    payload: good({ id: `nul${NUL}id` }),
    failedId: `nul${NUL}id`,
    storedId: 'nul\\u0000id',
    errors: [`id: ${NUL_PROBLEM}`],
  },
  {
    name: 'NUL in symbol',
    codes: ['PAYLOAD_UNSTORABLE'],
    payload: good({ id: 'nul-symbol', symbol: `AB${NUL}C` }),
    failedId: 'nul-symbol',
    storedId: 'nul-symbol',
    errors: [`symbol: ${NUL_PROBLEM}`],
  },
  {
    name: 'NUL in meta',
    codes: ['PAYLOAD_UNSTORABLE'],
    payload: good({ id: 'nul-meta', meta: { note: `a${NUL}b` } }),
    failedId: 'nul-meta',
    storedId: 'nul-meta',
    errors: [`meta.note: ${NUL_PROBLEM}`],
  },
  {
    name: 'a lone surrogate in meta',
    codes: ['PAYLOAD_UNSTORABLE'],
    payload: good({ id: 'surrogate-meta', meta: { note: `x${LONE_SURROGATE}` } }),
    failedId: 'surrogate-meta',
    storedId: 'surrogate-meta',
    errors: [`meta.note: ${SURROGATE_PROBLEM}`],
  },
  {
    name: 'a lone surrogate in symbol',
    codes: ['PAYLOAD_UNSTORABLE'],
    payload: good({ id: 'surrogate-symbol', symbol: `AB${LONE_SURROGATE}` }),
    failedId: 'surrogate-symbol',
    storedId: 'surrogate-symbol',
    errors: [`symbol: ${SURROGATE_PROBLEM}`],
  },
  {
    name: `meta nested ${DEEP} deep`,
    codes: ['PAYLOAD_UNSTORABLE'],
    raw: DEEP_RAW,
    failedId: 'deep-meta',
    storedId: 'deep-meta',
    errors: [`meta${'.a'.repeat(31)}: nested more than 32 levels deep`],
  },
  {
    name: 'a 1 MB id',
    codes: ['PAYLOAD_SCHEMA', 'PAYLOAD_TOO_LARGE'],
    payload: good({ id: MB_ID }),
    storedId: `${'x'.repeat(200)}… (1000000 characters)`,
    errors: [
      'id: must have at most 128 characters',
      `payload: ${bytes(good({ id: MB_ID }))} bytes, over the limit of 65536 (MAX_PAYLOAD_BYTES)`,
    ],
  },
  {
    name: 'createdAt in seconds',
    codes: ['TIME_BEFORE_MIN_EPOCH'],
    payload: good({ id: 'seconds', createdAt: 1_723_161_301 }),
    failedId: 'seconds',
    storedId: 'seconds',
    errors: [
      'createdAt: 1723161301 is before 2000-01-01T00:00:00.000Z (MIN_EPOCH_MS): ' +
        'it looks like seconds; times are epoch milliseconds',
    ],
  },
  {
    name: 'createdAt 1e17',
    codes: ['PAYLOAD_SCHEMA'],
    payload: good({ id: 'far-future', createdAt: 1e17 }),
    failedId: 'far-future',
    storedId: 'far-future',
    // Past the largest date JavaScript can hold (SPEC.md: times are at most 8.64e15 ms).
    errors: ['createdAt: must be at most 8640000000000000'],
  },
  {
    name: 'createdAt in 2100',
    codes: ['TIME_AHEAD_OF_CLOCK'],
    payload: good({ id: 'next-century', createdAt: 4_102_444_800_000 }),
    failedId: 'next-century',
    storedId: 'next-century',
    errors: [
      'createdAt: 4102444800000 (2100-01-01T00:00:00.000Z) is more than 300000 ms ahead of the ' +
        'clock (MAX_CLOCK_SKEW_MS)',
    ],
  },
  {
    name: 'a payload over 64 KiB',
    codes: ['PAYLOAD_TOO_LARGE'],
    payload: bigMeta,
    failedId: 'big',
    storedId: 'big',
    errors: [`payload: ${bytes(bigMeta)} bytes, over the limit of 65536 (MAX_PAYLOAD_BYTES)`],
  },
];

/** Jobs may ask for retries; a rejection must not use them. */
const RETRYING = { attempts: 5, backoff: { type: 'fixed', delay: 10 } } as const;

describe('every submission ends tracked or stored as rejected with its reasons', () => {
  it('fails each unstorable or mistimed signal once, stores it once as rejected under a bounded id, and tracks the valid one beside them', async () => {
    // The test's premise: BullMQ cannot write the deep payload itself, a non-JavaScript producer can.
    expect(() => JSON.stringify(JSON.parse(DEEP_RAW))).toThrow(RangeError);
    const live = await start();

    await live.trackSignal.pause();
    const jobIds: string[] = [];
    for (const c of CASES) {
      jobIds.push(
        c.raw !== undefined
          ? await addRawJob(live.redis, live.trackSignal, 'signal', c.raw, RETRYING)
          : (await live.trackSignal.add('signal', c.payload, RETRYING)).id!,
      );
    }
    const valid = await live.trackSignal.add('signal', good({ id: 'valid-1' }), RETRYING);
    await live.trackSignal.resume();
    await live.waitUntilDrained();

    const { rows } = await live.db.query<{
      id: string | null;
      status: string;
      errors: string[] | null;
      job_id: string;
    }>(`SELECT id, status, errors, job_id FROM signals`);
    const { rows: audits } = await live.db.query<{ signal_id: string | null; details: { jobId: string } }>(
      `SELECT signal_id, details FROM audit_logs WHERE event = 'rejected'`,
    );
    for (const [i, c] of CASES.entries()) {
      const jobId = jobIds[i]!;
      const job = await rawJobRecord(live.redis, live.trackSignal, jobId);
      expect(job.state, `${c.name}: job state`).toBe('failed');
      expect(job.attemptsMade, `${c.name}: attempts (never retried)`).toBe(1);
      expect(job.stacktrace[0], `${c.name}: error class`).toMatch(/^UnrecoverableError: /);
      const reasons = c.errors.map((m, k) => `${m} [${c.codes[k]}]`).join('; ');
      if (c.failedId !== undefined) {
        expect(job.failedReason, `${c.name}: failed reason`).toBe(
          `rejected signal ${c.failedId}: ${reasons}`,
        );
      } else {
        // A long id is echoed cut short, never whole.
        expect(job.failedReason, `${c.name}: failed reason`).toMatch(/^rejected signal x+…/);
        expect(
          job.failedReason!.endsWith(`: ${reasons}`),
          `${c.name}: failed reason ends with the reasons`,
        ).toBe(true);
        expect(job.failedReason!.length, `${c.name}: failed reason length`).toBeLessThanOrEqual(
          `rejected signal : ${reasons}`.length + STORED_ID_MAX,
        );
      }

      const stored = rows.filter((r) => r.job_id === jobId);
      expect(stored, `${c.name}: exactly one signals row`).toEqual([
        { id: c.storedId, status: 'rejected', errors: c.errors, job_id: jobId },
      ]);
      expect(stored[0]!.id!.length, `${c.name}: stored id length`).toBeLessThanOrEqual(STORED_ID_MAX);
      expect(
        audits.filter((a) => a.details.jobId === jobId).map((a) => a.signal_id),
        `${c.name}: one 'rejected' audit row under the stored id`,
      ).toEqual([c.storedId]);
    }
    expect(rows, 'signals rows: one per case and the valid one').toHaveLength(CASES.length + 1);

    // The valid signal beside them: accepted, registered on its shard, tracked.
    expect(await valid.getState(), 'valid signal job').toBe('completed');
    expect(
      rows.filter((r) => r.job_id === valid.id),
      'valid signal row',
    ).toEqual([{ id: 'valid-1', status: 'accepted', errors: null, job_id: valid.id }]);
    const keys = new ShardKeys(ns.prefix, shardOf('ABC', SHARDS));
    expect(await live.redis.hget(keys.ids, 'valid-1'), 'valid signal in its shard ledger').toBe('open');
    expect(await live.collectOutcomes(['valid-1'])).toEqual([{ id: 'valid-1', state: 'pending', legs: [] }]);
    // None of the rejected ones reached a shard.
    for (let n = 0; n < SHARDS; n++)
      expect(await live.redis.hkeys(new ShardKeys(ns.prefix, n).ids), `shard ${n} ledger`).toEqual(
        n === keys.shard ? ['valid-1'] : [],
      );
  });

  it('rejects an operation whose ts is in seconds, stores it, and leaves its signal as it was', async () => {
    const live = await start();
    await live.submitSignals([good({ id: 'op-target' })]);
    await live.waitUntilDrained();

    const op = { op: 'exit', id: 'op-target', ts: 1_723_161_301 };
    const reason =
      'ts: 1723161301 is before 2000-01-01T00:00:00.000Z (MIN_EPOCH_MS): ' +
      'it looks like seconds; times are epoch milliseconds';
    const [job] = await live.submitOps([op], RETRYING);
    await live.waitUntilDrained();

    const done = (await live.signalOps.getJob(job!.id!))!;
    expect(await done.getState(), 'operation job state').toBe('failed');
    expect(done.attemptsMade, 'attempts (never retried)').toBe(1);
    expect(done.stacktrace?.[0], 'error class').toMatch(/^UnrecoverableError: /);
    expect(done.failedReason).toBe(`rejected operation: ${reason} [TIME_BEFORE_MIN_EPOCH]`);
    const { rows } = await live.db.query(
      `SELECT signal_id, details FROM audit_logs WHERE event = 'op_rejected' AND details->>'jobId' = $1`,
      [job!.id],
    );
    expect(rows, 'one op_rejected row').toEqual([
      {
        signal_id: 'op-target',
        details: { op, errors: [reason], codes: ['TIME_BEFORE_MIN_EPOCH'], jobId: job!.id },
      },
    ]);
    expect(await live.collectOutcomes(['op-target']), 'the exit was not applied').toEqual([
      { id: 'op-target', state: 'pending', legs: [] },
    ]);
  });
});
