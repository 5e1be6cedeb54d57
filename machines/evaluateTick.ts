import { cloneContext, type SignalContext } from './signalContext.ts';
import type { CatchUp, TickEvent } from './events.ts';
import { entrySeries, exitSeries, seriesPrice } from './triggerPrice.ts';
import type { Leg, OutcomeCode, StopKind } from './types.ts';

/** A remaining fraction at or below this is nothing left (SPEC.md). */
export const FRACTION_EPSILON = 1e-9;

/**
 * Relative slack when a price is compared with a level (SPEC.md "Comparing prices with
 * levels"): levels computed from other numbers are off by an ulp or two, and a trader who
 * sets a stop at 100.5 means the tick at 100.5 to touch it.
 */
export const LEVEL_EPSILON = 1e-12;

const OUTCOME_OF_REASON: Record<Leg['reason'], OutcomeCode> = {
  TP: 'TP_HIT',
  SL: 'SL_HIT',
  ROI: 'ROI_EXIT',
  TIME: 'TIME_EXIT',
  MANUAL: 'MANUAL_EXIT',
};

/** `p >= x` as SPEC compares a price with a level. */
export function atOrAbove(p: number, x: number): boolean {
  return p >= x - LEVEL_EPSILON * x;
}

/** `p <= x` as SPEC compares a price with a level. */
export function atOrBelow(p: number, x: number): boolean {
  return p <= x + LEVEL_EPSILON * x;
}

/** Whether `p` is at or beyond `x` in direction `dir` (+1: at or above, −1: at or below). */
export function reaches(p: number, x: number, dir: 1 | -1): boolean {
  return dir > 0 ? atOrAbove(p, x) : atOrBelow(p, x);
}

/** The booked price of a fill that takes liquidity at `p` into the position (SPEC.md "Slippage"). */
export function slippedIn(c: SignalContext, p: number): number {
  return p * (1 + (c.dir * (c.slippageBps ?? 0)) / 1e4);
}

/** The booked price of a fill that takes liquidity at `p` out of the position. */
export function slippedOut(c: SignalContext, p: number): number {
  return p * (1 - (c.dir * (c.slippageBps ?? 0)) / 1e4);
}

/**
 * The index of the return-table entry in force after `heldMs` (the last with afterMs <=
 * heldMs), −1 when none is yet or the signal has no table.
 */
export function roiStageAt(c: SignalContext, heldMs: number): number {
  const after = c.roiAfterMs;
  if (after === null || after === undefined) return -1;
  let stage = -1;
  while (stage + 1 < after.length && after[stage + 1]! <= heldMs) stage++;
  return stage;
}

/** The price level of return-table entry `stage`: the fill moved by its return, in `dir`. */
export function roiLevel(c: SignalContext, stage: number): number {
  return c.fill!.price * (1 + (c.dir * c.roiReturnBps![stage]!) / 1e4);
}

/** The stop a trailing peak gives (d = distanceBps/1e4). */
function trailCandidate(c: SignalContext, peak: number): number {
  const d = c.trailDistanceBps! / 1e4;
  return c.dir > 0 ? peak * (1 - d) : peak * (1 + d);
}

/** SPEC.md "Pending (entry)": expiry, fill, INVALID_AT_FILL. Returns a new context. */
export function applyEntryTick(ctx: SignalContext, e: TickEvent): SignalContext {
  if (e.ts < ctx.createdAt) return ctx;
  const c = cloneContext(ctx);
  const firstTick = !c.seen;
  c.seen = true;
  if (c.entryExpiresAt !== null && e.ts >= c.entryExpiresAt) {
    return closeUnfilled(c, 'EXPIRED', e.ts);
  }
  const p = seriesPrice(e, entrySeries(c.trigger, c.dir));
  const fillPrice = entryFillPrice(c, p, firstTick);
  if (fillPrice === null) return c;

  c.fill = { ts: e.ts, price: fillPrice };
  c.initialStop = c.stop;
  const firstTp = c.tpPrices[0];
  const beyondStop = c.stop !== null && reaches(fillPrice, c.stop, c.dir === 1 ? -1 : 1);
  const beyondTp = firstTp !== undefined && reaches(fillPrice, firstTp, c.dir);
  if (beyondStop || beyondTp) {
    c.phase = 'closed';
    c.outcome = 'INVALID_AT_FILL';
    c.closedAt = e.ts;
    return c;
  }
  c.phase = 'open';
  // Excursions start at the fill tick with its exit trigger price; exits start on the next tick.
  const px = seriesPrice(e, exitSeries(c.trigger, c.dir));
  c.hi = px;
  c.lo = px;
  c.lastP = px;
  c.roiStage = roiStageAt(c, 0);
  if (c.trailActivation === 'fill') {
    // In force from the fill and trailing from the booked fill price, so that a "1 % trailing
    // stop" is 1 % below the entry until the price rises; `initialStop` was taken before.
    c.trailActive = true;
    c.peak = fillPrice;
    tighten(c, trailCandidate(c, fillPrice), 'trailing');
  }
  return c;
}

function entryFillPrice(c: SignalContext, p: number, firstTick: boolean): number | null {
  const level = c.entryPrice;
  switch (c.entryType) {
    case 'market':
      return slippedIn(c, p);
    case 'limit': {
      if (level === null || !reaches(p, level, c.dir === 1 ? -1 : 1)) return null;
      // A resting order fills at its own price. Marketable when placed: it takes liquidity at
      // the tick's price, slipped, but a limit order never fills beyond its limit.
      if (!firstTick) return level;
      const slipped = slippedIn(c, p);
      return c.dir > 0 ? Math.min(slipped, level) : Math.max(slipped, level);
    }
    case 'stop':
      if (level === null || !reaches(p, level, c.dir)) return null;
      return slippedIn(c, p);
  }
}

/** SPEC.md "Open / partial (exits)", steps 1–6, for one tick after the fill tick. */
export function applyExitTick(ctx: SignalContext, e: TickEvent): SignalContext {
  const c = cloneContext(ctx);
  catchUpInPlace(c, e);
  const p = seriesPrice(e, exitSeries(c.trigger, c.dir));
  const t = c.toleranceBps / 1e4;
  const ts = e.ts;

  // 1. Excursions.
  c.hi = c.hi === null ? p : Math.max(c.hi, p);
  c.lo = c.lo === null ? p : Math.min(c.lo, p);
  c.lastP = p;

  // 2. Stop, before any TP on the same tick (the pessimistic order).
  if (c.stop !== null) {
    const touched = c.dir > 0 ? atOrBelow(p, c.stop * (1 + t)) : atOrAbove(p, c.stop * (1 - t));
    if (touched) {
      if (c.armStop === null) c.armStop = ts;
      if (ts - c.armStop >= c.confirmMs) {
        const price = c.stopFill === 'level' ? c.stop : slippedOut(c, p);
        bookLeg(c, { reason: 'SL', stopKind: c.stopKind ?? 'initial', price, fraction: c.remaining, ts });
        return close(c, ts);
      }
    } else {
      c.armStop = null;
    }
  }

  // 3. Take profits, unfilled ones in index order.
  for (let k = 0; k < c.tpPrices.length; k++) {
    if (c.tpFilled[k]) continue;
    const level = c.tpPrices[k]!;
    const touched = c.dir > 0 ? atOrAbove(p, level * (1 - t)) : atOrBelow(p, level * (1 + t));
    if (!touched) {
      c.armTp[k] = null;
      continue;
    }
    const armedAt = c.armTp[k] ?? ts;
    c.armTp[k] = armedAt;
    if (ts - armedAt < c.confirmMs) continue;
    const own = c.tpFractions[k]!;
    const fraction = c.remaining - own <= FRACTION_EPSILON ? c.remaining : own;
    bookLeg(c, { reason: 'TP', level: k + 1, price: level, fraction, ts });
    c.tpFilled[k] = true;
    c.armTp[k] = null;
    c.phase = 'partial';
    if (c.breakevenAfterTp === k + 1) {
      tighten(c, c.fill!.price * (1 + (c.dir * c.breakevenOffsetBps) / 1e4), 'breakeven');
    }
    const act = c.trailActivation;
    if (
      act !== null &&
      typeof act === 'object' &&
      'afterTp' in act &&
      act.afterTp === k + 1 &&
      !c.trailActive
    ) {
      c.trailActive = true;
      c.peak = p;
    }
    if (c.remaining <= FRACTION_EPSILON) return close(c, ts);
  }

  // 4. Return table: the entry in force by holding time, its level from the booked fill.
  const stage = roiStageAt(c, ts - c.fill!.ts);
  c.roiStage = stage;
  if (stage >= 0 && reaches(p, roiLevel(c, stage), c.dir)) {
    bookLeg(c, { reason: 'ROI', price: slippedOut(c, p), fraction: c.remaining, ts });
    return close(c, ts);
  }

  // 5. Time limit.
  if (c.timeLimitMs !== null && ts >= c.fill!.ts + c.timeLimitMs) {
    bookLeg(c, { reason: 'TIME', price: slippedOut(c, p), fraction: c.remaining, ts });
    return close(c, ts);
  }

  // 6. Trailing.
  const act = c.trailActivation;
  if (!c.trailActive && act !== null && typeof act === 'object' && 'price' in act) {
    if (reaches(p, act.price, c.dir)) {
      c.trailActive = true;
      c.peak = p;
    }
  }
  if (c.trailActive) trailTo(c, p);
  return c;
}

/**
 * Folds ticks the index skipped (they touched no level of this signal) into excursions and
 * the trailing stop. Equivalent to applying them one by one: on such ticks only step 1 and
 * step 6 can change anything, and both are monotone in the extreme price.
 */
export function catchUpInPlace(c: SignalContext, e: CatchUp): void {
  if (c.fill === null || c.phase === 'closed') return;
  if (e.hi !== undefined && e.lo !== undefined) {
    c.hi = c.hi === null ? e.hi : Math.max(c.hi, e.hi);
    c.lo = c.lo === null ? e.lo : Math.min(c.lo, e.lo);
    if (c.trailActive) trailTo(c, c.dir > 0 ? e.hi : e.lo);
  }
  if (e.last !== undefined) c.lastP = e.last;
}

function trailTo(c: SignalContext, p: number): void {
  // A null peak: a checkpoint from before v1.1, when "fill" trailing started at the next tick.
  c.peak = c.peak === null ? p : c.dir > 0 ? Math.max(c.peak, p) : Math.min(c.peak, p);
  tighten(c, trailCandidate(c, c.peak), 'trailing');
}

/** Moves the stop to `candidate` if that tightens it (never loosens; equal does not tighten). */
export function tighten(c: SignalContext, candidate: number, kind: StopKind): void {
  if (c.stop === null || c.dir * (candidate - c.stop) > 0) {
    c.stop = candidate;
    c.stopKind = kind;
  }
}

/** Appends a leg and takes its fraction off the remainder. */
export function bookLeg(c: SignalContext, leg: Leg): void {
  c.legs.push(leg);
  c.remaining -= leg.fraction;
}

/** Closes a filled signal; the outcome follows the last leg. */
export function close(c: SignalContext, closedAt: number): SignalContext {
  const last = c.legs[c.legs.length - 1]!;
  c.phase = 'closed';
  c.outcome = OUTCOME_OF_REASON[last.reason];
  c.closedAt = closedAt;
  c.armStop = null;
  return c;
}

/** Closes a signal that never filled (EXPIRED, CANCELLED). */
export function closeUnfilled(c: SignalContext, outcome: OutcomeCode, closedAt: number): SignalContext {
  c.phase = 'closed';
  c.outcome = outcome;
  c.closedAt = closedAt;
  return c;
}
