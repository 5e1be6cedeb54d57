/**
 * One or more tests per rule of docs/SPEC.md, long and short, with outcomes computed by
 * hand and written as literals. Prices are chosen so every booked price is exact in binary
 * floating point (levels, tick prices, dyadic trailing/offset factors); returns and excursions
 * are compared within 1e-9 relative, everything else exactly, including key order.
 */
import { describe, expect, it } from 'vitest';
import type { Leg, Operation, OutcomeLine, SignalPayload, Tick } from '../../machines/types.ts';
import { evaluate } from '../support/evaluate.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures

const SYMBOL = 'BTC';
const ID = 'sig-1';

/** A long market signal created at ts 1000 on BTC, overridable field by field. */
function signal(fields: Partial<SignalPayload> = {}): SignalPayload {
  return {
    v: 1,
    id: ID,
    symbol: SYMBOL,
    side: 'long',
    createdAt: 1000,
    entry: { type: 'market' },
    ...fields,
  };
}

function tick(ts: number, price: number, quotes: { bid?: number; ask?: number } = {}): Tick {
  return { symbol: SYMBOL, ts, price, ...quotes };
}

/** Ticks from `[ts, price]` pairs. */
function ticks(...pairs: [number, number][]): Tick[] {
  return pairs.map(([ts, price]) => tick(ts, price));
}

function tp(price: number, fraction: number): { price: number; fraction: number } {
  return { price, fraction };
}

/** Evaluates one signal and returns its line. */
function run(sig: SignalPayload, tickList: Tick[], ops?: Operation[]): OutcomeLine {
  const result = evaluate([sig], tickList, ops);
  expect(result.lines, 'one line per signal').toHaveLength(1);
  return result.lines[0] as OutcomeLine;
}

/** An operation as it would come from a file, possibly malformed. */
function rawOp(value: Record<string, unknown>): Operation {
  return value as unknown as Operation;
}

// ---------------------------------------------------------------------------------------------
// Comparison helpers

const COMPUTED_KEYS = new Set(['grossReturn', 'netReturn', 'rMultiple', 'pnl', 'fees', 'mfe', 'mae']);

/** Equal within 1e-9 relative (with a 1e-15 floor so an exact 0 may come out as 1e-18). */
function expectClose(actual: unknown, expected: number | null, what: string): void {
  if (expected === null) {
    expect(actual, `${what} should be null`).toBeNull();
    return;
  }
  expect(typeof actual, `${what} should be a number`).toBe('number');
  const a = actual as number;
  const tolerance = Math.max(1e-9 * Math.max(Math.abs(a), Math.abs(expected)), 1e-15);
  expect(Math.abs(a - expected) <= tolerance, `${what}: expected ${expected} (±1e-9 rel), got ${a}`).toBe(
    true,
  );
}

function expectLeg(actual: Leg | undefined, expected: Leg, what: string): void {
  expect(actual, `${what} missing`).toBeDefined();
  expect(Object.keys(actual as Leg), `${what} keys`).toEqual(Object.keys(expected));
  expect(actual, what).toEqual(expected);
}

/** Compares a line with its hand-computed expectation: same keys in the same order, same values. */
function expectLine(actual: OutcomeLine, expected: OutcomeLine): void {
  const what = `line ${expected.id}`;
  expect(Object.keys(actual), `${what} keys`).toEqual(Object.keys(expected));
  for (const key of Object.keys(expected) as (keyof OutcomeLine)[]) {
    const want = expected[key];
    const got = actual[key];
    if (key === 'legs') {
      const legs = got as Leg[];
      const wantLegs = want as Leg[];
      expect(legs.length, `${what} leg count (legs: ${JSON.stringify(legs)})`).toBe(wantLegs.length);
      wantLegs.forEach((leg, i) => expectLeg(legs[i], leg, `${what} legs[${i}]`));
    } else if (key === 'fill') {
      expect(Object.keys(got as object), `${what} fill keys`).toEqual(['ts', 'price']);
      expect(got, `${what} fill`).toEqual(want);
    } else if (COMPUTED_KEYS.has(key)) {
      expectClose(got, want as number | null, `${what} ${key}`);
    } else {
      expect(got, `${what} ${key}`).toEqual(want);
    }
  }
}

/** The operation was rejected with at least one reason, and it is the only rejection. */
function expectOnlyRejection(
  rejected: { op: unknown; errors: string[] }[],
  op: Operation,
  mentioning?: string,
): void {
  expect(rejected, 'exactly one rejected operation').toHaveLength(1);
  const first = rejected[0] as { op: unknown; errors: string[] };
  expect(first.op, 'the rejected operation is reported as given').toEqual(op);
  expect(first.errors.length, 'a rejection carries its reasons').toBeGreaterThan(0);
  for (const error of first.errors) expect(typeof error).toBe('string');
  if (mentioning !== undefined) {
    expect(first.errors.join(' | '), `reasons name ${mentioning}`).toContain(mentioning);
  }
}

// ---------------------------------------------------------------------------------------------

describe('SPEC: entry fills', () => {
  it('market long fills at the first tick at or after createdAt; earlier ticks are ignored', () => {
    const line = run(signal(), ticks([500, 90], [1000, 100], [2000, 102], [3000, 99]));
    expectLine(line, {
      id: ID,
      state: 'open',
      fill: { ts: 1000, price: 100 },
      legs: [],
      mfe: 0.02,
      mae: -0.01,
    });
  });

  it('market short fills at the first tick at or after createdAt; excursions are mirrored', () => {
    const line = run(signal({ side: 'short' }), ticks([500, 110], [1000, 100], [2000, 98], [3000, 101]));
    expectLine(line, {
      id: ID,
      state: 'open',
      fill: { ts: 1000, price: 100 },
      legs: [],
      mfe: 0.02,
      mae: -0.01,
    });
  });

  it('a signal with no tick at or after createdAt stays pending', () => {
    const line = run(signal(), ticks([500, 100], [999, 100]));
    expectLine(line, { id: ID, state: 'pending', legs: [] });
  });

  it('resting long limit fills at its own price, not at the tick that went through it', () => {
    const sig = signal({ entry: { type: 'limit', price: 100 } });
    const line = run(sig, ticks([1000, 102], [2000, 99], [3000, 103]));
    expectLine(line, {
      id: ID,
      state: 'open',
      fill: { ts: 2000, price: 100 },
      legs: [],
      mfe: 0.03,
      mae: -0.01,
    });
  });

  it('marketable long limit fills at the first applied tick price (a tick before createdAt does not count)', () => {
    const sig = signal({ entry: { type: 'limit', price: 100 } });
    const line = run(sig, ticks([500, 90], [1000, 98]));
    expectLine(line, { id: ID, state: 'open', fill: { ts: 1000, price: 98 }, legs: [], mfe: 0, mae: 0 });
  });

  it('resting short limit fills at its own price when the price rises to it', () => {
    const sig = signal({ side: 'short', entry: { type: 'limit', price: 100 } });
    const line = run(sig, ticks([1000, 98], [2000, 101]));
    expectLine(line, { id: ID, state: 'open', fill: { ts: 2000, price: 100 }, legs: [], mfe: 0, mae: -0.01 });
  });

  it('marketable short limit fills at the first applied tick price', () => {
    const sig = signal({ side: 'short', entry: { type: 'limit', price: 100 } });
    const line = run(sig, ticks([1000, 102]));
    expectLine(line, { id: ID, state: 'open', fill: { ts: 1000, price: 102 }, legs: [], mfe: 0, mae: 0 });
  });

  it('a limit that the price never reaches stays pending', () => {
    const long = run(signal({ entry: { type: 'limit', price: 100 } }), ticks([1000, 101], [2000, 100.5]));
    expectLine(long, { id: ID, state: 'pending', legs: [] });
    const short = run(
      signal({ side: 'short', entry: { type: 'limit', price: 100 } }),
      ticks([1000, 99], [2000, 99.5]),
    );
    expectLine(short, { id: ID, state: 'pending', legs: [] });
  });

  it('long stop entry fills at the trigger price once the price reaches the stop', () => {
    const sig = signal({ entry: { type: 'stop', price: 105 } });
    const line = run(sig, ticks([1000, 100], [2000, 104], [3000, 106]));
    expectLine(line, { id: ID, state: 'open', fill: { ts: 3000, price: 106 }, legs: [], mfe: 0, mae: 0 });
  });

  it('short stop entry fills at the trigger price once the price falls to the stop', () => {
    const sig = signal({ side: 'short', entry: { type: 'stop', price: 95 } });
    const line = run(sig, ticks([1000, 100], [2000, 96], [3000, 94]));
    expectLine(line, { id: ID, state: 'open', fill: { ts: 3000, price: 94 }, legs: [], mfe: 0, mae: 0 });
  });
});

describe('SPEC: entry expiry', () => {
  it('long entry expires at entryExpiresAt even when that tick would have filled it (expiry first)', () => {
    const sig = signal({ entry: { type: 'limit', price: 90 }, entryExpiresAt: 3000 });
    const line = run(sig, ticks([1000, 100], [2000, 95], [3000, 80]));
    expectLine(line, { id: ID, state: 'closed', outcome: 'EXPIRED', legs: [], closedAt: 3000 });
  });

  it('short entry expires at the first tick at or after entryExpiresAt, closedAt = that tick', () => {
    const sig = signal({ side: 'short', entry: { type: 'limit', price: 110 }, entryExpiresAt: 3000 });
    const line = run(sig, ticks([1000, 100], [2000, 105], [3500, 120]));
    expectLine(line, { id: ID, state: 'closed', outcome: 'EXPIRED', legs: [], closedAt: 3500 });
  });

  it('expiry no longer applies once the entry has filled', () => {
    const sig = signal({ entryExpiresAt: 2000 });
    const line = run(sig, ticks([1000, 100], [2000, 101]));
    expectLine(line, { id: ID, state: 'open', fill: { ts: 1000, price: 100 }, legs: [], mfe: 0.01, mae: 0 });
  });
});

describe('SPEC: INVALID_AT_FILL', () => {
  it('long market fill below the stop is invalid, with its fill, no legs and holdingMs 0', () => {
    const sig = signal({ stopLoss: { price: 99 }, takeProfits: [tp(110, 1)] });
    const line = run(sig, ticks([1000, 98.5], [2000, 105]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'INVALID_AT_FILL',
      fill: { ts: 1000, price: 98.5 },
      legs: [],
      closedAt: 1000,
      holdingMs: 0,
    });
  });

  it('long fill exactly at the stop is invalid (at or beyond)', () => {
    const sig = signal({ stopLoss: { price: 99 }, takeProfits: [tp(110, 1)] });
    const line = run(sig, ticks([1000, 99]));
    expect(line.outcome).toBe('INVALID_AT_FILL');
    expect(line.fill).toEqual({ ts: 1000, price: 99 });
  });

  it('long fill at the first TP is invalid', () => {
    const sig = signal({ stopLoss: { price: 95 }, takeProfits: [tp(101, 0.5), tp(105, 0.5)] });
    const line = run(sig, ticks([1000, 101]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'INVALID_AT_FILL',
      fill: { ts: 1000, price: 101 },
      legs: [],
      closedAt: 1000,
      holdingMs: 0,
    });
  });

  it('short fill at the stop is invalid', () => {
    const sig = signal({ side: 'short', stopLoss: { price: 101 }, takeProfits: [tp(90, 1)] });
    const line = run(sig, ticks([1000, 101]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'INVALID_AT_FILL',
      fill: { ts: 1000, price: 101 },
      legs: [],
      closedAt: 1000,
      holdingMs: 0,
    });
  });

  it('short fill beyond the first TP is invalid', () => {
    const sig = signal({ side: 'short', stopLoss: { price: 105 }, takeProfits: [tp(99, 1)] });
    const line = run(sig, ticks([1000, 98]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'INVALID_AT_FILL',
      fill: { ts: 1000, price: 98 },
      legs: [],
      closedAt: 1000,
      holdingMs: 0,
    });
  });

  it('a marketable long limit gapping below the stop is invalid at its trigger fill price', () => {
    const sig = signal({
      entry: { type: 'limit', price: 100 },
      stopLoss: { price: 95 },
      takeProfits: [tp(105, 1)],
    });
    const line = run(sig, ticks([1000, 94]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'INVALID_AT_FILL',
      fill: { ts: 1000, price: 94 },
      legs: [],
      closedAt: 1000,
      holdingMs: 0,
    });
  });

  it('a long stop entry gapping through the first TP is invalid at a later tick', () => {
    const sig = signal({
      entry: { type: 'stop', price: 105 },
      stopLoss: { price: 100 },
      takeProfits: [tp(110, 1)],
    });
    const line = run(sig, ticks([1000, 102], [2000, 111]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'INVALID_AT_FILL',
      fill: { ts: 2000, price: 111 },
      legs: [],
      closedAt: 2000,
      holdingMs: 0,
    });
  });

  it('a fill strictly between stop and TP1 is valid', () => {
    const sig = signal({ stopLoss: { price: 99 }, takeProfits: [tp(101, 1)] });
    const line = run(sig, ticks([1000, 100]));
    expect(line.state).toBe('open');
  });
});

describe('SPEC: take profits, fractions and the runner', () => {
  it('long: two TPs fill in order, the runner stays open as partial', () => {
    const sig = signal({ takeProfits: [tp(102, 0.5), tp(104, 0.25)] });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 103], [4000, 104], [5000, 101]));
    expectLine(line, {
      id: ID,
      state: 'partial',
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
        { reason: 'TP', level: 2, price: 104, fraction: 0.25, ts: 4000 },
      ],
      mfe: 0.04,
      mae: 0,
    });
  });

  it('long: the runner left after two TPs closes on the stop; partial=true, SL_HIT', () => {
    const sig = signal({ stopLoss: { price: 98 }, takeProfits: [tp(102, 0.5), tp(104, 0.25)] });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 104], [4000, 97]));
    // gross = .5*.02 + .25*.04 + .25*(-.03) = .0125; r = (1 + 1 - .75) / 2 = .625
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
        { reason: 'TP', level: 2, price: 104, fraction: 0.25, ts: 3000 },
        { reason: 'SL', stopKind: 'initial', price: 97, fraction: 0.25, ts: 4000 },
      ],
      grossReturn: 0.0125,
      netReturn: 0.0125,
      rMultiple: 0.625,
      mfe: 0.04,
      mae: -0.03,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('short: the runner left after two TPs closes on the stop; partial=true, SL_HIT', () => {
    const sig = signal({ side: 'short', stopLoss: { price: 102 }, takeProfits: [tp(98, 0.5), tp(96, 0.25)] });
    const line = run(sig, ticks([1000, 100], [2000, 98], [3000, 96], [4000, 103]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 98, fraction: 0.5, ts: 2000 },
        { reason: 'TP', level: 2, price: 96, fraction: 0.25, ts: 3000 },
        { reason: 'SL', stopKind: 'initial', price: 103, fraction: 0.25, ts: 4000 },
      ],
      grossReturn: 0.0125,
      netReturn: 0.0125,
      rMultiple: 0.625,
      mfe: 0.04,
      mae: -0.03,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('long: the last TP closes everything: TP_HIT, partial=false, rMultiple null without a stop', () => {
    const sig = signal({ takeProfits: [tp(102, 0.5), tp(104, 0.5)] });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 104.5]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
        { reason: 'TP', level: 2, price: 104, fraction: 0.5, ts: 3000 },
      ],
      grossReturn: 0.03,
      netReturn: 0.03,
      rMultiple: null,
      mfe: 0.045,
      mae: 0,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('one tick through several TPs fills them all on that tick, each at its own level price', () => {
    const sig = signal({ side: 'short', takeProfits: [tp(98, 0.5), tp(96, 0.5)] });
    const line = run(sig, ticks([1000, 100], [2000, 95]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 98, fraction: 0.5, ts: 2000 },
        { reason: 'TP', level: 2, price: 96, fraction: 0.5, ts: 2000 },
      ],
      grossReturn: 0.03,
      netReturn: 0.03,
      rMultiple: null,
      mfe: 0.05,
      mae: 0,
      closedAt: 2000,
      holdingMs: 1000,
    });
  });

  it('long: a TP leaving a remainder <= 1e-9 books the whole remainder and closes', () => {
    const sig = signal({ takeProfits: [tp(102, 0.5), tp(104, 0.4999999999)] });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 104]));
    expect(line.state).toBe('closed');
    expect(line.outcome).toBe('TP_HIT');
    expect(line.legs).toEqual([
      { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
      { reason: 'TP', level: 2, price: 104, fraction: 0.5, ts: 3000 },
    ]);
    expectClose(line.grossReturn, 0.03, 'grossReturn');
  });

  it('short: a single TP of fraction 1 - 5e-10 books the whole position', () => {
    const sig = signal({ side: 'short', takeProfits: [tp(98, 0.9999999995)] });
    const line = run(sig, ticks([1000, 100], [2000, 98]));
    expect(line.outcome).toBe('TP_HIT');
    expect(line.legs).toEqual([{ reason: 'TP', level: 1, price: 98, fraction: 1, ts: 2000 }]);
  });

  it('a remainder above 1e-9 (1e-7) is kept as a runner: the TP books only its own fraction', () => {
    const sig = signal({ takeProfits: [tp(102, 0.5), tp(104, 0.4999999)] });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 104]));
    expect(line.state).toBe('partial');
    expect(line.legs).toEqual([
      { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
      { reason: 'TP', level: 2, price: 104, fraction: 0.4999999, ts: 3000 },
    ]);
  });
});

describe('SPEC: stop before TP on the same tick', () => {
  it('long: a tick touching both stop and TP (through tolerance) closes on the stop', () => {
    // t = 625 bps: stop 99 is touched at p <= 105.1875, TP 101 at p >= 94.6875; 100.5 touches both.
    const sig = signal({ stopLoss: { price: 99 }, takeProfits: [tp(101, 1)], toleranceBps: 625 });
    const line = run(sig, ticks([1000, 100], [2000, 100.5]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 100.5, fraction: 1, ts: 2000 }],
      grossReturn: 0.005,
      netReturn: 0.005,
      rMultiple: 0.5,
      mfe: 0.005,
      mae: 0,
      closedAt: 2000,
      holdingMs: 1000,
    });
  });

  it('short: a tick touching both stop and TP (through tolerance) closes on the stop', () => {
    const sig = signal({
      side: 'short',
      stopLoss: { price: 101 },
      takeProfits: [tp(99, 1)],
      toleranceBps: 625,
    });
    const line = run(sig, ticks([1000, 100], [2000, 99.5]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 99.5, fraction: 1, ts: 2000 }],
      grossReturn: 0.005,
      netReturn: 0.005,
      rMultiple: 0.5,
      mfe: 0.005,
      mae: 0,
      closedAt: 2000,
      holdingMs: 1000,
    });
  });
});

describe('SPEC: the fill tick', () => {
  it('is not evaluated for exits even when its exit price touches the stop; excursions start there', () => {
    // bid_ask long: entry on ask 100, exits on bid; the fill tick's bid 98 is below the stop 99.
    const sig = signal({ trigger: 'bid_ask', stopLoss: { price: 99 }, takeProfits: [tp(105, 1)] });
    const line = run(sig, [
      tick(1000, 99, { bid: 98, ask: 100 }),
      tick(2000, 100, { bid: 99.5, ask: 100.5 }),
    ]);
    expectLine(line, { id: ID, state: 'open', fill: { ts: 1000, price: 100 }, legs: [], mfe: 0, mae: -0.02 });
  });

  it('exits are evaluated from the next tick on, even one with the same ts', () => {
    const sig = signal({ takeProfits: [tp(102, 1)] });
    const line = run(sig, ticks([1000, 100], [1000, 102]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TP', level: 1, price: 102, fraction: 1, ts: 1000 }],
      grossReturn: 0.02,
      netReturn: 0.02,
      rMultiple: null,
      mfe: 0.02,
      mae: 0,
      closedAt: 1000,
      holdingMs: 0,
    });
  });
});

describe('SPEC: breakeven', () => {
  it('long: after TP1 the stop moves to the fill price and a return to it closes the runner at 0', () => {
    const sig = signal({
      stopLoss: { price: 98 },
      takeProfits: [tp(102, 0.5), tp(104, 0.5)],
      breakevenAfterTp: 1,
    });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 101], [4000, 100]));
    // gross = .5*.02 + .5*0 = .01; r = (1 + 0) / 2 = .5
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'breakeven', price: 100, fraction: 0.5, ts: 4000 },
      ],
      grossReturn: 0.01,
      netReturn: 0.01,
      rMultiple: 0.5,
      mfe: 0.02,
      mae: 0,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('short: after TP1 the stop moves down to the fill price', () => {
    const sig = signal({
      side: 'short',
      stopLoss: { price: 103 },
      takeProfits: [tp(98, 0.5), tp(95, 0.5)],
      breakevenAfterTp: 1,
    });
    const line = run(sig, ticks([1000, 100], [2000, 98], [3000, 99], [4000, 100]));
    // gross = .5*.02 = .01; r = 1 / 3
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 98, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'breakeven', price: 100, fraction: 0.5, ts: 4000 },
      ],
      grossReturn: 0.01,
      netReturn: 0.01,
      rMultiple: 0.3333333333333333,
      mfe: 0.02,
      mae: 0,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('breakevenAfterTp = 2 leaves the stop alone after TP1 and moves it after TP2', () => {
    const sig = signal({
      stopLoss: { price: 95 },
      takeProfits: [tp(102, 0.25), tp(104, 0.25), tp(106, 0.5)],
      breakevenAfterTp: 2,
    });
    // After TP1 at 102 a tick at 100 must not stop out (stop still 95); after TP2 it does.
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 100], [4000, 104], [5000, 100]));
    // gross = .25*.02 + .25*.04 = .015; r = (.5 + 1) / 5 = .3
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.25, ts: 2000 },
        { reason: 'TP', level: 2, price: 104, fraction: 0.25, ts: 4000 },
        { reason: 'SL', stopKind: 'breakeven', price: 100, fraction: 0.5, ts: 5000 },
      ],
      grossReturn: 0.015,
      netReturn: 0.015,
      rMultiple: 0.3,
      mfe: 0.04,
      mae: 0,
      closedAt: 5000,
      holdingMs: 4000,
    });
  });

  it('long with offset: the stop goes to fill*(1+offset) and stopFill=level books that level', () => {
    // 625 bps: 100 * 1.0625 = 106.25
    const sig = signal({
      stopLoss: { price: 98 },
      takeProfits: [tp(110, 0.5), tp(120, 0.5)],
      breakevenAfterTp: 1,
      breakevenOffsetBps: 625,
      stopFill: 'level',
    });
    const line = run(sig, ticks([1000, 100], [2000, 110], [3000, 107], [4000, 106]));
    // gross = .5*.1 + .5*.0625 = .08125; r = (5 + 3.125) / 2 = 4.0625
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 110, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'breakeven', price: 106.25, fraction: 0.5, ts: 4000 },
      ],
      grossReturn: 0.08125,
      netReturn: 0.08125,
      rMultiple: 4.0625,
      mfe: 0.1,
      mae: 0,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('short with offset: the stop goes to fill*(1-offset)', () => {
    // 625 bps: 100 * 0.9375 = 93.75
    const sig = signal({
      side: 'short',
      stopLoss: { price: 102 },
      takeProfits: [tp(90, 0.5), tp(80, 0.5)],
      breakevenAfterTp: 1,
      breakevenOffsetBps: 625,
      stopFill: 'level',
    });
    const line = run(sig, ticks([1000, 100], [2000, 90], [3000, 93], [4000, 94]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 90, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'breakeven', price: 93.75, fraction: 0.5, ts: 4000 },
      ],
      grossReturn: 0.08125,
      netReturn: 0.08125,
      rMultiple: 4.0625,
      mfe: 0.1,
      mae: 0,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('with an offset of 50 bps the long stop sits just above the fill (100.5): 100.6 holds, 100.4 stops', () => {
    const sig = signal({
      stopLoss: { price: 98 },
      takeProfits: [tp(102, 0.5), tp(104, 0.5)],
      breakevenAfterTp: 1,
      breakevenOffsetBps: 50,
    });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 100.6], [4000, 100.4]));
    expect(line.legs).toEqual([
      { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
      { reason: 'SL', stopKind: 'breakeven', price: 100.4, fraction: 0.5, ts: 4000 },
    ]);
  });

  it('a missing stop is tightened by breakeven; rMultiple stays null (no stop at the fill)', () => {
    const sig = signal({ takeProfits: [tp(102, 0.5), tp(104, 0.5)], breakevenAfterTp: 1 });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 99]));
    // gross = .5*.02 + .5*(-.01) = .005
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'breakeven', price: 99, fraction: 0.5, ts: 3000 },
      ],
      grossReturn: 0.005,
      netReturn: 0.005,
      rMultiple: null,
      mfe: 0.02,
      mae: -0.01,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('breakeven never loosens a tighter (trailing) stop; the stop keeps its kind', () => {
    // trailing 1250 bps from the fill: peak 120 -> stop 105; TP1 at 124 would set breakeven 100 (looser,
    // ignored); peak 124 -> stop 108.5; 108 stops out on the trailing stop.
    const sig = signal({
      stopLoss: { price: 90 },
      takeProfits: [tp(124, 0.5), tp(150, 0.5)],
      breakevenAfterTp: 1,
      trailing: { distanceBps: 1250, activation: 'fill' },
    });
    const line = run(sig, ticks([1000, 100], [2000, 120], [3000, 124], [4000, 108]));
    // gross = .5*.24 + .5*.08 = .16; r = (12 + 4) / 10 = 1.6
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 124, fraction: 0.5, ts: 3000 },
        { reason: 'SL', stopKind: 'trailing', price: 108, fraction: 0.5, ts: 4000 },
      ],
      grossReturn: 0.16,
      netReturn: 0.16,
      rMultiple: 1.6,
      mfe: 0.24,
      mae: 0,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('breakeven never loosens an amended stop above the fill', () => {
    const sig = signal({
      stopLoss: { price: 95 },
      takeProfits: [tp(104, 0.5), tp(110, 0.5)],
      breakevenAfterTp: 1,
    });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 2500, stopLoss: { price: 101 } }];
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 104], [4000, 100.5]), ops);
    // gross = .5*.04 + .5*.005 = .0225; r = (2 + .25) / 5 = .45
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 104, fraction: 0.5, ts: 3000 },
        { reason: 'SL', stopKind: 'amended', price: 100.5, fraction: 0.5, ts: 4000 },
      ],
      grossReturn: 0.0225,
      netReturn: 0.0225,
      rMultiple: 0.45,
      mfe: 0.04,
      mae: 0,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });
});

describe('SPEC: trailing stop', () => {
  // v1.1 changed these: "fill" trailing trails from the fill price and is in force from the
  // fill (in v1 its peak started at the first exit tick, so the 86 below held and it exited at 104).
  it('long, activation "fill": in force from the fill, 1250 bps below the fill price', () => {
    // Fill 100: stop 87.5 (trailing) at once. 96 holds (peak stays 100), 86 stops out.
    const sig = signal({ trailing: { distanceBps: 1250, activation: 'fill' } });
    const line = run(sig, ticks([1000, 100], [2000, 96], [3000, 86], [4000, 120]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'trailing', price: 86, fraction: 1, ts: 3000 }],
      grossReturn: -0.14,
      netReturn: -0.14,
      rMultiple: null,
      mfe: 0,
      mae: -0.14,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('long, activation "fill": the peak rises from the fill price with the market', () => {
    // Stop 87.5 from the fill; 96 holds; 120: 105; 110 holds; 104 stops out.
    const sig = signal({ trailing: { distanceBps: 1250, activation: 'fill' } });
    const line = run(sig, ticks([1000, 100], [2000, 96], [3000, 120], [4000, 110], [5000, 104]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'trailing', price: 104, fraction: 1, ts: 5000 }],
      grossReturn: 0.04,
      netReturn: 0.04,
      rMultiple: null,
      mfe: 0.2,
      mae: -0.04,
      closedAt: 5000,
      holdingMs: 4000,
    });
  });

  it('short, activation "fill": in force from the fill, 1250 bps above the fill price', () => {
    // Fill 100: stop 112.5 at once. 104 holds, 116 stops out (v1: held, and exited at 96).
    const sig = signal({ side: 'short', trailing: { distanceBps: 1250, activation: 'fill' } });
    const line = run(sig, ticks([1000, 100], [2000, 104], [3000, 116], [4000, 80]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'trailing', price: 116, fraction: 1, ts: 3000 }],
      grossReturn: -0.16,
      netReturn: -0.16,
      rMultiple: null,
      mfe: 0,
      mae: -0.16,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('short, activation "fill": the stop trails the lowest price from above', () => {
    // Stop 112.5 from the fill; 104 holds; 80: 90; 96 stops out.
    const sig = signal({ side: 'short', trailing: { distanceBps: 1250, activation: 'fill' } });
    const line = run(sig, ticks([1000, 100], [2000, 104], [3000, 80], [4000, 96]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'trailing', price: 96, fraction: 1, ts: 4000 }],
      grossReturn: 0.04,
      netReturn: 0.04,
      rMultiple: null,
      mfe: 0.2,
      mae: -0.04,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('"fill" trailing: rMultiple uses the stop before the trailing step, and a looser candidate keeps it', () => {
    // Long, stop 90, 500 bps: candidate 95 tightens at the fill (initialStop stays 90). 95 stops
    // at 95: r = -5 / 10. Short mirror with stop 110 -> 105, 105 stops: r = -5 / 10.
    const long = run(
      signal({ stopLoss: { price: 90 }, trailing: { distanceBps: 500, activation: 'fill' } }),
      ticks([1000, 100], [2000, 95]),
    );
    expect(long.legs).toEqual([{ reason: 'SL', stopKind: 'trailing', price: 95, fraction: 1, ts: 2000 }]);
    expectClose(long.rMultiple, -0.5, 'long rMultiple');
    const short = run(
      signal({ side: 'short', stopLoss: { price: 110 }, trailing: { distanceBps: 500, activation: 'fill' } }),
      ticks([1000, 100], [2000, 105]),
    );
    expect(short.legs).toEqual([{ reason: 'SL', stopKind: 'trailing', price: 105, fraction: 1, ts: 2000 }]);
    expectClose(short.rMultiple, -0.5, 'short rMultiple');
  });

  it('long, activation {price}: inactive below the price, then trails from the activating tick', () => {
    // Before 110 is reached the stop stays 90 (94 holds). 112 activates: 98; 120: 105; 105 stops out.
    const sig = signal({
      stopLoss: { price: 90 },
      trailing: { distanceBps: 1250, activation: { price: 110 } },
    });
    const line = run(
      sig,
      ticks([1000, 100], [2000, 108], [3000, 94], [4000, 112], [5000, 104], [6000, 120], [7000, 105]),
    );
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'trailing', price: 105, fraction: 1, ts: 7000 }],
      grossReturn: 0.05,
      netReturn: 0.05,
      rMultiple: 0.5,
      mfe: 0.2,
      mae: -0.06,
      closedAt: 7000,
      holdingMs: 6000,
    });
  });

  it('short, activation {price}: activates when the price falls to it', () => {
    // Stop 110 until 90 is reached (106 holds). 88 activates: 99; 96 holds; 80: 90; 90 stops out.
    const sig = signal({
      side: 'short',
      stopLoss: { price: 110 },
      trailing: { distanceBps: 1250, activation: { price: 90 } },
    });
    const line = run(
      sig,
      ticks([1000, 100], [2000, 92], [3000, 106], [4000, 88], [5000, 96], [6000, 80], [7000, 90]),
    );
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'trailing', price: 90, fraction: 1, ts: 7000 }],
      grossReturn: 0.1,
      netReturn: 0.1,
      rMultiple: 1,
      mfe: 0.2,
      mae: -0.06,
      closedAt: 7000,
      holdingMs: 6000,
    });
  });

  it('long, activation {afterTp: 1}: trails only after TP1, from the TP tick price', () => {
    // 625 bps. Before TP1 (108, then 101) the stop stays 90. TP1 at 112: peak 112 -> 105; 128 -> 120; 119 stops.
    const sig = signal({
      stopLoss: { price: 90 },
      takeProfits: [tp(112, 0.5), tp(140, 0.5)],
      trailing: { distanceBps: 625, activation: { afterTp: 1 } },
    });
    const line = run(
      sig,
      ticks([1000, 100], [2000, 108], [3000, 101], [4000, 112], [5000, 128], [6000, 119]),
    );
    // gross = .5*.12 + .5*.19 = .155; r = (6 + 9.5) / 10 = 1.55
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 112, fraction: 0.5, ts: 4000 },
        { reason: 'SL', stopKind: 'trailing', price: 119, fraction: 0.5, ts: 6000 },
      ],
      grossReturn: 0.155,
      netReturn: 0.155,
      rMultiple: 1.55,
      mfe: 0.28,
      mae: 0,
      closedAt: 6000,
      holdingMs: 5000,
    });
  });

  it('short, activation {afterTp: 1}: trails only after TP1', () => {
    // 625 bps. TP1 at 88: peak 88 -> 93.5; 80 -> 85; 86 stops.
    const sig = signal({
      side: 'short',
      stopLoss: { price: 110 },
      takeProfits: [tp(88, 0.5), tp(60, 0.5)],
      trailing: { distanceBps: 625, activation: { afterTp: 1 } },
    });
    const line = run(sig, ticks([1000, 100], [2000, 92], [3000, 99], [4000, 88], [5000, 80], [6000, 86]));
    // gross = .5*.12 + .5*.14 = .13; r = (6 + 7) / 10 = 1.3
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 88, fraction: 0.5, ts: 4000 },
        { reason: 'SL', stopKind: 'trailing', price: 86, fraction: 0.5, ts: 6000 },
      ],
      grossReturn: 0.13,
      netReturn: 0.13,
      rMultiple: 1.3,
      mfe: 0.2,
      mae: 0,
      closedAt: 6000,
      holdingMs: 5000,
    });
  });

  it('a trailing candidate looser than the initial stop does not replace it', () => {
    // 1250 bps from the first exit tick 101: candidate 88.375 < stop 95, so the stop stays initial.
    const sig = signal({ stopLoss: { price: 95 }, trailing: { distanceBps: 1250, activation: 'fill' } });
    const line = run(sig, ticks([1000, 100], [2000, 101], [3000, 94]));
    expect(line.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 94, fraction: 1, ts: 3000 }]);
  });
});

describe('SPEC: time limit', () => {
  it('long: closes the remainder at the first tick at or after fill.ts + timeLimitMs, at p', () => {
    const sig = signal({ stopLoss: { price: 95 }, timeLimitMs: 3000 });
    const line = run(sig, ticks([1000, 100], [2000, 101], [3999, 102], [4000, 103]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TIME_EXIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TIME', price: 103, fraction: 1, ts: 4000 }],
      grossReturn: 0.03,
      netReturn: 0.03,
      rMultiple: 0.6,
      mfe: 0.03,
      mae: 0,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('short: time exit after a partial TP books the remainder and is partial', () => {
    const sig = signal({ side: 'short', takeProfits: [tp(98, 0.5), tp(90, 0.5)], timeLimitMs: 3000 });
    const line = run(sig, ticks([1000, 100], [2000, 98], [4500, 101]));
    // gross = .5*.02 + .5*(-.01) = .005
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TIME_EXIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 98, fraction: 0.5, ts: 2000 },
        { reason: 'TIME', price: 101, fraction: 0.5, ts: 4500 },
      ],
      grossReturn: 0.005,
      netReturn: 0.005,
      rMultiple: null,
      mfe: 0.02,
      mae: -0.01,
      closedAt: 4500,
      holdingMs: 3500,
    });
  });

  it('a TP closing everything on the time-limit tick wins over the time exit (TP before time)', () => {
    const sig = signal({ takeProfits: [tp(102, 1)], timeLimitMs: 1000 });
    const line = run(sig, ticks([1000, 100], [2000, 102]));
    expect(line.outcome).toBe('TP_HIT');
    expect(line.legs).toEqual([{ reason: 'TP', level: 1, price: 102, fraction: 1, ts: 2000 }]);
  });

  it('a stop on the time-limit tick wins over the time exit (stop before time)', () => {
    const sig = signal({ stopLoss: { price: 98 }, timeLimitMs: 1000 });
    const line = run(sig, ticks([1000, 100], [2000, 97]));
    expect(line.outcome).toBe('SL_HIT');
    expect(line.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 97, fraction: 1, ts: 2000 }]);
  });
});

describe('SPEC: tolerance', () => {
  it('long TP within tolerance fills at the TP level price exactly', () => {
    // 50 bps: TP 102 touched at p >= 101.49
    const sig = signal({ takeProfits: [tp(102, 1)], toleranceBps: 50 });
    const line = run(sig, ticks([1000, 100], [2000, 101.4], [3000, 101.5]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TP', level: 1, price: 102, fraction: 1, ts: 3000 }],
      grossReturn: 0.02,
      netReturn: 0.02,
      rMultiple: null,
      mfe: 0.015,
      mae: 0,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('short TP within tolerance fills at the TP level price exactly', () => {
    // 50 bps: TP 98 touched at p <= 98.49
    const sig = signal({ side: 'short', takeProfits: [tp(98, 1)], toleranceBps: 50 });
    const line = run(sig, ticks([1000, 100], [2000, 98.6], [3000, 98.4]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TP', level: 1, price: 98, fraction: 1, ts: 3000 }],
      grossReturn: 0.02,
      netReturn: 0.02,
      rMultiple: null,
      mfe: 0.016,
      mae: 0,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('long stop within tolerance fills at the trigger price', () => {
    // 50 bps: stop 98 touched at p <= 98.49
    const sig = signal({ stopLoss: { price: 98 }, toleranceBps: 50 });
    const line = run(sig, ticks([1000, 100], [2000, 98.6], [3000, 98.45]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 98.45, fraction: 1, ts: 3000 }],
      grossReturn: -0.0155,
      netReturn: -0.0155,
      rMultiple: -0.775,
      mfe: 0,
      mae: -0.0155,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('short stop within tolerance fills at the trigger price', () => {
    // 50 bps: stop 102 touched at p >= 101.49
    const sig = signal({ side: 'short', stopLoss: { price: 102 }, toleranceBps: 50 });
    const line = run(sig, ticks([1000, 100], [2000, 101.4], [3000, 101.55]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 101.55, fraction: 1, ts: 3000 }],
      grossReturn: -0.0155,
      netReturn: -0.0155,
      rMultiple: -0.775,
      mfe: 0,
      mae: -0.0155,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('stopFill=level within tolerance books the stop level itself, not the tolerance-adjusted one', () => {
    const sig = signal({ stopLoss: { price: 98 }, toleranceBps: 50, stopFill: 'level' });
    const line = run(sig, ticks([1000, 100], [2000, 98.45]));
    expect(line.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 98, fraction: 1, ts: 2000 }]);
    expectClose(line.grossReturn, -0.02, 'grossReturn');
    expectClose(line.rMultiple, -1, 'rMultiple');
  });
});

describe('SPEC: confirmation', () => {
  it('long stop: a non-touching tick disarms it and resets the timer', () => {
    // confirm 1000: armed 2000, disarmed 2500, re-armed 3000, 3500 too early, 4000 fills.
    const sig = signal({ stopLoss: { price: 98 }, takeProfits: [tp(104, 1)], confirmMs: 1000 });
    const line = run(sig, ticks([1000, 100], [2000, 97], [2500, 99], [3000, 97.5], [3500, 97], [4000, 96]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 96, fraction: 1, ts: 4000 }],
      grossReturn: -0.04,
      netReturn: -0.04,
      rMultiple: -2,
      mfe: 0,
      mae: -0.04,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('short stop: a non-touching tick disarms it and resets the timer', () => {
    const sig = signal({
      side: 'short',
      stopLoss: { price: 102 },
      takeProfits: [tp(96, 1)],
      confirmMs: 1000,
    });
    const line = run(
      sig,
      ticks([1000, 100], [2000, 103], [2500, 101], [3000, 102.5], [3500, 103], [4000, 104]),
    );
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 104, fraction: 1, ts: 4000 }],
      grossReturn: -0.04,
      netReturn: -0.04,
      rMultiple: -2,
      mfe: 0,
      mae: -0.04,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('long TP: fills once touched for confirmMs, at its level price', () => {
    const sig = signal({ takeProfits: [tp(104, 1)], confirmMs: 1000 });
    const line = run(sig, ticks([1000, 100], [2000, 104], [2999, 105], [3000, 104.5]));
    expect(line.legs).toEqual([{ reason: 'TP', level: 1, price: 104, fraction: 1, ts: 3000 }]);
    expectClose(line.mfe, 0.05, 'mfe');
  });

  it('short TP: a non-touching tick disarms it', () => {
    // TP 96: armed 2000, disarmed 2500, re-armed 3000, fills 4000.
    const sig = signal({ side: 'short', takeProfits: [tp(96, 1)], confirmMs: 1000 });
    const line = run(sig, ticks([1000, 100], [2000, 96], [2500, 97], [3000, 95], [3500, 95], [4000, 95.5]));
    expect(line.legs).toEqual([{ reason: 'TP', level: 1, price: 96, fraction: 1, ts: 4000 }]);
  });

  it('each TP has its own arm time', () => {
    const sig = signal({ takeProfits: [tp(102, 0.5), tp(104, 0.5)], confirmMs: 1000 });
    const line = run(sig, ticks([1000, 100], [2000, 102], [2500, 104], [3000, 104], [3500, 104]));
    // TP1 armed 2000 fills 3000; TP2 armed 2500 fills 3500.
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 3000 },
        { reason: 'TP', level: 2, price: 104, fraction: 0.5, ts: 3500 },
      ],
      grossReturn: 0.03,
      netReturn: 0.03,
      rMultiple: null,
      mfe: 0.04,
      mae: 0,
      closedAt: 3500,
      holdingMs: 2500,
    });
  });

  it('the stop arm time is kept through an amend of the stop price', () => {
    // Armed at 2000 (97.5 <= 98); amended to 97 at 2500; 96.9 at 3000 is still touching: 3000-2000 >= 1000.
    const sig = signal({ stopLoss: { price: 98 }, confirmMs: 1000 });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 2500, stopLoss: { price: 97 } }];
    const line = run(sig, ticks([1000, 100], [2000, 97.5], [3000, 96.9]), ops);
    expect(line.legs).toEqual([{ reason: 'SL', stopKind: 'amended', price: 96.9, fraction: 1, ts: 3000 }]);
    // r uses the stop in force at the fill (98): -3.1 / 2
    expectClose(line.rMultiple, -1.55, 'rMultiple');
  });
});

describe('SPEC: trigger price sources', () => {
  it('bid_ask long: enters on the ask, exits on the bid', () => {
    const sig = signal({ trigger: 'bid_ask', takeProfits: [tp(102, 1)] });
    const line = run(sig, [
      tick(1000, 99.5, { bid: 99, ask: 100 }),
      tick(2000, 102.5, { bid: 101.5, ask: 102.5 }),
      tick(3000, 102, { bid: 102, ask: 102.5 }),
    ]);
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TP', level: 1, price: 102, fraction: 1, ts: 3000 }],
      grossReturn: 0.02,
      netReturn: 0.02,
      rMultiple: null,
      mfe: 0.02,
      mae: -0.01,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('bid_ask short: enters on the bid, exits on the ask', () => {
    const sig = signal({ side: 'short', trigger: 'bid_ask', takeProfits: [tp(98, 1)] });
    const line = run(sig, [
      tick(1000, 100.2, { bid: 100, ask: 100.5 }),
      tick(2000, 98, { bid: 97.5, ask: 98.5 }),
      tick(3000, 97.8, { bid: 97.5, ask: 98 }),
    ]);
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TP', level: 1, price: 98, fraction: 1, ts: 3000 }],
      grossReturn: 0.02,
      netReturn: 0.02,
      rMultiple: null,
      mfe: 0.02,
      mae: -0.005,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('bid_ask with a missing quote falls back to the last price, on entry and on exit', () => {
    // Entry: no ask -> price 100. Fill tick exit: bid 99. Exit tick: no bid -> price 97 (ask ignored).
    const sig = signal({ trigger: 'bid_ask', stopLoss: { price: 98 } });
    const line = run(sig, [tick(1000, 100, { bid: 99 }), tick(2000, 97, { ask: 97.5 })]);
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 97, fraction: 1, ts: 2000 }],
      grossReturn: -0.03,
      netReturn: -0.03,
      rMultiple: -1.5,
      mfe: 0,
      mae: -0.03,
      closedAt: 2000,
      holdingMs: 1000,
    });
  });

  it('bid_ask short with a missing quote falls back to the last price', () => {
    // Entry: no bid -> price 100. Exit tick: no ask -> price 103 (bid 102 ignored).
    const sig = signal({ side: 'short', trigger: 'bid_ask', stopLoss: { price: 102 } });
    const line = run(sig, [tick(1000, 100, { ask: 100.5 }), tick(2000, 103, { bid: 102 })]);
    expect(line.fill).toEqual({ ts: 1000, price: 100 });
    expect(line.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 103, fraction: 1, ts: 2000 }]);
    expectClose(line.mae, -0.03, 'mae');
  });

  it('mid long: (bid+ask)/2 for entry and exits; a missing quote falls back to the last price', () => {
    const sig = signal({ trigger: 'mid', takeProfits: [tp(102, 0.5), tp(104, 0.5)] });
    const line = run(sig, [
      tick(1000, 101, { bid: 99, ask: 101 }), // mid 100: fill
      tick(2000, 102.5, { bid: 101, ask: 102.8 }), // mid 101.9: no TP although price 102.5
      tick(3000, 103, { bid: 101 }), // no ask: price 103 -> TP1
      tick(4000, 103, { bid: 103.5, ask: 104.5 }), // mid 104 -> TP2
    ]);
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 3000 },
        { reason: 'TP', level: 2, price: 104, fraction: 0.5, ts: 4000 },
      ],
      grossReturn: 0.03,
      netReturn: 0.03,
      rMultiple: null,
      mfe: 0.04,
      mae: 0,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('mid short: fills and exits on the mid', () => {
    const sig = signal({ side: 'short', trigger: 'mid', takeProfits: [tp(98, 1)] });
    const line = run(sig, [tick(1000, 99, { bid: 99, ask: 101 }), tick(2000, 97, { bid: 97, ask: 99 })]);
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TP', level: 1, price: 98, fraction: 1, ts: 2000 }],
      grossReturn: 0.02,
      netReturn: 0.02,
      rMultiple: null,
      mfe: 0.02,
      mae: 0,
      closedAt: 2000,
      holdingMs: 1000,
    });
  });

  it('last (the default) ignores quotes', () => {
    const sig = signal({ takeProfits: [tp(102, 1)] });
    const line = run(sig, [tick(1000, 100, { bid: 90, ask: 110 }), tick(2000, 101, { bid: 103, ask: 104 })]);
    expectLine(line, { id: ID, state: 'open', fill: { ts: 1000, price: 100 }, legs: [], mfe: 0.01, mae: 0 });
  });
});

describe('SPEC: stopFill', () => {
  it('long gap through the stop: trigger books the tick price, level books the stop', () => {
    const base = { stopLoss: { price: 98 } };
    const trigger = run(signal(base), ticks([1000, 100], [2000, 95]));
    expect(trigger.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 95, fraction: 1, ts: 2000 }]);
    expectClose(trigger.grossReturn, -0.05, 'trigger grossReturn');
    expectClose(trigger.rMultiple, -2.5, 'trigger rMultiple');

    const level = run(signal({ ...base, stopFill: 'level' }), ticks([1000, 100], [2000, 95]));
    expect(level.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 98, fraction: 1, ts: 2000 }]);
    expectClose(level.grossReturn, -0.02, 'level grossReturn');
    expectClose(level.rMultiple, -1, 'level rMultiple');
    // Excursions follow the trigger price either way.
    expectClose(level.mae, -0.05, 'level mae');
  });

  it('short gap through the stop: trigger books the tick price, level books the stop', () => {
    const base = { side: 'short' as const, stopLoss: { price: 102 } };
    const trigger = run(signal(base), ticks([1000, 100], [2000, 105]));
    expect(trigger.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 105, fraction: 1, ts: 2000 }]);
    expectClose(trigger.grossReturn, -0.05, 'trigger grossReturn');
    expectClose(trigger.rMultiple, -2.5, 'trigger rMultiple');

    const level = run(signal({ ...base, stopFill: 'level' }), ticks([1000, 100], [2000, 105]));
    expect(level.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 102, fraction: 1, ts: 2000 }]);
    expectClose(level.grossReturn, -0.02, 'level grossReturn');
    expectClose(level.rMultiple, -1, 'level rMultiple');
  });
});

describe('SPEC: returns, fees, rMultiple, excursions, holding time', () => {
  it('long fees: net = gross - fee*(1 + f*exit/entry)', () => {
    // .02 - .001 * (1 + 1.02) = .01798
    const sig = signal({ takeProfits: [tp(102, 1)], feeBps: 10 });
    const line = run(sig, ticks([1000, 100], [2000, 102]));
    expectClose(line.grossReturn, 0.02, 'grossReturn');
    expectClose(line.netReturn, 0.01798, 'netReturn');
  });

  it('short fees: the exit notional is smaller after a profitable short', () => {
    // .02 - .001 * (1 + .98) = .01802
    const sig = signal({ side: 'short', takeProfits: [tp(98, 1)], feeBps: 10 });
    const line = run(sig, ticks([1000, 100], [2000, 98]));
    expectClose(line.grossReturn, 0.02, 'grossReturn');
    expectClose(line.netReturn, 0.01802, 'netReturn');
  });

  it('fees over several legs sum f*exit/entry over the legs', () => {
    // gross = .5*.02 + .5*(-.025) = -.0025; net = -.0025 - .001*(1 + .51 + .4875) = -.0044975;
    // r = (1 - 1.25) / 2 = -.125
    const sig = signal({ stopLoss: { price: 98 }, takeProfits: [tp(102, 0.5), tp(106, 0.5)], feeBps: 10 });
    const line = run(sig, ticks([1000, 100], [2000, 102], [3000, 99], [4000, 97.5]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'initial', price: 97.5, fraction: 0.5, ts: 4000 },
      ],
      grossReturn: -0.0025,
      netReturn: -0.0044975,
      rMultiple: -0.125,
      mfe: 0.02,
      mae: -0.025,
      closedAt: 4000,
      holdingMs: 3000,
    });
  });

  it('rMultiple divides the summed profit by |entry - initial stop| (short, profit)', () => {
    const sig = signal({ side: 'short', stopLoss: { price: 104 }, takeProfits: [tp(94, 1)] });
    const line = run(sig, ticks([1000, 100], [2000, 94]));
    expectClose(line.rMultiple, 1.5, 'rMultiple');
  });

  it('mfe/mae cover the fill tick through the closing tick, not ticks before the fill', () => {
    const sig = signal({ entry: { type: 'limit', price: 100 }, stopLoss: { price: 95 } });
    const line = run(sig, ticks([1000, 120], [2000, 99], [3000, 104], [4000, 94], [5000, 80]));
    // fill 100 at 2000 (exit p 99), 104, then 94 stops out; 120 before the fill and 80 after close are ignored.
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 2000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 94, fraction: 1, ts: 4000 }],
      grossReturn: -0.06,
      netReturn: -0.06,
      rMultiple: -1.2,
      mfe: 0.04,
      mae: -0.06,
      closedAt: 4000,
      holdingMs: 2000,
    });
  });

  it('mfe is 0 and mae is 0 when the price never moves either way from the entry (short)', () => {
    const line = run(signal({ side: 'short' }), ticks([1000, 100], [2000, 100]));
    expectLine(line, { id: ID, state: 'open', fill: { ts: 1000, price: 100 }, legs: [], mfe: 0, mae: 0 });
  });
});

describe('SPEC: tick ordering', () => {
  it('late ticks (ts below the last applied ts of the symbol) are counted and ignored', () => {
    const sig = signal({ stopLoss: { price: 95 } });
    const result = evaluate([sig], ticks([1000, 100], [3000, 101], [2000, 90], [2500, 90], [4000, 102]));
    expect(result.lateTicks).toBe(2);
    expectLine(result.lines[0] as OutcomeLine, {
      id: ID,
      state: 'open',
      fill: { ts: 1000, price: 100 },
      legs: [],
      mfe: 0.02,
      mae: 0,
    });
  });

  it('lateness is per symbol, and lines come out in input signal order', () => {
    const eth = signal({ id: 'eth-1', symbol: 'ETH', side: 'short', takeProfits: [tp(45, 1)] });
    const btc = signal({ id: 'btc-1', stopLoss: { price: 95 } });
    const result = evaluate(
      [eth, btc],
      [
        { symbol: 'BTC', ts: 3000, price: 100 },
        { symbol: 'ETH', ts: 1000, price: 50 }, // earlier than BTC's last tick, but ETH's first: applied
        { symbol: 'BTC', ts: 2000, price: 90 }, // late for BTC
        { symbol: 'ETH', ts: 2000, price: 45 },
      ],
    );
    expect(result.lateTicks).toBe(1);
    expect(result.lines.map((l) => l.id)).toEqual(['eth-1', 'btc-1']);
    expectLine(result.lines[0] as OutcomeLine, {
      id: 'eth-1',
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 50 },
      legs: [{ reason: 'TP', level: 1, price: 45, fraction: 1, ts: 2000 }],
      grossReturn: 0.1,
      netReturn: 0.1,
      rMultiple: null,
      mfe: 0.1,
      mae: 0,
      closedAt: 2000,
      holdingMs: 1000,
    });
    expectLine(result.lines[1] as OutcomeLine, {
      id: 'btc-1',
      state: 'open',
      fill: { ts: 3000, price: 100 },
      legs: [],
      mfe: 0,
      mae: 0,
    });
  });

  it('equal timestamps apply in arrival order: TP then stop', () => {
    const sig = signal({ stopLoss: { price: 98 }, takeProfits: [tp(102, 1)] });
    const result = evaluate([sig], ticks([1000, 100], [2000, 102], [2000, 97]));
    expect(result.lateTicks).toBe(0);
    expect(result.lines[0]?.outcome).toBe('TP_HIT');
    expect(result.lines[0]?.legs).toEqual([{ reason: 'TP', level: 1, price: 102, fraction: 1, ts: 2000 }]);
  });

  it('equal timestamps apply in arrival order: stop then TP', () => {
    const sig = signal({ stopLoss: { price: 98 }, takeProfits: [tp(102, 1)] });
    const result = evaluate([sig], ticks([1000, 100], [2000, 97], [2000, 102]));
    expect(result.lateTicks).toBe(0);
    expect(result.lines[0]?.outcome).toBe('SL_HIT');
    expect(result.lines[0]?.legs).toEqual([
      { reason: 'SL', stopKind: 'initial', price: 97, fraction: 1, ts: 2000 },
    ]);
  });

  it('ticks of another symbol do not touch the signal', () => {
    const sig = signal({ stopLoss: { price: 98 } });
    const line = run(sig, [tick(1000, 100), { symbol: 'ETH', ts: 2000, price: 1 }, tick(3000, 101)]);
    expectLine(line, { id: ID, state: 'open', fill: { ts: 1000, price: 100 }, legs: [], mfe: 0.01, mae: 0 });
  });
});

describe('SPEC: operations — exit and cancel', () => {
  it('exit with a price closes a long at that price; the price does not enter excursions', () => {
    const sig = signal({ stopLoss: { price: 95 } });
    const ops: Operation[] = [{ op: 'exit', id: ID, ts: 2500, price: 103 }];
    const result = evaluate([sig], ticks([1000, 100], [2000, 101], [3000, 90]), ops);
    expect(result.rejectedOps).toEqual([]);
    expectLine(result.lines[0] as OutcomeLine, {
      id: ID,
      state: 'closed',
      outcome: 'MANUAL_EXIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'MANUAL', price: 103, fraction: 1, ts: 2500 }],
      grossReturn: 0.03,
      netReturn: 0.03,
      rMultiple: 0.6,
      mfe: 0.01,
      mae: 0,
      closedAt: 2500,
      holdingMs: 1500,
    });
  });

  it('exit without a price uses the last exit trigger price at the op time (bid for a long), not later ticks', () => {
    const sig = signal({ trigger: 'bid_ask' });
    const ops: Operation[] = [{ op: 'exit', id: ID, ts: 2000 }];
    const line = run(
      sig,
      [
        tick(1000, 100, { bid: 100, ask: 100 }),
        tick(2000, 102, { bid: 101, ask: 102 }),
        tick(3000, 105, { bid: 105, ask: 105 }),
      ],
      ops,
    );
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'MANUAL_EXIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'MANUAL', price: 101, fraction: 1, ts: 2000 }],
      grossReturn: 0.01,
      netReturn: 0.01,
      rMultiple: null,
      mfe: 0.01,
      mae: 0,
      closedAt: 2000,
      holdingMs: 1000,
    });
  });

  it('exit without a price on a short after a partial TP closes the runner; partial=true', () => {
    const sig = signal({ side: 'short', takeProfits: [tp(98, 0.5), tp(90, 0.5)] });
    const ops: Operation[] = [{ op: 'exit', id: ID, ts: 3500 }];
    const line = run(sig, ticks([1000, 100], [2000, 98], [3000, 99]), ops);
    // gross = .5*.02 + .5*.01 = .015
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'MANUAL_EXIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 98, fraction: 0.5, ts: 2000 },
        { reason: 'MANUAL', price: 99, fraction: 0.5, ts: 3500 },
      ],
      grossReturn: 0.015,
      netReturn: 0.015,
      rMultiple: null,
      mfe: 0.02,
      mae: 0,
      closedAt: 3500,
      holdingMs: 2500,
    });
  });

  it('exit on a pending signal is a cancel (its price is ignored); later ticks do not fill it', () => {
    const sig = signal({ entry: { type: 'limit', price: 90 } });
    const ops: Operation[] = [{ op: 'exit', id: ID, ts: 1500, price: 95 }];
    const result = evaluate([sig], ticks([1000, 100], [2000, 89]), ops);
    expect(result.rejectedOps).toEqual([]);
    expectLine(result.lines[0] as OutcomeLine, {
      id: ID,
      state: 'closed',
      outcome: 'CANCELLED',
      legs: [],
      closedAt: 1500,
    });
  });

  it('cancel closes a pending short as CANCELLED at the op ts', () => {
    const sig = signal({ side: 'short', entry: { type: 'limit', price: 110 } });
    const ops: Operation[] = [{ op: 'cancel', id: ID, ts: 2500 }];
    const line = run(sig, ticks([1000, 100], [2000, 105], [3000, 111]), ops);
    expectLine(line, { id: ID, state: 'closed', outcome: 'CANCELLED', legs: [], closedAt: 2500 });
  });

  it('cancel on a filled long is an exit at the last exit trigger price', () => {
    const sig = signal({ stopLoss: { price: 95 } });
    const ops: Operation[] = [{ op: 'cancel', id: ID, ts: 2000 }];
    const line = run(sig, ticks([1000, 100], [2000, 98], [3000, 110]), ops);
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'MANUAL_EXIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'MANUAL', price: 98, fraction: 1, ts: 2000 }],
      grossReturn: -0.02,
      netReturn: -0.02,
      rMultiple: -0.4,
      mfe: 0,
      mae: -0.02,
      closedAt: 2000,
      holdingMs: 1000,
    });
  });

  it('an op applies after the ticks with ts <= op.ts: a market fill at the same ts comes first', () => {
    const ops: Operation[] = [{ op: 'cancel', id: ID, ts: 1000 }];
    const line = run(signal(), ticks([1000, 100], [2000, 101]), ops);
    expect(line.outcome).toBe('MANUAL_EXIT');
    expect(line.legs).toEqual([{ reason: 'MANUAL', price: 100, fraction: 1, ts: 1000 }]);
    expect(line.holdingMs).toBe(0);
  });

  it('an op applies before the first later tick: a cancel just before the market fill cancels it', () => {
    const sig = signal({ createdAt: 1000 });
    const ops: Operation[] = [{ op: 'cancel', id: ID, ts: 1000 }];
    const line = run(sig, ticks([1001, 100]), ops);
    expectLine(line, { id: ID, state: 'closed', outcome: 'CANCELLED', legs: [], closedAt: 1000 });
  });

  it('an op is placed on its own symbol’s timeline, not by other symbols’ ticks', () => {
    // The ETH tick at 5000 must not flush the BTC exit at 3000 before BTC's tick at 2000.
    const ops: Operation[] = [{ op: 'exit', id: ID, ts: 3000 }];
    const line = run(
      signal(),
      [tick(1000, 100), { symbol: 'ETH', ts: 5000, price: 1 }, tick(2000, 102)],
      ops,
    );
    expect(line.legs).toEqual([{ reason: 'MANUAL', price: 102, fraction: 1, ts: 3000 }]);
  });

  it('ops left after the last tick apply in ts order (not file order)', () => {
    const later: Operation = { op: 'amend', id: ID, ts: 5000, stopLoss: { price: 99 } };
    const earlier: Operation = { op: 'exit', id: ID, ts: 4000, price: 104 };
    const result = evaluate([signal({ stopLoss: { price: 95 } })], ticks([1000, 100], [2000, 102]), [
      later,
      earlier,
    ]);
    expect(result.lines[0]?.legs).toEqual([{ reason: 'MANUAL', price: 104, fraction: 1, ts: 4000 }]);
    expectOnlyRejection(result.rejectedOps, later);
  });

  it('ops with equal ts apply in file order: the second finds the signal closed', () => {
    const first: Operation = { op: 'exit', id: ID, ts: 3000, price: 105 };
    const second: Operation = { op: 'cancel', id: ID, ts: 3000 };
    const result = evaluate([signal()], ticks([1000, 100], [2000, 101]), [first, second]);
    expect(result.lines[0]?.legs).toEqual([{ reason: 'MANUAL', price: 105, fraction: 1, ts: 3000 }]);
    expectOnlyRejection(result.rejectedOps, second);
  });
});

describe('SPEC: operations — amend', () => {
  it('amending a filled long’s stop moves it (stopKind amended); rMultiple keeps the stop at the fill', () => {
    const sig = signal({ stopLoss: { price: 95 } });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 2500, stopLoss: { price: 99 } }];
    const result = evaluate([sig], ticks([1000, 100], [2000, 102], [3000, 98.5]), ops);
    expect(result.rejectedOps).toEqual([]);
    // r = -1.5 / |100 - 95|
    expectLine(result.lines[0] as OutcomeLine, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'amended', price: 98.5, fraction: 1, ts: 3000 }],
      grossReturn: -0.015,
      netReturn: -0.015,
      rMultiple: -0.3,
      mfe: 0.02,
      mae: -0.015,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('amending a filled short’s stop moves it down', () => {
    const sig = signal({ side: 'short', stopLoss: { price: 105 } });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 2500, stopLoss: { price: 101 } }];
    const line = run(sig, ticks([1000, 100], [2000, 98], [3000, 101.5]), ops);
    expect(line.legs).toEqual([{ reason: 'SL', stopKind: 'amended', price: 101.5, fraction: 1, ts: 3000 }]);
    expectClose(line.grossReturn, -0.015, 'grossReturn');
    expectClose(line.rMultiple, -0.3, 'rMultiple');
  });

  it('amending a filled long’s unfilled TP moves its price from the next tick on', () => {
    const sig = signal({ takeProfits: [tp(104, 0.5), tp(108, 0.5)] });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 1, price: 103 }] }];
    const result = evaluate([sig], ticks([1000, 100], [2000, 102.5], [3000, 103]), ops);
    // The amend at 2500 needs 103 above the last exit price 102.5; the 103 tick at 3000 then fills TP1.
    expect(result.rejectedOps).toEqual([]);
    expectLine(result.lines[0] as OutcomeLine, {
      id: ID,
      state: 'partial',
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TP', level: 1, price: 103, fraction: 0.5, ts: 3000 }],
      mfe: 0.03,
      mae: 0,
    });
  });

  it('amending a filled short’s runner TP after TP1 filled', () => {
    const sig = signal({ side: 'short', takeProfits: [tp(98, 0.5), tp(90, 0.5)] });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 2, price: 96 }] }];
    const line = run(sig, ticks([1000, 100], [2000, 98], [3000, 96]), ops);
    expect(line.outcome).toBe('TP_HIT');
    expect(line.legs).toEqual([
      { reason: 'TP', level: 1, price: 98, fraction: 0.5, ts: 2000 },
      { reason: 'TP', level: 2, price: 96, fraction: 0.5, ts: 3000 },
    ]);
    expectClose(line.grossReturn, 0.03, 'grossReturn');
  });

  it('a stop amended while pending is the stop at the fill: it sets rMultiple and stays "amended"', () => {
    const sig = signal({
      entry: { type: 'limit', price: 100 },
      stopLoss: { price: 95 },
      takeProfits: [tp(110, 1)],
    });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 1500, stopLoss: { price: 97 } }];
    const line = run(sig, ticks([1000, 102], [2000, 99.5], [3000, 96.5]), ops);
    // Fill 100 (resting) at 2000, exit p 99.5; 96.5 stops out on 97. r = -3.5 / 3
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: false,
      fill: { ts: 2000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'amended', price: 96.5, fraction: 1, ts: 3000 }],
      grossReturn: -0.035,
      netReturn: -0.035,
      rMultiple: -1.1666666666666667,
      mfe: 0,
      mae: -0.035,
      closedAt: 3000,
      holdingMs: 1000,
    });
  });

  it('a pending market signal has no reference: a stop above the market is accepted, then the fill is invalid', () => {
    const sig = signal({ createdAt: 1000, takeProfits: [tp(110, 1)] });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 1000, stopLoss: { price: 105 } }];
    const result = evaluate([sig], ticks([1001, 100]), ops);
    expect(result.rejectedOps).toEqual([]);
    expectLine(result.lines[0] as OutcomeLine, {
      id: ID,
      state: 'closed',
      outcome: 'INVALID_AT_FILL',
      fill: { ts: 1001, price: 100 },
      legs: [],
      closedAt: 1001,
      holdingMs: 0,
    });
  });

  it('a pending amend of TP1 moves the level checked at the fill', () => {
    // TP1 amended from 110 to 104 while pending; the market fill at 104 is at TP1 -> invalid.
    const sig = signal({ stopLoss: { price: 90 }, takeProfits: [tp(110, 1)] });
    const ops: Operation[] = [{ op: 'amend', id: ID, ts: 1000, takeProfits: [{ level: 1, price: 104 }] }];
    const line = run(sig, ticks([1001, 104]), ops);
    expect(line.outcome).toBe('INVALID_AT_FILL');
  });
});

describe('SPEC: operations — rejections change nothing', () => {
  const filledLong = (): SignalPayload =>
    signal({ stopLoss: { price: 95 }, takeProfits: [tp(104, 0.5), tp(108, 0.5)] });
  // Fill 100 at 1000, 102 at 2000 (the last exit price when ops at 2500 apply), 98.5 at 3000.
  const filledTicks = (): Tick[] => ticks([1000, 100], [2000, 102], [3000, 98.5]);
  const untouched: OutcomeLine = {
    id: ID,
    state: 'open',
    fill: { ts: 1000, price: 100 },
    legs: [],
    mfe: 0.02,
    mae: -0.015,
  };

  it('an op naming an unknown signal id', () => {
    const op: Operation = { op: 'exit', id: 'nope', ts: 2500 };
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op, 'nope');
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('an op timed before the signal’s createdAt', () => {
    const sig = signal({ createdAt: 1000, entry: { type: 'limit', price: 90 } });
    const op: Operation = { op: 'cancel', id: ID, ts: 999 };
    const result = evaluate([sig], ticks([1000, 100]), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expectLine(result.lines[0] as OutcomeLine, { id: ID, state: 'pending', legs: [] });
  });

  it('an op on a signal already closed', () => {
    const op: Operation = { op: 'exit', id: ID, ts: 3500, price: 120 };
    const result = evaluate([signal({ takeProfits: [tp(102, 1)] })], ticks([1000, 100], [2000, 102]), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expect(result.lines[0]?.outcome).toBe('TP_HIT');
    expect(result.lines[0]?.closedAt).toBe(2000);
  });

  it('an unknown top-level field (named in the reasons)', () => {
    const op = rawOp({ op: 'exit', id: ID, ts: 2500, price: 101, reason: 'manual' });
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op, 'reason');
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('a misspelt amend field (stopLos) is rejected, not ignored', () => {
    const op = rawOp({ op: 'amend', id: ID, ts: 2500, stopLos: { price: 99 } });
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op, 'stopLos');
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('an unknown nested field in an amend', () => {
    const op = rawOp({ op: 'amend', id: ID, ts: 2500, stopLoss: { price: 99, kind: 'hard' } });
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op, 'kind');
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('an unknown field inside an amended TP', () => {
    const op = rawOp({ op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 1, price: 105, fraction: 1 }] });
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op, 'fraction');
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it.each([
    ['a price given as a string', { op: 'exit', id: ID, ts: 2500, price: '101' }],
    ['a null price', { op: 'exit', id: ID, ts: 2500, price: null }],
    ['a negative price', { op: 'exit', id: ID, ts: 2500, price: -1 }],
    ['a non-integer ts', { op: 'exit', id: ID, ts: 2500.5 }],
    ['an unknown op kind', { op: 'close', id: ID, ts: 2500 }],
    ['a numeric id', { op: 'exit', id: 1, ts: 2500 }],
    ['a stopLoss that is not an object', { op: 'amend', id: ID, ts: 2500, stopLoss: 99 }],
    [
      'takeProfits that is not an array',
      { op: 'amend', id: ID, ts: 2500, takeProfits: { level: 1, price: 105 } },
    ],
    ['a TP level 0', { op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 0, price: 105 }] }],
    ['a TP price of zero', { op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 1, price: 0 }] }],
  ])('a bad field type: %s', (_name, fields) => {
    const op = rawOp(fields);
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('an amend that changes nothing (same stop price)', () => {
    const op: Operation = { op: 'amend', id: ID, ts: 2500, stopLoss: { price: 95 } };
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('an amend that changes nothing (no fields, or the same TP price)', () => {
    const empty: Operation = { op: 'amend', id: ID, ts: 2500 };
    const same: Operation = { op: 'amend', id: ID, ts: 2600, takeProfits: [{ level: 2, price: 108 }] };
    const result = evaluate([filledLong()], filledTicks(), [empty, same]);
    expect(result.rejectedOps.map((r) => r.op)).toEqual([empty, same]);
    for (const r of result.rejectedOps) expect(r.errors.length).toBeGreaterThan(0);
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('an amend naming a filled TP level', () => {
    const sig = signal({ stopLoss: { price: 95 }, takeProfits: [tp(102, 0.5), tp(108, 0.5)] });
    const op: Operation = { op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 1, price: 103 }] };
    const result = evaluate([sig], ticks([1000, 100], [2000, 102], [3000, 103]), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expect(result.lines[0]?.legs).toEqual([{ reason: 'TP', level: 1, price: 102, fraction: 0.5, ts: 2000 }]);
  });

  it('an amend naming a TP level that does not exist', () => {
    const op: Operation = { op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 3, price: 112 }] };
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('a filled long amend putting the stop at or above the last exit price (102)', () => {
    const op: Operation = { op: 'amend', id: ID, ts: 2500, stopLoss: { price: 102 } };
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('a filled long amend putting TP1 at or below the last exit price (102)', () => {
    const op: Operation = { op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 1, price: 101 }] };
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('a filled long amend breaking the TP order (TP2 below TP1)', () => {
    const op: Operation = { op: 'amend', id: ID, ts: 2500, takeProfits: [{ level: 2, price: 103 }] };
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('an amend with a valid stop but a bad TP is rejected whole: the stop does not move', () => {
    // Had the stop moved to 99, the 98.5 tick would stop out.
    const op: Operation = {
      op: 'amend',
      id: ID,
      ts: 2500,
      stopLoss: { price: 99 },
      takeProfits: [{ level: 1, price: 101 }],
    };
    const result = evaluate([filledLong()], filledTicks(), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expectLine(result.lines[0] as OutcomeLine, untouched);
  });

  it('a filled short amend putting the stop below the last exit price or a TP above it', () => {
    const sig = signal({ side: 'short', stopLoss: { price: 105 }, takeProfits: [tp(96, 1)] });
    const badStop: Operation = { op: 'amend', id: ID, ts: 2500, stopLoss: { price: 97 } };
    const badTp: Operation = { op: 'amend', id: ID, ts: 2600, takeProfits: [{ level: 1, price: 99 }] };
    const result = evaluate([sig], ticks([1000, 100], [2000, 98]), [badStop, badTp]);
    expect(result.rejectedOps.map((r) => r.op)).toEqual([badStop, badTp]);
    expectLine(result.lines[0] as OutcomeLine, {
      id: ID,
      state: 'open',
      fill: { ts: 1000, price: 100 },
      legs: [],
      mfe: 0.02,
      mae: 0,
    });
  });

  it('a pending limit long amend must keep stop < limit < TP1', () => {
    const sig = signal({
      entry: { type: 'limit', price: 100 },
      stopLoss: { price: 95 },
      takeProfits: [tp(110, 1)],
    });
    const badStop: Operation = { op: 'amend', id: ID, ts: 1500, stopLoss: { price: 100 } };
    const badTp: Operation = { op: 'amend', id: ID, ts: 1600, takeProfits: [{ level: 1, price: 99 }] };
    const result = evaluate([sig], ticks([1000, 102], [2000, 94]), [badStop, badTp]);
    expect(result.rejectedOps.map((r) => r.op)).toEqual([badStop, badTp]);
    // Unchanged: the resting limit fills at its own price 100 (valid against the stop 95) even though the
    // tick gapped to 94, which only enters the excursions.
    expectLine(result.lines[0] as OutcomeLine, {
      id: ID,
      state: 'open',
      fill: { ts: 2000, price: 100 },
      legs: [],
      mfe: 0,
      mae: -0.06,
    });
  });

  it('a pending short stop-entry amend must keep stop > entry > TP1', () => {
    const sig = signal({
      side: 'short',
      entry: { type: 'stop', price: 95 },
      stopLoss: { price: 100 },
      takeProfits: [tp(90, 1)],
    });
    const badTp: Operation = { op: 'amend', id: ID, ts: 1500, takeProfits: [{ level: 1, price: 96 }] };
    const badStop: Operation = { op: 'amend', id: ID, ts: 1600, stopLoss: { price: 94 } };
    const result = evaluate([sig], ticks([1000, 98]), [badTp, badStop]);
    expect(result.rejectedOps.map((r) => r.op)).toEqual([badTp, badStop]);
    expectLine(result.lines[0] as OutcomeLine, { id: ID, state: 'pending', legs: [] });
  });

  it('a pending market amend must keep the stop below TP1 (long)', () => {
    const sig = signal({ createdAt: 1000, takeProfits: [tp(110, 1)] });
    const op: Operation = { op: 'amend', id: ID, ts: 1000, stopLoss: { price: 111 } };
    const result = evaluate([sig], ticks([1001, 100]), [op]);
    expectOnlyRejection(result.rejectedOps, op);
    expect(result.lines[0]?.state).toBe('open');
  });
});

// ---------------------------------------------------------------------------------------------
// v1.1 and v1.2. Slippage tests use 78.125 bps (s = 5/640, 1 ± s dyadic) on prices that are
// multiples of 128, so every slipped price is exact: 128 → 129 in, 120 → 119.0625 out.

const SLIP = 78.125;

describe('SPEC v1.1: comparing prices with levels (1e-12 relative)', () => {
  it('long: a breakeven stop of 100·(1 + 0.005) = 100.49999999999999 is touched by a tick at 100.5', () => {
    const sig = signal({ takeProfits: [tp(110, 0.5)], breakevenAfterTp: 1, breakevenOffsetBps: 50 });
    const line = run(sig, ticks([1000, 100], [2000, 110], [3000, 100.5]));
    // gross = .5·.1 + .5·.005 = .0525
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 110, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'breakeven', price: 100.5, fraction: 0.5, ts: 3000 },
      ],
      grossReturn: 0.0525,
      netReturn: 0.0525,
      rMultiple: null,
      mfe: 0.1,
      mae: 0,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('short: a breakeven stop of 100·(1 − 0.0004) = 99.96000000000001 is touched by a tick at 99.96', () => {
    const sig = signal({
      side: 'short',
      takeProfits: [tp(90, 0.5)],
      breakevenAfterTp: 1,
      breakevenOffsetBps: 4,
    });
    const line = run(sig, ticks([1000, 100], [2000, 90], [3000, 99.96]));
    // gross = .5·.1 + .5·.0004 = .0502
    expect(line.legs).toEqual([
      { reason: 'TP', level: 1, price: 90, fraction: 0.5, ts: 2000 },
      { reason: 'SL', stopKind: 'breakeven', price: 99.96, fraction: 0.5, ts: 3000 },
    ]);
    expectClose(line.grossReturn, 0.0502, 'grossReturn');
  });

  it('tolerance bands: long TP 110·(1 − 2 bps) and short stop 110·(1 − 2 bps) touched at 109.978', () => {
    const long = run(
      signal({ takeProfits: [tp(110, 1)], toleranceBps: 2 }),
      ticks([1000, 100], [2000, 109.978]),
    );
    expect(long.legs).toEqual([{ reason: 'TP', level: 1, price: 110, fraction: 1, ts: 2000 }]);
    const short = run(
      signal({ side: 'short', stopLoss: { price: 110 }, toleranceBps: 2 }),
      ticks([1000, 100], [2000, 109.978]),
    );
    expect(short.legs).toEqual([
      { reason: 'SL', stopKind: 'initial', price: 109.978, fraction: 1, ts: 2000 },
    ]);
    expectClose(short.rMultiple, -0.9978, 'short rMultiple');
  });

  it('tolerance bands: long stop 90·(1 + 6 bps) touched at 90.054, short TP 90·(1 + 10 bps) at 90.09', () => {
    const long = run(
      signal({ stopLoss: { price: 90 }, toleranceBps: 6 }),
      ticks([1000, 100], [2000, 90.054]),
    );
    expect(long.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 90.054, fraction: 1, ts: 2000 }]);
    const short = run(
      signal({ side: 'short', takeProfits: [tp(90, 1)], toleranceBps: 10 }),
      ticks([1000, 100], [2000, 90.09]),
    );
    expect(short.legs).toEqual([{ reason: 'TP', level: 1, price: 90, fraction: 1, ts: 2000 }]);
  });

  it('INVALID_AT_FILL compares with the slack: long fill 100·1.005 at TP1 100.5, short fill 100·0.9996 at TP1 99.96', () => {
    const long = run(signal({ slippageBps: 50, takeProfits: [tp(100.5, 1)] }), ticks([1000, 100]));
    expectLine(long, {
      id: ID,
      state: 'closed',
      outcome: 'INVALID_AT_FILL',
      fill: { ts: 1000, price: 100 * (1 + 0.005) },
      legs: [],
      closedAt: 1000,
      holdingMs: 0,
    });
    const short = run(
      signal({ side: 'short', slippageBps: 4, takeProfits: [tp(99.96, 1)] }),
      ticks([1000, 100]),
    );
    expect(short.outcome).toBe('INVALID_AT_FILL');
    expect(short.fill).toEqual({ ts: 1000, price: 100 * (1 - 0.0004) });
  });
});

describe('SPEC v1.2: slippage', () => {
  it('long: market entry and trigger stop slipped, TP at its level', () => {
    const sig = signal({
      slippageBps: SLIP,
      stopLoss: { price: 120 },
      takeProfits: [tp(140, 0.5), tp(160, 0.5)],
    });
    const line = run(sig, ticks([1000, 128], [2000, 140], [3000, 120]));
    // fill 129; TP1 140; SL trigger 120 → 119.0625. gross = (.5·11 − .5·9.9375)/129; r = same / 9.
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 129 },
      legs: [
        { reason: 'TP', level: 1, price: 140, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'initial', price: 119.0625, fraction: 0.5, ts: 3000 },
      ],
      grossReturn: 0.53125 / 129,
      netReturn: 0.53125 / 129,
      rMultiple: 0.53125 / 9,
      mfe: 11 / 129,
      mae: -9 / 129,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('short: market entry and trigger stop slipped, TP at its level', () => {
    const sig = signal({
      side: 'short',
      slippageBps: SLIP,
      stopLoss: { price: 136 },
      takeProfits: [tp(116, 0.5), tp(100, 0.5)],
    });
    const line = run(sig, ticks([1000, 128], [2000, 116], [3000, 136]));
    // fill 127; TP1 116; SL trigger 136 → 137.0625. gross = (.5·11 − .5·10.0625)/127; r = same / 9.
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 127 },
      legs: [
        { reason: 'TP', level: 1, price: 116, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'initial', price: 137.0625, fraction: 0.5, ts: 3000 },
      ],
      grossReturn: 0.46875 / 127,
      netReturn: 0.46875 / 127,
      rMultiple: 0.46875 / 9,
      mfe: 11 / 127,
      mae: -9 / 127,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('limit entries: a marketable one slips but never beyond its limit; a resting one fills at its level', () => {
    const fillOf = (fields: Partial<SignalPayload>, list: Tick[]): unknown =>
      run(signal({ slippageBps: SLIP, ...fields }), list).fill;
    expect(fillOf({ entry: { type: 'limit', price: 128.5 } }, ticks([1000, 128]))).toEqual({
      ts: 1000,
      price: 128.5,
    });
    expect(fillOf({ entry: { type: 'limit', price: 130 } }, ticks([1000, 128]))).toEqual({
      ts: 1000,
      price: 129,
    });
    expect(fillOf({ entry: { type: 'limit', price: 120 } }, ticks([1000, 128], [2000, 120]))).toEqual({
      ts: 2000,
      price: 120,
    });
    const short = { side: 'short' as const };
    expect(fillOf({ ...short, entry: { type: 'limit', price: 127.5 } }, ticks([1000, 128]))).toEqual({
      ts: 1000,
      price: 127.5,
    });
    expect(fillOf({ ...short, entry: { type: 'limit', price: 126 } }, ticks([1000, 128]))).toEqual({
      ts: 1000,
      price: 127,
    });
    expect(
      fillOf({ ...short, entry: { type: 'limit', price: 136 } }, ticks([1000, 128], [2000, 136])),
    ).toEqual({
      ts: 2000,
      price: 136,
    });
  });

  it('stop entries slip: long 132 → 133.03125, short 124 → 123.03125', () => {
    const long = run(
      signal({ slippageBps: SLIP, entry: { type: 'stop', price: 130 } }),
      ticks([1000, 128], [2000, 132]),
    );
    expect(long.fill).toEqual({ ts: 2000, price: 133.03125 });
    const short = run(
      signal({ side: 'short', slippageBps: SLIP, entry: { type: 'stop', price: 125 } }),
      ticks([1000, 128], [2000, 124]),
    );
    expect(short.fill).toEqual({ ts: 2000, price: 123.03125 });
  });

  it('stopFill level books the level itself, without slippage', () => {
    const line = run(
      signal({ slippageBps: SLIP, stopLoss: { price: 120 }, stopFill: 'level' }),
      ticks([1000, 128], [2000, 119]),
    );
    expect(line.legs).toEqual([{ reason: 'SL', stopKind: 'initial', price: 120, fraction: 1, ts: 2000 }]);
  });

  it('time exits slip: long out at 136 → 134.9375, short out at 120 → 120.9375', () => {
    const long = run(signal({ slippageBps: SLIP, timeLimitMs: 1000 }), ticks([1000, 128], [2000, 136]));
    expect(long.legs).toEqual([{ reason: 'TIME', price: 134.9375, fraction: 1, ts: 2000 }]);
    expectClose(long.grossReturn, 5.9375 / 129, 'long grossReturn');
    const short = run(
      signal({ side: 'short', slippageBps: SLIP, timeLimitMs: 1000 }),
      ticks([1000, 128], [2000, 120]),
    );
    expect(short.legs).toEqual([{ reason: 'TIME', price: 120.9375, fraction: 1, ts: 2000 }]);
    expectClose(short.grossReturn, 6.0625 / 127, 'short grossReturn');
  });

  it('a manual exit slips without a price and books a given price as it is', () => {
    const sig = signal({ slippageBps: SLIP });
    const list = ticks([1000, 128], [1500, 136]);
    const bare = run(sig, list, [{ op: 'exit', id: ID, ts: 2000 }]);
    expect(bare.legs).toEqual([{ reason: 'MANUAL', price: 134.9375, fraction: 1, ts: 2000 }]);
    const priced = run(sig, list, [{ op: 'exit', id: ID, ts: 2000, price: 135 }]);
    expect(priced.legs).toEqual([{ reason: 'MANUAL', price: 135, fraction: 1, ts: 2000 }]);
    const short = run(signal({ side: 'short', slippageBps: SLIP }), ticks([1000, 128], [1500, 120]), [
      { op: 'exit', id: ID, ts: 2000 },
    ]);
    expect(short.legs).toEqual([{ reason: 'MANUAL', price: 120.9375, fraction: 1, ts: 2000 }]);
  });

  it('breakeven uses the booked (slipped) entry: long stop moves to 129, filled at 129 → 127.9921875', () => {
    const sig = signal({ slippageBps: SLIP, takeProfits: [tp(140, 0.5)], breakevenAfterTp: 1 });
    const line = run(sig, ticks([1000, 128], [2000, 140], [3000, 129]));
    expect(line.legs).toEqual([
      { reason: 'TP', level: 1, price: 140, fraction: 0.5, ts: 2000 },
      { reason: 'SL', stopKind: 'breakeven', price: 127.9921875, fraction: 0.5, ts: 3000 },
    ]);
  });

  it('short: trailing from the fill starts at the booked entry (127 → stop 127·1.125 = 142.875)', () => {
    const sig = signal({
      side: 'short',
      slippageBps: SLIP,
      trailing: { distanceBps: 1250, activation: 'fill' },
    });
    const line = run(sig, ticks([1000, 128], [2000, 142], [3000, 143]));
    // 142 holds (below 142.875); 143 stops, slipped out: 143·(1 + s) = 144.1171875.
    expect(line.legs).toEqual([
      { reason: 'SL', stopKind: 'trailing', price: 144.1171875, fraction: 1, ts: 3000 },
    ]);
  });
});

describe('SPEC v1.2: return table (roi)', () => {
  const table = [
    { afterMs: 0, returnBps: 500 },
    { afterMs: 2000, returnBps: 100 },
    { afterMs: 5000, returnBps: -200 },
  ];

  it('long: the entry in force by holding time sets the level; 102 ≥ 101 after 2 s exits', () => {
    // held 1000: level 105, 104 holds; held 2000: level 101, 102 exits at 102.
    const line = run(signal({ roi: table }), ticks([1000, 100], [2000, 104], [3000, 102]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'ROI_EXIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'ROI', price: 102, fraction: 1, ts: 3000 }],
      grossReturn: 0.02,
      netReturn: 0.02,
      rMultiple: null,
      mfe: 0.04,
      mae: 0,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('long: a negative return exits at a bounded loss once its time comes (98 after 5 s)', () => {
    const line = run(
      signal({ roi: table }),
      ticks([1000, 100], [2000, 100.5], [3000, 100.5], [4000, 97], [6000, 98]),
    );
    // 97 at held 3000 is below 101: holds. Held 5000: level 98, 98 exits.
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'ROI_EXIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'ROI', price: 98, fraction: 1, ts: 6000 }],
      grossReturn: -0.02,
      netReturn: -0.02,
      rMultiple: null,
      mfe: 0.005,
      mae: -0.03,
      closedAt: 6000,
      holdingMs: 5000,
    });
  });

  it('short: levels mirror below the entry; 98.5 ≤ 99 after 2 s exits', () => {
    const line = run(signal({ side: 'short', roi: table }), ticks([1000, 100], [2000, 96], [3000, 98.5]));
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'ROI_EXIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'ROI', price: 98.5, fraction: 1, ts: 3000 }],
      grossReturn: 0.015,
      netReturn: 0.015,
      rMultiple: null,
      mfe: 0.04,
      mae: 0,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('no entry in force before the first afterMs', () => {
    const line = run(signal({ roi: [{ afterMs: 5000, returnBps: 100 }] }), ticks([1000, 100], [2000, 110]));
    expectLine(line, { id: ID, state: 'open', fill: { ts: 1000, price: 100 }, legs: [], mfe: 0.1, mae: 0 });
  });

  it('closes the remainder after a TP: ROI last, so partial', () => {
    const sig = signal({ takeProfits: [tp(110, 0.5)], roi: [{ afterMs: 3000, returnBps: 500 }] });
    const line = run(sig, ticks([1000, 100], [2000, 110], [3000, 106], [4000, 106]));
    // held 2000 at 106: no entry yet; held 3000: level 105, exits the .5 at 106. gross .05 + .03.
    expect(line.outcome).toBe('ROI_EXIT');
    expect(line.partial).toBe(true);
    expect(line.legs).toEqual([
      { reason: 'TP', level: 1, price: 110, fraction: 0.5, ts: 2000 },
      { reason: 'ROI', price: 106, fraction: 0.5, ts: 4000 },
    ]);
    expectClose(line.grossReturn, 0.08, 'grossReturn');
  });

  it('the stop comes before the return table, the return table before the time limit', () => {
    const stopFirst = run(
      signal({ stopLoss: { price: 97 }, roi: [{ afterMs: 0, returnBps: -400 }] }),
      ticks([1000, 100], [2000, 96.5]),
    );
    expect(stopFirst.legs).toEqual([
      { reason: 'SL', stopKind: 'initial', price: 96.5, fraction: 1, ts: 2000 },
    ]);
    const roiFirst = run(
      signal({ side: 'short', timeLimitMs: 2000, roi: [{ afterMs: 1000, returnBps: 100 }] }),
      ticks([1000, 100], [3000, 98]),
    );
    expect(roiFirst.outcome).toBe('ROI_EXIT');
    expect(roiFirst.legs).toEqual([{ reason: 'ROI', price: 98, fraction: 1, ts: 3000 }]);
  });

  it('the level is from the booked entry and the exit slips: long 128 → 129, out at 129 → 127.9921875', () => {
    const sig = signal({ slippageBps: SLIP, roi: [{ afterMs: 0, returnBps: 0 }] });
    const line = run(sig, ticks([1000, 128], [2000, 128.5], [3000, 129]));
    expect(line.legs).toEqual([{ reason: 'ROI', price: 127.9921875, fraction: 1, ts: 3000 }]);
  });
});

describe('SPEC v1.1: manual exit of a fraction, and the fat-finger guard', () => {
  it('long: exit .25, then TP1 books its .5 and TP2 at most the .25 left: TP_HIT, not partial', () => {
    const sig = signal({ takeProfits: [tp(110, 0.5), tp(120, 0.5)] });
    const op: Operation = { op: 'exit', id: ID, ts: 3000, fraction: 0.25 };
    const during = run(sig, ticks([1000, 100], [2000, 104]), [op]);
    expectLine(during, {
      id: ID,
      state: 'partial',
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'MANUAL', price: 104, fraction: 0.25, ts: 3000 }],
      mfe: 0.04,
      mae: 0,
    });
    const line = run(sig, ticks([1000, 100], [2000, 104], [4000, 110], [5000, 120]), [op]);
    // gross = .25·.04 + .5·.1 + .25·.2 = .11
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'MANUAL', price: 104, fraction: 0.25, ts: 3000 },
        { reason: 'TP', level: 1, price: 110, fraction: 0.5, ts: 4000 },
        { reason: 'TP', level: 2, price: 120, fraction: 0.25, ts: 5000 },
      ],
      grossReturn: 0.11,
      netReturn: 0.11,
      rMultiple: null,
      mfe: 0.2,
      mae: 0,
      closedAt: 5000,
      holdingMs: 4000,
    });
  });

  it('short: exit .25, then the TPs book the rest', () => {
    const sig = signal({ side: 'short', takeProfits: [tp(90, 0.5), tp(80, 0.5)] });
    const op: Operation = { op: 'exit', id: ID, ts: 3000, fraction: 0.25 };
    const line = run(sig, ticks([1000, 100], [2000, 96], [4000, 90], [5000, 80]), [op]);
    expect(line.legs).toEqual([
      { reason: 'MANUAL', price: 96, fraction: 0.25, ts: 3000 },
      { reason: 'TP', level: 1, price: 90, fraction: 0.5, ts: 4000 },
      { reason: 'TP', level: 2, price: 80, fraction: 0.25, ts: 5000 },
    ]);
    expect(line.outcome).toBe('TP_HIT');
    expect(line.partial).toBe(false);
    expectClose(line.grossReturn, 0.11, 'grossReturn');
  });

  it('two manual legs close as MANUAL_EXIT, partial', () => {
    const ops: Operation[] = [
      { op: 'exit', id: ID, ts: 2500, price: 103, fraction: 0.5 },
      { op: 'exit', id: ID, ts: 3500 },
    ];
    const line = run(signal(), ticks([1000, 100], [2000, 104], [3000, 102]), ops);
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'MANUAL_EXIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'MANUAL', price: 103, fraction: 0.5, ts: 2500 },
        { reason: 'MANUAL', price: 102, fraction: 0.5, ts: 3500 },
      ],
      grossReturn: 0.025,
      netReturn: 0.025,
      rMultiple: null,
      mfe: 0.04,
      mae: 0,
      closedAt: 3500,
      holdingMs: 2500,
    });
  });

  it('a fraction above what remains books the remainder and closes; a short then stops the rest', () => {
    const line = run(signal({ takeProfits: [tp(110, 0.75)] }), ticks([1000, 100], [2000, 110]), [
      { op: 'exit', id: ID, ts: 2500, fraction: 0.5 },
    ]);
    expect(line.legs).toEqual([
      { reason: 'TP', level: 1, price: 110, fraction: 0.75, ts: 2000 },
      { reason: 'MANUAL', price: 110, fraction: 0.25, ts: 2500 },
    ]);
    expect(line.outcome).toBe('MANUAL_EXIT');
    expect(line.closedAt).toBe(2500);
    const short = run(
      signal({ side: 'short', stopLoss: { price: 105 } }),
      ticks([1000, 100], [2000, 98], [3000, 105]),
      [{ op: 'exit', id: ID, ts: 2500, fraction: 0.5 }],
    );
    // .5 at 98, .5 stopped at 105: gross .01 − .025 = −.015; SL last after a manual leg: partial.
    expect(short.legs).toEqual([
      { reason: 'MANUAL', price: 98, fraction: 0.5, ts: 2500 },
      { reason: 'SL', stopKind: 'initial', price: 105, fraction: 0.5, ts: 3000 },
    ]);
    expect(short.outcome).toBe('SL_HIT');
    expect(short.partial).toBe(true);
    expectClose(short.grossReturn, -0.015, 'grossReturn');
  });

  it('a fraction on a pending signal is rejected and changes nothing', () => {
    const op: Operation = { op: 'exit', id: ID, ts: 1500, fraction: 0.5 };
    const result = evaluate([signal({ entry: { type: 'limit', price: 90 } })], ticks([1000, 100]), [op]);
    expectOnlyRejection(result.rejectedOps, op, 'fraction');
    expectLine(result.lines[0] as OutcomeLine, { id: ID, state: 'pending', legs: [] });
  });

  it('long: a price more than 2000 bps from the last exit trigger price needs force (120 passes, 120.5 not)', () => {
    const list = ticks([1000, 100]);
    expect(run(signal(), list, [{ op: 'exit', id: ID, ts: 1500, price: 120 }]).legs).toEqual([
      { reason: 'MANUAL', price: 120, fraction: 1, ts: 1500 },
    ]);
    const fat: Operation = { op: 'exit', id: ID, ts: 1500, price: 120.5 };
    const refused = evaluate([signal()], list, [fat]);
    expectOnlyRejection(refused.rejectedOps, fat, '2000 bps');
    expectLine(refused.lines[0] as OutcomeLine, {
      id: ID,
      state: 'open',
      fill: { ts: 1000, price: 100 },
      legs: [],
      mfe: 0,
      mae: 0,
    });
    expect(run(signal(), list, [{ ...fat, force: true }]).legs).toEqual([
      { reason: 'MANUAL', price: 120.5, fraction: 1, ts: 1500 },
    ]);
  });

  it('short: 80 passes, 79.5 is refused unless forced', () => {
    const list = ticks([1000, 100]);
    const sig = signal({ side: 'short' });
    expect(run(sig, list, [{ op: 'exit', id: ID, ts: 1500, price: 80 }]).outcome).toBe('MANUAL_EXIT');
    const fat: Operation = { op: 'exit', id: ID, ts: 1500, price: 79.5 };
    expectOnlyRejection(evaluate([sig], list, [fat]).rejectedOps, fat, '2000 bps');
    expect(run(sig, list, [{ ...fat, force: true }]).legs).toEqual([
      { reason: 'MANUAL', price: 79.5, fraction: 1, ts: 1500 },
    ]);
  });
});

describe('SPEC v1.2: notional, pnl and fees', () => {
  it('long: TP then stop with fees, in currency', () => {
    const sig = signal({
      notional: 2000,
      feeBps: 10,
      stopLoss: { price: 95 },
      takeProfits: [tp(110, 0.5)],
    });
    const line = run(sig, ticks([1000, 100], [2000, 110], [3000, 95]));
    // gross .05 − .025 = .025; Σ f·exit/entry = .55 + .475 = 1.025; fee share .001·2.025 = .002025;
    // net .022975; pnl 2000·net = 45.95; fees 2000·.002025 = 4.05; r = (5 − 2.5)/5 = .5.
    expectLine(line, {
      id: ID,
      state: 'closed',
      outcome: 'SL_HIT',
      partial: true,
      fill: { ts: 1000, price: 100 },
      legs: [
        { reason: 'TP', level: 1, price: 110, fraction: 0.5, ts: 2000 },
        { reason: 'SL', stopKind: 'initial', price: 95, fraction: 0.5, ts: 3000 },
      ],
      grossReturn: 0.025,
      netReturn: 0.022975,
      rMultiple: 0.5,
      pnl: 45.95,
      fees: 4.05,
      mfe: 0.1,
      mae: -0.05,
      closedAt: 3000,
      holdingMs: 2000,
    });
  });

  it('short: TP then stop with fees, in currency', () => {
    const sig = signal({
      side: 'short',
      notional: 2000,
      feeBps: 10,
      stopLoss: { price: 105 },
      takeProfits: [tp(90, 0.5)],
    });
    const line = run(sig, ticks([1000, 100], [2000, 90], [3000, 105]));
    // Σ f·exit/entry = .45 + .525 = .975; fee share .001975; net .023025; pnl 46.05; fees 3.95.
    expect(line.pnl).toBeCloseTo(46.05, 9);
    expect(line.fees).toBeCloseTo(3.95, 9);
    expectClose(line.netReturn, 0.023025, 'netReturn');
  });

  it('no pnl or fees while open, nor on INVALID_AT_FILL', () => {
    const open = run(signal({ notional: 1000 }), ticks([1000, 100]));
    expect(open).not.toHaveProperty('pnl');
    expect(open).not.toHaveProperty('fees');
    const invalid = run(signal({ notional: 1000, stopLoss: { price: 100 } }), ticks([1000, 100]));
    expect(invalid.outcome).toBe('INVALID_AT_FILL');
    expect(invalid).not.toHaveProperty('pnl');
    expect(invalid).not.toHaveProperty('fees');
  });
});
