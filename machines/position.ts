import type { CatchUp } from './events.ts';
import type { SignalContext } from './signalContext.ts';
import type { Leg, OutcomeCode, StopKind } from './types.ts';

/**
 * What happens to a held position, shared by ticks, operations and the sweep: legs booked, the
 * stop tightened (trailing included), the signal closed.
 */

/** A remaining fraction at or below this is nothing left (SPEC.md). */
export const FRACTION_EPSILON = 1e-9;

const OUTCOME_OF_REASON: Record<Leg['reason'], OutcomeCode> = {
  TP: 'TP_HIT',
  SL: 'SL_HIT',
  ROI: 'ROI_EXIT',
  TIME: 'TIME_EXIT',
  MANUAL: 'MANUAL_EXIT',
};

/** The stop a trailing peak gives (d = distanceBps/1e4). */
export function trailCandidate(c: SignalContext, peak: number): number {
  const d = c.trailDistanceBps! / 1e4;
  return c.dir > 0 ? peak * (1 - d) : peak * (1 + d);
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

export function trailTo(c: SignalContext, p: number): void {
  c.peak = raisedPeak(c.peak, c.dir, p);
  tighten(c, trailCandidate(c, c.peak), 'trailing');
}

/**
 * A trailing stop's peak after price `p`: the highest price a long has seen, the lowest a short
 * has. A null peak (a checkpoint from before v1.1, when "fill" trailing started at the next
 * tick) becomes `p`.
 */
export function raisedPeak(peak: number | null, dir: 1 | -1, p: number): number {
  return peak === null ? p : dir > 0 ? Math.max(peak, p) : Math.min(peak, p);
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
