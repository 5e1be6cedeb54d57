import type { TickEvent } from './events.ts';
import { atOrAbove, atOrBelow, reaches } from './levels.ts';
import { bookLeg, catchUpInPlace, close, FRACTION_EPSILON, tighten, trailTo } from './position.ts';
import { roiLevel, roiStageAt } from './returnTable.ts';
import { cloneContext, type SignalContext } from './signalContext.ts';
import { slippedOut } from './slippage.ts';
import { exitSeries, seriesPrice } from './triggerPrice.ts';

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
