/**
 * Fuzzing the pure cores behind every entry point (docs/FUZZING.md): what the track-signal and
 * signal-ops workers and `POST /v1/signals` decide with (checkSignal, validateOperation,
 * screenPayload), what a shard worker applies (checkShardJob, ShardRuntime.apply) and what
 * replay does with anything in its input files. Whatever comes in: no exception, every refusal
 * a documented code with a bounded message, no prototype polluted, and the valid signals beside
 * the bad ones end as they end alone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Tick } from '../../machines/types.ts';
import { isErrorCode, type TrackerError } from '../../src/errors.ts';
import { DEFAULT_GUARDS } from '../../src/live/createIntakeWorkers.ts';
import { checkShardJob, type ShardJobData } from '../../src/live/messages.ts';
import { ShardRuntime } from '../../src/live/ShardRuntime.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { checkSignal } from '../../src/validation/checkSignal.ts';
import { MAX_SCHEMA_PROBLEMS } from '../../src/validation/schemaErrors.ts';
import { screenPayload } from '../../src/validation/screenPayload.ts';
import { validateOperation } from '../../src/validation/validateOperation.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import {
  T0,
  badOpPayload,
  badShardJob,
  badSignalPayload,
  fuzzParams,
  prototypeSnapshot,
  validSignal,
} from '../support/fuzzInputs.ts';

/** The longest reason a rejection may carry: it is stored, logged and sent back. */
const MAX_REASON_CHARS = 2_000;
/** The most reasons one rejection may list (50 from the schema and a count, storage and time guards). */
const MAX_REASONS = MAX_SCHEMA_PROBLEMS + 1 + 11 + 1;

function expectClearReasons(errors: readonly TrackerError[], input: unknown): void {
  if (errors.length === 0) expect.fail(`no reason given for ${preview(input)}`);
  expect(errors.length, 'reasons listed').toBeLessThanOrEqual(MAX_REASONS);
  for (const e of errors) {
    expect(isErrorCode(e.code), `undocumented code ${String(e.code)}`).toBe(true);
    expect(typeof e.message).toBe('string');
    expect(e.message.length, `empty reason [${e.code}]`).toBeGreaterThan(0);
    expect(
      e.message.length,
      `reason of ${e.message.length} chars: ${e.message.slice(0, 200)}…`,
    ).toBeLessThanOrEqual(MAX_REASON_CHARS);
  }
}

function preview(x: unknown): string {
  let text: string;
  try {
    text = fc.stringify(x);
  } catch {
    text = '<too deep to print>';
  }
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

const prototypes = prototypeSnapshot();
function expectNoPollution(): void {
  expect(prototypeSnapshot()).toEqual(prototypes);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

describe('fuzz: track-signal payloads (checkSignal, as the intake worker and POST /v1/signals decide)', () => {
  it('refuses every bad payload with documented codes and bounded reasons, and never throws', () => {
    fc.assert(
      fc.property(badSignalPayload, (payload) => {
        const verdict = checkSignal(payload, DEFAULT_GUARDS, T0 + 60_000);
        if (verdict.ok) {
          // A spoil may land on an optional field with a value it takes: then it must be a signal.
          expect(validateSignal(verdict.signal).ok).toBe(true);
        } else {
          expectClearReasons(verdict.errors, payload);
          expect(verdict.id === null || typeof verdict.id === 'string').toBe(true);
        }
        expectNoPollution();
      }),
      fuzzParams(600),
    );
  });
});

describe('fuzz: signal-ops payloads (validateOperation and screenPayload, as the ops worker decides)', () => {
  it('refuses every bad operation with documented codes and bounded reasons, and never throws', () => {
    fc.assert(
      fc.property(badOpPayload, (payload) => {
        const verdict = validateOperation(payload);
        const screened = screenPayload(payload, DEFAULT_GUARDS);
        if (!verdict.ok) expectClearReasons(verdict.errors, payload);
        if (screened.length > 0) expectClearReasons(screened, payload);
        if (verdict.ok) expect(['exit', 'cancel', 'amend']).toContain(verdict.op.op);
        expectNoPollution();
      }),
      fuzzParams(600),
    );
  });
});

/** The valid signal every shard case holds, and the ticks that follow the junk. */
const held = (() => {
  const v = validateSignal(validSignal('held', 'FUZ', 'long', 100, T0));
  if (!v.ok) throw new Error('test bug: the held signal is invalid');
  return v.signal;
})();
const after: Tick[] = [
  { symbol: 'FUZ', ts: T0 + 10, price: 100 },
  { symbol: 'FUZ', ts: T0 + 11, price: 102.5 },
  { symbol: 'FUZ', ts: T0 + 12, price: 99 },
];
const expectedHeld = replaySync({ signals: [held], ticks: after }).lines[0];

describe('fuzz: shard jobs from a foreign producer (checkShardJob, then ShardRuntime.apply as the worker does)', () => {
  it('turns every bad job into a poison reason or a harmless apply, and the open signal beside it ends as replay ends it', () => {
    fc.assert(
      fc.property(badShardJob, fc.boolean(), (data, duplicateId) => {
        const fresh = (): ShardRuntime => {
          const rt = new ShardRuntime(100);
          rt.apply('1', { kind: 'register', signal: held }, new Map());
          return rt;
        };
        let rt = fresh();
        const checked = checkShardJob(data);
        if (!checked.ok) {
          expect(checked.reason.length).toBeGreaterThan(0);
          expect(checked.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
        } else {
          // A registration must be a signal validation accepts: the shard tracks nothing else.
          if (checked.data.kind === 'register') expect(validateSignal(checked.data.signal).ok).toBe(true);
          if (checked.data.kind === 'op') expect(validateOperation(checked.data.op).ok).toBe(true);
          // The worker looks the job's ids up first; a junk job may reuse the open signal's id.
          const job: ShardJobData =
            duplicateId && checked.data.kind === 'register'
              ? { kind: 'register', signal: { ...checked.data.signal, id: 'held' } }
              : checked.data;
          const ids = job.kind === 'register' ? [job.signal.id] : job.kind === 'forget' ? job.ids : [];
          const known = new Map(ids.filter((id) => id === 'held').map((id) => [id, 'open' as const]));
          try {
            rt.apply('2', job, known, T0 + 86_400_000);
          } catch {
            // The worker drops a runtime whose apply threw and reloads the last checkpoint.
            rt = fresh();
          }
        }
        if (checked.ok && checked.data.kind === 'op' && checked.data.op.id === 'held') return; // a real operation
        if (checked.ok && checked.data.kind === 'ticks') return; // real ticks move the signal on
        if (checked.ok && checked.data.kind === 'sweep') return; // a real sweep may expire it
        rt.apply('3', { kind: 'ticks', ticks: after.map((t) => [t.symbol, t.ts, t.price]) }, new Map());
        const open = [...rt.openSignals()].find((c) => c.id === 'held');
        const state = open?.phase ?? 'closed';
        if (state !== expectedHeld!.state)
          expect.fail(`held signal ${state}, replay says ${expectedHeld!.state}, after ${preview(data)}`);
        expectNoPollution();
      }),
      fuzzParams(600),
    );
  });
});

describe('fuzz: replay with bad signals and operations among good ones', () => {
  it('rejects each bad line with its reasons and gives the good signals the outcomes they get alone', () => {
    const good = [
      validSignal('good-long', 'FUZ', 'long', 100, T0),
      validSignal('good-short', 'FUZ', 'short', 100, T0 + 1),
    ];
    const ticks: Tick[] = [100, 101, 102.5, 104.5, 99, 96.5].map((price, i) => ({
      symbol: 'FUZ',
      ts: T0 + 10 + i,
      price,
    }));
    const alone = replaySync({ signals: good, ticks }).lines;
    fc.assert(
      fc.property(
        fc.array(badSignalPayload, { maxLength: 6 }),
        fc.array(badOpPayload, { maxLength: 6 }),
        fc.nat(),
        (bad, badOps, at) => {
          const k = at % (bad.length + 1);
          // The second good signal again, last: a duplicate id must not change the first's outcome.
          const signals = [...bad.slice(0, k), good[0], ...bad.slice(k), good[1], good[1]];
          const result = replaySync({ signals, ticks, ops: badOps });
          expect(result.lines).toHaveLength(signals.length);
          const byIndex = (i: number) => result.lines[i];
          expect(byIndex(k)).toEqual(alone[0]);
          expect(byIndex(signals.length - 2)).toEqual(alone[1]);
          expect(byIndex(signals.length - 1)!.state).toBe('rejected');
          for (const r of result.signalRejections) expectClearReasons(r.errors, signals[r.index]);
          for (const r of result.rejectedOps) expectClearReasons(r.errors, r.op);
          expectNoPollution();
        },
      ),
      fuzzParams(200),
    );
  });
});
