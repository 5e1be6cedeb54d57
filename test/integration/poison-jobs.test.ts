/**
 * Every job a producer can put on a public queue (docs/QUEUES.md) ends applied, rejected and
 * stored, or recorded as poison; none stops a shard. Shard queues take anything: data that is
 * `null`, a kind without its body, a kind that does not exist, text that is not JSON (Python's
 * `json.dumps` writes `NaN`), a custom job id that looks like a number. Each bad one must be
 * recorded with its reason and skipped, and the valid jobs behind it applied in order. On the
 * intake queues, data that is not JSON is bad input like any other: the job fails once and the
 * submission is stored as rejected.
 */
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.ts';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { toWire } from '../../src/live/messages.ts';
import { loadRecent } from '../../src/live/shardStore.ts';
import { SHARD_JOB_OPTIONS } from '../../src/live/shardQueues.ts';
import { replay } from '../../src/replay/replay.ts';
import { useLivePipeline, type PipelineClient } from '../support/livePipeline.ts';
import { addRawJob, rawJobRecord } from '../support/rawJob.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('poison');
const tracker = useResourceTracker();

const T = 1_700_000_000_000;
const SHARDS = 2;

const { start, stop } = useLivePipeline({ db, ns, tracker, shards: SHARDS });

/** What JSON.parse says about `raw`: the parser's complaint that the record must carry. */
function parseError(raw: string): string {
  try {
    JSON.parse(raw);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`test bug: ${raw} is valid JSON`);
}

/** Submits a long signal on XYZ (market entry, take-profit 110, stop 90) and waits until it is registered. */
async function submitTp110(live: PipelineClient, id: string): Promise<SignalPayload> {
  const signal: SignalPayload = {
    v: 1,
    id,
    symbol: 'xyz',
    side: 'long',
    createdAt: T,
    entry: { type: 'market' },
    takeProfits: [{ price: 110, fraction: 1 }],
    stopLoss: { price: 90 },
  };
  await live.submitSignals([signal]);
  await live.waitUntilDrained();
  return signal;
}

/** Jobs may ask for retries; bad input must not use them. */
const RETRYING = { attempts: 5, backoff: { type: 'fixed', delay: 10 } } as const;

describe('poison jobs on a live shard', () => {
  it('records each malformed shard job as poison with its reason, and applies every valid job around it in order', async () => {
    const live = await start();
    const signal = {
      v: 1,
      id: 'through-poison',
      symbol: 'xyz',
      side: 'long',
      createdAt: T,
      entry: { type: 'market' },
      takeProfits: [
        { price: 110, fraction: 0.5 },
        { price: 120, fraction: 0.5 },
      ],
      stopLoss: { price: 95 },
    };
    await live.submitSignals([signal]);
    await live.waitUntilDrained();
    const shard = shardOf('XYZ', SHARDS);
    const queue = live.shardQueue(shard);

    // One tick per batch, so that a skipped batch shows as a missing tick. Entry fills at 100,
    // TP1 (110) only in the last batch but one, the stop (95) never reached.
    const prices = [100, 99, 103, 98, 105, 97, 107, 96.5, 111, 112];
    const ticks: Tick[] = prices.map((price, i) => ({ symbol: 'XYZ', ts: T + 1 + i, price }));
    const batch = (i: number) => ({ kind: 'ticks', ticks: [toWire(ticks[i]!)] });
    const rawText = '{"kind": "ticks", "ticks": [["XYZ", NaN, 1]]}'; // as Python's json.dumps writes it

    await queue.pause();
    const valid: Job[] = [];
    const bad: { label: string; jobId: string; reason: string; code: ErrorCode; data: unknown }[] = [];
    const addBad = async (label: string, data: unknown, reason: string): Promise<void> => {
      const job = await queue.add('junk', data, SHARD_JOB_OPTIONS);
      bad.push({ label, jobId: job.id!, reason, code: 'SHARD_JOB_MALFORMED', data });
    };
    valid.push(await queue.add('ticks', batch(0), SHARD_JOB_OPTIONS));
    await addBad('null data', null, 'job data must be a JSON object with a "kind"');
    valid.push(await queue.add('ticks', batch(1), SHARD_JOB_OPTIONS));
    await addBad(
      'register without a signal',
      { kind: 'register' },
      'signal: must be an object (a normalized signal)',
    );
    valid.push(await queue.add('ticks', batch(2), SHARD_JOB_OPTIONS));
    await addBad(
      'a registration batch with a bad signal',
      { kind: 'register-batch', signals: [{ id: 'fine?' }, 7] },
      'signals[0].symbol: must be a non-empty string; signals[0].side: must be "long" or "short"; ' +
        'signals[0].createdAt: must be an integer; signals[0].entry: must be an object; ' +
        'signals[1]: must be an object (a normalized signal)',
    );
    await addBad('op without an operation', { kind: 'op' }, 'op: must be an object (an operation)');
    valid.push(await queue.add('ticks', batch(3), SHARD_JOB_OPTIONS));
    await addBad('an unknown kind', { kind: 'explode' }, 'unknown job kind "explode"');
    valid.push(await queue.add('ticks', batch(4), SHARD_JOB_OPTIONS));
    const rawId = await addRawJob(live.redis, queue, 'ticks', rawText, SHARD_JOB_OPTIONS);
    bad.push({
      label: 'data that is not JSON',
      jobId: rawId,
      reason: `job data is not valid JSON (${parseError(rawText)})`,
      code: 'PAYLOAD_NOT_JSON',
      data: { raw: rawText },
    });
    valid.push(await queue.add('ticks', batch(5), SHARD_JOB_OPTIONS));
    // A custom id that reads as a huge number: it must not count as "every job up to 1e20 applied".
    const numeric = await queue.add('ticks', batch(6), { ...SHARD_JOB_OPTIONS, jobId: '1e20' });
    expect(numeric.id).toBe('1e20');
    valid.push(numeric);
    const afterNumeric = [
      await queue.add('ticks', batch(7), SHARD_JOB_OPTIONS),
      await queue.add('ticks', batch(8), SHARD_JOB_OPTIONS),
      await queue.add('ticks', batch(9), SHARD_JOB_OPTIONS),
    ];
    valid.push(...afterNumeric);
    expect(await queue.getCompletedCount(), 'nothing applied while the queue was paused').toBe(1);
    await queue.resume();
    await live.waitUntilDrained();

    // No job failed: a failed shard job is lost ticks or registrations.
    expect(await queue.getJobCounts('failed', 'completed')).toEqual({
      failed: 0,
      completed: 1 + valid.length + bad.length, // and the registration
    });

    // Each bad job recorded as poison with its exact reason and data, nothing else.
    const entries = await live.poisonEntries();
    expect(entries.map((e) => e.jobId).sort(), 'poison entries are exactly the bad jobs').toEqual(
      bad.map((b) => b.jobId).sort(),
    );
    for (const b of bad) {
      const entry = entries.find((e) => e.jobId === b.jobId)!;
      expect(entry.shard, b.label).toBe(shard);
      expect(entry.record, `${b.label}: poison record`).toEqual({
        error: b.reason,
        code: b.code,
        data: b.data,
        at: expect.any(Number),
      });
      const record = await rawJobRecord(live.redis, queue, b.jobId);
      expect(record.state, `${b.label}: job state`).toBe('completed');
      expect(record.returnvalue, `${b.label}: job result`).toEqual({ poison: b.reason });
    }

    // Every valid job applied, none skipped as "already applied" (the ones after 1e20 least of all).
    for (const [i, job] of valid.entries()) {
      const done = (await queue.getJob(job.id!))!;
      expect(done.returnvalue, `tick batch ${i} (job ${job.id}) applied`).toMatchObject({
        poisonTicks: 0,
        lateTicks: 0,
        openSignals: 1,
      });
      expect(done.returnvalue, `tick batch ${i} (job ${job.id})`).not.toHaveProperty('skipped');
    }
    const keys = new ShardKeys(ns.prefix, shard);
    expect(await live.redis.get(keys.progress), 'progress marker: the last job').toBe(afterNumeric[2]!.id);
    // The shard's recent ticks are exactly the valid ticks, in order: none skipped, none twice.
    expect((await loadRecent(live.redis, keys, 'XYZ')).map(toWire), 'recent ticks of XYZ').toEqual(
      ticks.map(toWire),
    );

    const expected = await replay({ signals: [signal], ticks });
    expect(expected.lines[0], 'replay: TP1 filled in the last batch but one').toMatchObject({
      state: 'partial',
      legs: [{ reason: 'TP', level: 1 }],
      mae: -0.035,
    });
    expect(describeDifference(await live.collectOutcomes(['through-poison']), expected.lines)).toBeNull();
  });
});

describe('custom job ids on a shard queue', () => {
  it("takes no custom id made of digits for one of BullMQ's own: the jobs after a zero-padded or a 20-digit id are applied, also after a restart", async () => {
    const live = await start();
    const signal = await submitTp110(live, 'digit-ids');
    const shard = shardOf('XYZ', SHARDS);
    const queue = live.shardQueue(shard);
    const prices = [100, 99, 103, 98, 105, 97, 107, 96, 108, 95];
    const ticks: Tick[] = prices.map((price, i) => ({ symbol: 'XYZ', ts: T + 1 + i, price }));
    const batch = (i: number) => ({ kind: 'ticks', ticks: [toWire(ticks[i]!)] });

    // BullMQ refuses a custom id only when parseInt gives it back unchanged ("42"); these it takes.
    const zeroPadded = '0099';
    const twentyDigits = '12345678901234567891';
    for (const id of [zeroPadded, twentyDigits]) expect(String(parseInt(id, 10))).not.toBe(id);

    await queue.pause();
    const jobs: Job[] = [];
    const add = async (i: number, jobId?: string) => {
      const job = await queue.add('ticks', batch(i), { ...SHARD_JOB_OPTIONS, ...(jobId && { jobId }) });
      expect(job.id, `tick batch ${i}: job id`).toBe(jobId ?? job.id);
      jobs.push(job);
    };
    await add(0);
    await add(1, zeroPadded);
    await add(2);
    await add(3);
    await add(4, twentyDigits);
    await queue.resume();
    await live.waitUntilDrained();
    expect(await live.redis.get(new ShardKeys(ns.prefix, shard).progress), 'progress marker').toBe(
      twentyDigits,
    );

    // A worker that takes the shard over reads what was applied from Redis (as the checkpoint
    // recorded it), not from memory: the 20-digit id was the last one applied.
    await stop();
    const restarted = await start();
    const again = restarted.shardQueue(shard);
    for (const i of [5, 6, 7, 8, 9]) jobs.push(await again.add('ticks', batch(i), SHARD_JOB_OPTIONS));
    await restarted.waitUntilDrained();

    for (const [i, job] of jobs.entries()) {
      const done = (await again.getJob(job.id!))!;
      expect(done.returnvalue, `tick batch ${i} (job ${job.id}) applied, not skipped`).toMatchObject({
        poisonTicks: 0,
        lateTicks: 0,
        openSignals: 1,
      });
    }
    expect(await restarted.poisonEntries()).toEqual([]);
    expect(
      (await loadRecent(restarted.redis, new ShardKeys(ns.prefix, shard), 'XYZ')).map(toWire),
      'recent ticks of XYZ: every batch, in order',
    ).toEqual(ticks.map(toWire));
    const expected = await replay({ signals: [signal], ticks });
    expect(expected.lines[0], 'replay: still open, its extremes from every batch').toMatchObject({
      state: 'open',
      mfe: 0.08,
      mae: -0.05,
    });
    expect(describeDifference(await restarted.collectOutcomes(['digit-ids']), expected.lines)).toBeNull();
  });
});

describe('intake jobs whose data is not JSON', () => {
  it('fails a track-signal and a signal-ops job once, unrecoverably, and stores each as rejected', async () => {
    const live = await start();
    // What a Python producer sends with json.dumps(..., allow_nan=True), the default.
    const signalRaw =
      '{"v": 1, "id": "py-1", "symbol": "XYZ", "side": "long", "createdAt": 1700000000000, ' +
      '"entry": {"type": "market"}, "stopLoss": {"price": NaN}}';
    const opRaw = '{"op": "exit", "id": "py-1", "ts": NaN}';
    const signalReason = `payload: job data is not valid JSON (${parseError(signalRaw)})`;
    const opReason = `payload: job data is not valid JSON (${parseError(opRaw)})`;

    const signalJob = await addRawJob(live.redis, live.trackSignal, 'signal', signalRaw, RETRYING);
    const opJob = await addRawJob(live.redis, live.signalOps, 'op', opRaw, RETRYING);
    await live.waitUntilDrained();

    const signalRecord = await rawJobRecord(live.redis, live.trackSignal, signalJob);
    expect(signalRecord).toMatchObject({
      state: 'failed',
      attemptsMade: 1,
      failedReason: `rejected signal (no id): ${signalReason} [PAYLOAD_NOT_JSON]`,
    });
    expect(signalRecord.stacktrace[0], 'track-signal: error class').toMatch(/^UnrecoverableError: /);
    const opRecord = await rawJobRecord(live.redis, live.signalOps, opJob);
    expect(opRecord).toMatchObject({
      state: 'failed',
      attemptsMade: 1,
      failedReason: `rejected operation: ${opReason} [PAYLOAD_NOT_JSON]`,
    });
    expect(opRecord.stacktrace[0], 'signal-ops: error class').toMatch(/^UnrecoverableError: /);

    const { rows: signals } = await live.db.query(
      `SELECT id, status, payload, errors, job_id FROM signals WHERE status = 'rejected' OR id = 'py-1'`,
    );
    expect(signals, 'the raw submission: one signals row, rejected, with the raw text').toEqual([
      {
        id: null,
        status: 'rejected',
        payload: { raw: signalRaw },
        errors: [signalReason],
        job_id: signalJob,
      },
    ]);
    const { rows: audits } = await live.db.query(
      `SELECT event, signal_id, details FROM audit_logs WHERE event <> 'accepted' ORDER BY event`,
    );
    expect(audits, 'audit log: the rejected operation and the rejected signal').toEqual([
      {
        event: 'op_rejected',
        signal_id: null,
        details: { op: { raw: opRaw }, errors: [opReason], codes: ['PAYLOAD_NOT_JSON'], jobId: opJob },
      },
      {
        event: 'rejected',
        signal_id: null,
        details: { errors: [signalReason], codes: ['PAYLOAD_NOT_JSON'], jobId: signalJob },
      },
    ]);
  });
});

describe('shard jobs that broke the poison path (found by fuzzing, docs/FUZZING.md)', () => {
  it('records data nested 50,000 deep, or a registration with a NUL in its id, as poison and applies the jobs behind it (the first used to stop the shard, retried forever)', async () => {
    const live = await start();
    const signal = await submitTp110(live, 'behind-deep');
    const shard = shardOf('XYZ', SHARDS);
    const queue = live.shardQueue(shard);
    const ticks: Tick[] = [100, 104, 111].map((price, i) => ({ symbol: 'XYZ', ts: T + 1 + i, price }));
    await queue.pause();
    // Parsed by BullMQ's JSON.parse, but too deep for JSON.stringify when the poison is recorded.
    const deep = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);
    const deepId = await addRawJob(live.redis, queue, 'junk', deep, SHARD_JOB_OPTIONS);
    const nul = await queue.add(
      'register',
      { kind: 'register', signal: { ...signal, id: 'nul\u0000id', symbol: 'XYZ' } },
      SHARD_JOB_OPTIONS,
    );
    const after = await queue.add('ticks', { kind: 'ticks', ticks: ticks.map(toWire) }, SHARD_JOB_OPTIONS);
    await queue.resume();
    await live.waitUntilDrained({ timeoutMs: 20_000 });

    const entries = await live.poisonEntries();
    const deepEntry = entries.find((e) => e.jobId === deepId)?.record as { error: string; data: unknown };
    expect(deepEntry.error).toBe('unknown job kind undefined');
    expect(JSON.stringify(deepEntry.data)).toContain('nested more than 32 levels deep');
    const nulEntry = entries.find((e) => e.jobId === nul.id)?.record as { error: string };
    expect(nulEntry.error).toMatch(/^signal: id: contains a NUL character/);
    expect((await queue.getJob(after.id!))!.returnvalue).toMatchObject({ poisonTicks: 0, closed: 1 });
    const expected = await replay({ signals: [signal], ticks });
    expect(describeDifference(await live.collectOutcomes(['behind-deep']), expected.lines)).toBeNull();
  });
});

// Last in the file: its signal closes, and the audit rows the test above reads are all but accepted ones.
describe('a checkpoint record that no longer decodes', () => {
  it('stops its shard at the job that needs the signal, skips nothing, and goes on once the record is readable', async () => {
    const live = await start();
    const signal = await submitTp110(live, 'unreadable');
    const ticks: Tick[] = [100, 104, 111].map((price, i) => ({ symbol: 'XYZ', ts: T + 1 + i, price }));
    await live.publishTicks(ticks.slice(0, 2));
    await live.waitUntilDrained();
    await stop();

    // A take-over files the signal from the record's index entries without decoding the rest:
    // cut a field in the middle, and the load succeeds; the tick that reaches the signal cannot.
    const shard = shardOf('XYZ', SHARDS);
    const keys = new ShardKeys(ns.prefix, shard);
    const restarted = await start();
    const text = (await restarted.redis.hget(keys.bucketOf('unreadable'), 'unreadable'))!;
    expect(text.endsWith(']]'), 'the record carries its index entries').toBe(true);
    const progress = await restarted.redis.get(keys.progress);
    await restarted.redis.hset(
      keys.bucketOf('unreadable'),
      'unreadable',
      text.replace('"market",', '"market'),
    );
    await restarted.publishTicks(ticks.slice(2));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await restarted.poisonEntries(), 'nothing skipped as poison').toEqual([]);
    expect(await restarted.redis.get(keys.progress), 'the shard waits at the job').toBe(progress);
    expect(await restarted.failedShardJobs()).toEqual([]);

    await restarted.redis.hset(keys.bucketOf('unreadable'), 'unreadable', text);
    await restarted.waitUntilDrained({ timeoutMs: 30_000 });
    expect(await restarted.poisonEntries()).toEqual([]);
    const expected = await replay({ signals: [signal], ticks });
    expect(expected.lines[0], 'replay: the last tick takes profit').toMatchObject({ outcome: 'TP_HIT' });
    expect(describeDifference(await restarted.collectOutcomes(['unreadable']), expected.lines)).toBeNull();
  });
});
