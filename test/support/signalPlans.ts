/**
 * Random signals and operations for property tests, as *plans*: abstract choices (which
 * feature, how many price steps from the anchor, how many time units) that `buildSignals`
 * and `buildOperations` turn into concrete payloads for a given tick path. Plans do not
 * depend on the path, so fast-check shrinks signals, operations and ticks independently, and
 * levels land near real prices whatever the data.
 *
 * Every SPEC feature can appear: market/limit/stop entries (marketable or resting), 0–4 TPs
 * with fractions summing to exactly 1 or leaving a runner, stops, breakeven with offset, the
 * three trailing activations, expiry, time limits, tolerance, confirmation, the three
 * triggers, both stop fills, fees, slippage, return tables (rising and falling, negative
 * returns), notional, grouping keys and meta; exits in part, forced and refused exit prices. Prices are integer multiples of a
 * grid (1/8 for random walks: exact in binary; 1/100 for real data), and level gaps are whole
 * grid steps, so the level order SPEC's validation requires always holds.
 */
import fc from 'fast-check';
import type { Operation, SignalPayload, Tick, TrailingActivation } from '../../machines/types.ts';

// ---------------------------------------------------------------------------------------------
// The market a plan is built against

export interface Market {
  ticks: Tick[];
  symbols: string[];
  /** Each symbol's ticks in arrival order (late ones included). */
  bySymbol: Map<string, Tick[]>;
  /** Grid units per 1.0 of price: prices are n / perUnit for integer n. */
  perUnit: number;
  /** Per symbol: one price step in grid units (about an eighth of the symbol's range). */
  step: Map<string, number>;
  /** One time unit in ms: the mean gap between ticks (at least 1). */
  timeUnit: number;
  firstTs: number;
  lastTs: number;
}

/** Measures a tick path so that plans can be scaled to it. */
export function describeMarket(ticks: Tick[], perUnit: number): Market {
  const bySymbol = new Map<string, Tick[]>();
  for (const tick of ticks) {
    let list = bySymbol.get(tick.symbol);
    if (list === undefined) bySymbol.set(tick.symbol, (list = []));
    list.push(tick);
  }
  const step = new Map<string, number>();
  for (const [symbol, list] of bySymbol) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of list) {
      lo = Math.min(lo, t.price);
      hi = Math.max(hi, t.price);
    }
    step.set(symbol, Math.max(1, Math.round(((hi - lo) * perUnit) / 8)));
  }
  // A loop, not Math.min(...ts): a real tick file has more ticks than a call has room for arguments.
  let firstTs = Infinity;
  let lastTs = -Infinity;
  for (const t of ticks) {
    firstTs = Math.min(firstTs, t.ts);
    lastTs = Math.max(lastTs, t.ts);
  }
  if (ticks.length === 0) firstTs = lastTs = 1000;
  return {
    ticks,
    symbols: [...bySymbol.keys()],
    bySymbol,
    perUnit,
    step,
    timeUnit: Math.max(1, Math.round((lastTs - firstTs) / Math.max(1, ticks.length))),
    firstTs,
    lastTs,
  };
}

// ---------------------------------------------------------------------------------------------
// Plans

/** Where on the path something happens: a symbol's tick by position, shifted by time units. */
export interface AnchorPlan {
  symbol: number;
  /** Position among the symbol's ticks, in [0, 1]. */
  at: number;
  /** Time units added to that tick's ts (may be negative). */
  shift: number;
}

export interface SignalPlan {
  anchor: AnchorPlan;
  /** 'before': createdAt before every tick; 'after': after every tick; 'ghost': a symbol without ticks. */
  placement: 'anchor' | 'before' | 'after' | 'ghost';
  lowerCase: boolean;
  side: 'long' | 'short';
  entry: { type: 'market' } | { type: 'limit' | 'stop'; steps: number; jitter: number };
  stop: { steps: number; jitter: number } | null;
  /** Gaps between consecutive levels (the first from the entry reference), in steps and grid units. */
  tps: { steps: number; jitter: number; weight: number }[];
  /** 0: the fractions sum to exactly 1 (up to rounding); more leaves a runner. */
  runnerWeight: number;
  breakeven: { tp: number; offsetBps: number } | null;
  trailing: {
    distanceSteps: number;
    activation: 'fill' | { priceSteps: number } | { afterTp: number };
  } | null;
  /** Time units after createdAt (may be 0 or negative: expires at the first tick). */
  expiresIn: number | null;
  timeLimit: number | null;
  toleranceSteps: number;
  confirm: number;
  trigger: 'last' | 'bid_ask' | 'mid' | null;
  stopFill: 'trigger' | 'level' | null;
  feeBps: number | null;
  slippageBps: number | null;
  /** Return-table rows: time units after the previous row (the first may be 0) and a return in steps. */
  roi: { afterUnits: number; returnSteps: number }[] | null;
  notional: number | null;
  extras: boolean;
}

const anchorArb: fc.Arbitrary<AnchorPlan> = fc.record({
  symbol: fc.nat(5),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  shift: fc.integer({ min: -2, max: 2 }),
});

const tpArb = fc.record({
  steps: fc.integer({ min: 0, max: 3 }),
  jitter: fc.integer({ min: 0, max: 3 }),
  weight: fc.integer({ min: 1, max: 4 }),
});

export const signalPlanArb: fc.Arbitrary<SignalPlan> = fc.record({
  anchor: anchorArb,
  placement: fc.oneof(
    { weight: 20, arbitrary: fc.constant('anchor' as const) },
    { weight: 1, arbitrary: fc.constantFrom('before' as const, 'after' as const, 'ghost' as const) },
  ),
  lowerCase: fc.boolean(),
  side: fc.constantFrom('long' as const, 'short' as const),
  entry: fc.oneof(
    fc.constant({ type: 'market' as const }),
    fc.record({
      type: fc.constantFrom('limit' as const, 'stop' as const),
      steps: fc.integer({ min: -1, max: 3 }),
      jitter: fc.integer({ min: 0, max: 3 }),
    }),
  ),
  stop: fc.option(
    fc.record({ steps: fc.integer({ min: 0, max: 3 }), jitter: fc.integer({ min: 0, max: 3 }) }),
    { freq: 5 },
  ),
  tps: fc.array(tpArb, { maxLength: 4 }),
  runnerWeight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 })),
  breakeven: fc.option(
    fc.record({
      tp: fc.nat(3),
      offsetBps: fc.oneof(
        fc.constant(0),
        fc.constantFrom(0.5, 5, 25),
        fc.double({ min: 0, max: 50, noNaN: true }),
      ),
    }),
  ),
  trailing: fc.option(
    fc.record({
      distanceSteps: fc.double({ min: 0.1, max: 3, noNaN: true }),
      activation: fc.oneof(
        fc.constant('fill' as const),
        fc.record({ priceSteps: fc.integer({ min: -1, max: 3 }) }),
        fc.record({ afterTp: fc.nat(3) }),
      ),
    }),
  ),
  expiresIn: fc.option(fc.integer({ min: -1, max: 80 }), { freq: 3 }),
  timeLimit: fc.option(fc.integer({ min: 1, max: 150 }), { freq: 3 }),
  toleranceSteps: fc.oneof(
    { weight: 6, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ min: 1, max: 20, noNaN: true }) },
  ),
  confirm: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 10 }) },
  ),
  trigger: fc.constantFrom(null, 'last' as const, 'bid_ask' as const, 'mid' as const),
  stopFill: fc.constantFrom(null, 'trigger' as const, 'level' as const),
  feeBps: fc.option(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 20, noNaN: true }))),
  slippageBps: fc.option(
    fc.oneof(fc.constant(0), fc.constantFrom(2.5, 10, 100), fc.double({ min: 0, max: 999, noNaN: true })),
    { freq: 3 },
  ),
  roi: fc.option(
    fc.array(
      fc.record({
        afterUnits: fc.integer({ min: 0, max: 30 }),
        returnSteps: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.double({ min: -2, max: 3, noNaN: true })),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    { freq: 3 },
  ),
  notional: fc.option(fc.oneof(fc.constant(1000), fc.double({ min: 0.01, max: 1e6, noNaN: true })), {
    freq: 3,
  }),
  extras: fc.boolean(),
});

export type OpPlan =
  | {
      kind: 'exit';
      target: number;
      at: AnchorPlan;
      /** `far`: a price this many times the reference, mostly beyond 2000 bps of the market. */
      price: null | { steps: number } | { far: number } | { bad: unknown };
      fraction: number | null;
      force: boolean | null;
    }
  | { kind: 'cancel'; target: number; at: AnchorPlan }
  | {
      kind: 'amend';
      target: number;
      at: AnchorPlan;
      /** 'same': the signal's own initial stop (an amend that may change nothing). */
      stop: null | 'same' | { steps: number };
      tps: { level: number; steps: number | 'same' }[];
    }
  | { kind: 'malformed'; target: number; at: AnchorPlan; variant: number }
  | { kind: 'unknown'; at: AnchorPlan };

export const opPlanArb: fc.Arbitrary<OpPlan> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('exit' as const),
      target: fc.nat(),
      at: anchorArb,
      price: fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 3, arbitrary: fc.record({ steps: fc.integer({ min: -3, max: 3 }) }) },
        { weight: 1, arbitrary: fc.record({ far: fc.constantFrom(0.5, 0.75, 1.3, 2) }) },
        {
          weight: 1,
          arbitrary: fc.record({ bad: fc.constantFrom<unknown>(0, -1, '100', NaN, Infinity, null) }),
        },
      ),
      fraction: fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 2, arbitrary: fc.constantFrom(0.25, 0.5, 1) },
        { weight: 1, arbitrary: fc.double({ min: 1e-6, max: 1, noNaN: true }) },
      ),
      force: fc.constantFrom(null, null, true, false),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('cancel' as const), target: fc.nat(), at: anchorArb }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('amend' as const),
      target: fc.nat(),
      at: anchorArb,
      stop: fc.oneof(
        fc.constant(null),
        fc.constant('same' as const),
        fc.record({ steps: fc.integer({ min: -2, max: 4 }) }),
      ),
      tps: fc.array(
        fc.record({
          level: fc.integer({ min: 1, max: 5 }),
          steps: fc.oneof(fc.constant('same' as const), fc.integer({ min: -2, max: 8 })),
        }),
        { maxLength: 3 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('malformed' as const),
      target: fc.nat(),
      at: anchorArb,
      variant: fc.nat(11),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown' as const), at: anchorArb }) },
);

// ---------------------------------------------------------------------------------------------
// Building

const GHOST = 'NOTICKS';

interface Placed {
  symbol: string;
  ts: number;
  /** Anchor price in grid units. */
  n: number;
  step: number;
}

/** The tick an anchor names (or the path's edge), in grid units. */
function place(market: Market, anchor: AnchorPlan): Placed {
  const symbols = market.symbols;
  if (symbols.length === 0) return { symbol: GHOST, ts: market.firstTs, n: 100 * market.perUnit, step: 1 };
  const symbol = symbols[anchor.symbol % symbols.length]!;
  const list = market.bySymbol.get(symbol)!;
  const tick = list[Math.min(list.length - 1, Math.floor(anchor.at * list.length))]!;
  return {
    symbol,
    ts: Math.max(0, tick.ts + anchor.shift * market.timeUnit),
    n: Math.max(1, Math.round(tick.price * market.perUnit)),
    step: market.step.get(symbol)!,
  };
}

/** A price from grid units, or undefined when it would not be positive. */
function price(n: number, market: Market): number | undefined {
  return n >= 1 ? n / market.perUnit : undefined;
}

/** Basis points that `steps` price steps make at grid price `n`. */
function bps(steps: number, step: number, n: number): number {
  return (steps * step * 1e4) / n;
}

/** What buildOperations needs to know about the signals it targets. */
export interface BuiltSignal {
  payload: SignalPayload;
  /** The anchor price in grid units, the entry reference and the step, for placing amends. */
  reference: number;
  step: number;
  dir: 1 | -1;
}

/** Concrete, valid payloads for `plans` on `market`; ids are `s<index>`. */
export function buildSignals(plans: SignalPlan[], market: Market): BuiltSignal[] {
  return plans.map((plan, i) => buildSignal(plan, i, market));
}

function buildSignal(plan: SignalPlan, index: number, market: Market): BuiltSignal {
  const at = place(market, plan.anchor);
  const symbol = plan.placement === 'ghost' ? GHOST : at.symbol;
  const createdAt =
    plan.placement === 'before'
      ? Math.max(0, market.firstTs - 10)
      : plan.placement === 'after'
        ? market.lastTs + 1
        : at.ts;
  const dir = plan.side === 'long' ? 1 : -1;
  const { step, n } = at;
  const u = market.timeUnit;

  let reference = n;
  let entry: SignalPayload['entry'] = { type: 'market' };
  if (plan.entry.type !== 'market') {
    // Limit: below the market for a long (negative steps: marketable); stop: above it.
    const away = plan.entry.steps * step + plan.entry.jitter;
    reference = plan.entry.type === 'limit' ? n - dir * away : n + dir * away;
    if (reference < 1) reference = n;
    entry = { type: plan.entry.type, price: price(reference, market)! };
  }
  const payload: SignalPayload = {
    v: 1,
    id: `s${index}`,
    symbol: plan.lowerCase ? symbol.toLowerCase() : symbol,
    side: plan.side,
    createdAt,
    entry,
  };

  if (plan.stop !== null) {
    const stop = price(reference - dir * (plan.stop.steps * step + plan.stop.jitter + 1), market);
    if (stop !== undefined) payload.stopLoss = { price: stop };
  }
  const tps: { price: number; weight: number }[] = [];
  let level = reference;
  for (const tp of plan.tps) {
    level += dir * (tp.steps * step + tp.jitter + 1);
    const p = price(level, market);
    if (p === undefined) break;
    tps.push({ price: p, weight: tp.weight });
  }
  if (tps.length > 0) {
    const total = tps.reduce((sum, tp) => sum + tp.weight, plan.runnerWeight);
    payload.takeProfits = tps.map((tp) => ({ price: tp.price, fraction: tp.weight / total }));
  }
  if (plan.breakeven !== null && tps.length > 0) {
    payload.breakevenAfterTp = 1 + (plan.breakeven.tp % tps.length);
    if (plan.breakeven.offsetBps > 0 || plan.extras) payload.breakevenOffsetBps = plan.breakeven.offsetBps;
  }
  if (plan.trailing !== null) {
    const a = plan.trailing.activation;
    let activation: TrailingActivation = 'fill';
    if (typeof a === 'object' && 'priceSteps' in a) {
      activation = {
        price: price(reference + dir * a.priceSteps * step, market) ?? reference / market.perUnit,
      };
    } else if (typeof a === 'object' && tps.length > 0) {
      activation = { afterTp: 1 + (a.afterTp % tps.length) };
    }
    const distanceBps = Math.min(9999, bps(plan.trailing.distanceSteps, step, n));
    payload.trailing = { distanceBps, activation };
  }
  // After createdAt (SPEC.md); createdAt + 1 still expires at the first tick after creation.
  if (plan.expiresIn !== null)
    payload.entryExpiresAt = Math.max(createdAt + 1, createdAt + plan.expiresIn * u);
  if (plan.timeLimit !== null) payload.timeLimitMs = plan.timeLimit * u;
  if (plan.toleranceSteps > 0 || plan.extras) {
    payload.toleranceBps = Math.min(999, bps(plan.toleranceSteps, step, n));
  }
  if (plan.confirm > 0 || plan.extras) payload.confirmMs = plan.confirm * u;
  if (plan.trigger !== null) payload.trigger = plan.trigger;
  if (plan.stopFill !== null) payload.stopFill = plan.stopFill;
  if (plan.feeBps !== null) payload.feeBps = plan.feeBps;
  if (plan.slippageBps !== null) payload.slippageBps = plan.slippageBps;
  if (plan.roi !== null) {
    let afterMs = 0;
    payload.roi = plan.roi.map((row, i) => {
      // Strictly increasing: every row after the first at least one unit later.
      afterMs += (i === 0 ? row.afterUnits : Math.max(1, row.afterUnits)) * u;
      return { afterMs, returnBps: Math.max(-9999, bps(row.returnSteps, step, n)) };
    });
  }
  if (plan.notional !== null) payload.notional = plan.notional;
  if (plan.extras) {
    payload.tenant = 'acme';
    payload.strategy = 'breakout';
    payload.model = 'gbm';
    payload.modelVersion = '1.0';
    payload.timeframe = '1m';
    payload.confidence = 0.6;
    payload.meta = { note: 'kept, never read', nested: { stopLos: 1 } };
  }
  return { payload, reference, step, dir };
}

/** Concrete operations (some invalid on purpose) for `plans` against `signals`. */
export function buildOperations(plans: OpPlan[], signals: BuiltSignal[], market: Market): Operation[] {
  return plans.map((plan) => buildOperation(plan, signals, market));
}

function buildOperation(plan: OpPlan, signals: BuiltSignal[], market: Market): Operation {
  const target =
    plan.kind === 'unknown' || signals.length === 0 ? undefined : signals[plan.target % signals.length];
  const id = target?.payload.id ?? 'no-such-signal';
  const symbolIndex =
    target === undefined ? plan.at.symbol : market.symbols.indexOf(target.payload.symbol.toUpperCase());
  const ts = place(market, { ...plan.at, symbol: Math.max(0, symbolIndex) }).ts;
  const ref = target?.reference ?? 100 * market.perUnit;
  const step = target?.step ?? 1;
  const dir = target?.dir ?? 1;
  const at = (steps: number): number => Math.max(1, ref + dir * steps * step) / market.perUnit;
  switch (plan.kind) {
    case 'unknown':
      return { op: 'exit', id, ts };
    case 'cancel':
      return { op: 'cancel', id, ts };
    case 'exit': {
      const op: Operation & { op: 'exit' } = { op: 'exit', id, ts };
      if (plan.price !== null && 'bad' in plan.price) {
        return { op: 'exit', id, ts, price: plan.price.bad } as unknown as Operation;
      }
      if (plan.price !== null) {
        op.price = 'far' in plan.price ? (ref * plan.price.far) / market.perUnit : at(plan.price.steps);
      }
      if (plan.fraction !== null) op.fraction = plan.fraction;
      if (plan.force !== null) op.force = plan.force;
      return op;
    }
    case 'amend': {
      const op: Operation = { op: 'amend', id, ts };
      const own = target?.payload;
      if (plan.stop === 'same') op.stopLoss = { price: own?.stopLoss?.price ?? at(-1) };
      else if (plan.stop !== null) op.stopLoss = { price: at(-plan.stop.steps - 1) };
      if (plan.tps.length > 0) {
        op.takeProfits = plan.tps.map(({ level, steps }) => ({
          level,
          price: steps === 'same' ? (own?.takeProfits?.[level - 1]?.price ?? at(level)) : at(steps + level),
        }));
      }
      return op;
    }
    case 'malformed': {
      const variants: Record<string, unknown>[] = [
        { op: 'exit', id, ts, reason: 'typo' },
        { op: 'close', id, ts },
        { op: 'cancel', id, ts: ts + 0.5 },
        { op: 'cancel', id },
        { op: 'amend', id, ts, stopLoss: { price: at(-1), prize: 1 } },
        { op: 'amend', id, ts, takeProfits: [{ level: 0, price: at(1) }] },
        { op: 'amend', id, ts, stopLoss: { price: -5 } },
        { op: 'exit', id: 42, ts },
        { op: 'exit', id, ts, fraction: 0 },
        { op: 'exit', id, ts, fraction: 1.5 },
        { op: 'exit', id, ts, force: 'yes' },
        { op: 'cancel', id, ts: 8_640_000_000_000_001 },
      ];
      return variants[plan.variant % variants.length] as unknown as Operation;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Random tick paths

export interface WalkPlan {
  symbols: number;
  start: number[];
  steps: {
    symbol: number;
    move: number;
    dt: number;
    quote: 'none' | 'bid' | 'ask' | 'both';
    spread: [number, number];
    late: boolean;
  }[];
}

/** Random walks on a 1/8 grid, several symbols interleaved, quotes sometimes missing, some ticks late. */
export const walkPlanArb: fc.Arbitrary<WalkPlan> = fc.record({
  symbols: fc.integer({ min: 1, max: 3 }),
  start: fc.array(fc.integer({ min: 80 * 8, max: 120 * 8 }), { minLength: 3, maxLength: 3 }),
  steps: fc.array(
    fc.record({
      symbol: fc.nat(2),
      move: fc.oneof(
        { weight: 12, arbitrary: fc.integer({ min: -2, max: 2 }) },
        { weight: 1, arbitrary: fc.integer({ min: -12, max: 12 }) },
      ),
      dt: fc.constantFrom(0, 0, 1, 1, 1, 2, 3, 10),
      quote: fc.constantFrom(
        'none' as const,
        'bid' as const,
        'ask' as const,
        'both' as const,
        'both' as const,
      ),
      spread: fc.tuple(fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 3 })),
      late: fc.oneof(
        { weight: 40, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    }),
    { minLength: 1, maxLength: 400, size: 'max' },
  ),
});

const WALK_SYMBOLS = ['AAA', 'BBB', 'CCC'];

/** The ticks of a walk plan (prices n/8, never below 1/8). */
export function buildWalk(plan: WalkPlan): Tick[] {
  const level = plan.start.slice(0, plan.symbols);
  let ts = 1000;
  const ticks: Tick[] = [];
  for (const s of plan.steps) {
    const k = s.symbol % plan.symbols;
    level[k] = Math.max(4, level[k]! + s.move);
    ts += s.dt;
    const n = level[k]!;
    const tick: Tick = { symbol: WALK_SYMBOLS[k]!, ts: s.late ? ts - 1 - s.dt * 3 : ts, price: n / 8 };
    if (s.quote === 'bid' || s.quote === 'both') tick.bid = Math.max(1, n - s.spread[0]) / 8;
    if (s.quote === 'ask' || s.quote === 'both') tick.ask = Math.max(1, n + s.spread[1]) / 8;
    ticks.push(tick);
  }
  return ticks;
}
