import { cloneContext, type SignalContext } from './signalContext.ts';
import type { CatchUp, TickEvent } from './events.ts';
import { entrySeries, exitSeries, seriesPrice } from './triggerPrice.ts';
import type { Leg, OutcomeCode, StopKind } from './types.ts';

/** A remaining fraction at or below this is nothing left (SPEC.md). */
export const FRACTION_EPSILON = 1e-9;

const OUTCOME_OF_REASON: Record<Leg['reason'], OutcomeCode> = {
  TP: 'TP_HIT',
  SL: 'SL_HIT',
  TIME: 'TIME_EXIT',
  MANUAL: 'MANUAL_EXIT',
};

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
  const beyondStop = c.stop !== null && c.dir * (fillPrice - c.stop) <= 0;
  const beyondTp = firstTp !== undefined && c.dir * (fillPrice - firstTp) >= 0;
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
  if (c.trailActivation === 'fill') c.trailActive = true; // the peak starts at the first exit tick
  return c;
}

function entryFillPrice(c: SignalContext, p: number, firstTick: boolean): number | null {
  const level = c.entryPrice;
  switch (c.entryType) {
    case 'market':
      return p;
    case 'limit':
      if (level === null || c.dir * (p - level) > 0) return null;
      // Marketable when placed: fills at the tick's price; a resting order fills at its own price.
      return firstTick ? p : level;
    case 'stop':
      if (level === null || c.dir * (p - level) < 0) return null;
      return p;
  }
}

/** SPEC.md "Open / partial (exits)", steps 1–5, for one tick after the fill tick. */
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
    const touched = c.dir > 0 ? p <= c.stop * (1 + t) : p >= c.stop * (1 - t);
    if (touched) {
      if (c.armStop === null) c.armStop = ts;
      if (ts - c.armStop >= c.confirmMs) {
        const price = c.stopFill === 'level' ? c.stop : p;
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
    const touched = c.dir > 0 ? p >= level * (1 - t) : p <= level * (1 + t);
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

  // 4. Time limit.
  if (c.timeLimitMs !== null && ts >= c.fill!.ts + c.timeLimitMs) {
    bookLeg(c, { reason: 'TIME', price: p, fraction: c.remaining, ts });
    return close(c, ts);
  }

  // 5. Trailing.
  const act = c.trailActivation;
  if (!c.trailActive && act !== null && typeof act === 'object' && 'price' in act) {
    if (c.dir * (p - act.price) >= 0) {
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
 * step 5 can change anything, and both are monotone in the extreme price.
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
  c.peak = c.peak === null ? p : c.dir > 0 ? Math.max(c.peak, p) : Math.min(c.peak, p);
  const d = c.trailDistanceBps! / 1e4;
  tighten(c, c.dir > 0 ? c.peak * (1 - d) : c.peak * (1 + d), 'trailing');
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
