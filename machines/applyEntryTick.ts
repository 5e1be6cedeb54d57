import type { TickEvent } from './events.ts';
import { reaches } from './levels.ts';
import { tighten, closeUnfilled, trailCandidate } from './position.ts';
import { roiStageAt } from './returnTable.ts';
import { cloneContext, type SignalContext } from './signalContext.ts';
import { slippedIn } from './slippage.ts';
import { entrySeries, exitSeries, seriesPrice } from './triggerPrice.ts';

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
