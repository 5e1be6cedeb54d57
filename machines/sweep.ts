import { bookLeg, catchUpInPlace, close, closeUnfilled } from './position.ts';
import { slippedOut } from './slippage.ts';
import type { SweepEvent } from './events.ts';
import { cloneContext, type SignalContext } from './signalContext.ts';

/** The market time at which a signal closes by time alone: entry expiry, or fill + time limit. */
export function timeDeadline(ctx: SignalContext): number | null {
  if (ctx.phase === 'closed') return null;
  if (ctx.fill === null) return ctx.entryExpiresAt;
  return ctx.timeLimitMs === null ? null : ctx.fill.ts + ctx.timeLimitMs;
}

/** Whether the stale sweep closes this signal at market clock `clock` (SPEC.md, live only). */
export function sweepDue(ctx: SignalContext, ev: SweepEvent): boolean {
  return sweepDueAt(timeDeadline(ctx), ev);
}

/** `sweepDue` of a signal whose `timeDeadline` is `deadline`. */
export function sweepDueAt(deadline: number | null, ev: SweepEvent): boolean {
  return deadline !== null && ev.clock >= deadline + ev.graceMs;
}

/**
 * Closes a signal whose deadline passed with no tick of its symbol since: at the deadline,
 * at the last known trigger price (taking liquidity: slipped, as a time exit), marked stale.
 */
export function applySweep(ctx: SignalContext, ev: SweepEvent): SignalContext {
  const deadline = timeDeadline(ctx)!;
  const c = cloneContext(ctx);
  catchUpInPlace(c, ev);
  c.stale = true;
  if (c.fill === null) return closeUnfilled(c, 'EXPIRED', deadline);
  bookLeg(c, { reason: 'TIME', price: slippedOut(c, c.lastP!), fraction: c.remaining, ts: deadline });
  return close(c, deadline);
}
