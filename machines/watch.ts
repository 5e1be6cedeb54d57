import { roiLevel } from './returnTable.ts';
import type { SignalContext } from './signalContext.ts';
import { entrySeries, exitSeries, type Series } from './triggerPrice.ts';

/**
 * What can change a signal, as thresholds on one price series: the index delivers a tick to
 * the signal only when one of them is crossed, and folds every other tick into the next
 * event's catch-up. Deriving the thresholds here keeps SPEC's rules in one place; the index
 * only compares numbers.
 */
export interface Watch {
  series: Series;
  /** Deliver when the series value is <= this (-Infinity: never). */
  below: number;
  /** Deliver when the series value is >= this (+Infinity: never). */
  above: number;
  /**
   * Deliver when the tick's ts is >= this (+Infinity: never): an entry expiry, a time limit,
   * or the next change of the return table's level, whichever comes first.
   */
  at: number;
  /** Deliver every tick (a level is armed and waits for confirmation). */
  every: boolean;
  /**
   * Active trailing stop: the peak so far (null only in a pre-v1.1 checkpoint), the factor
   * that turns a peak into the touching price, (1−d)(1+t) long, (1+d)(1−t) short, and the
   * signal's side. The index follows the peak itself and delivers when `dir·(p − peak·factor) <= 0`.
   */
  trail: { peak: number | null; factor: number; dir: 1 | -1 } | null;
  /** Whether the index must track the series' extremes for this signal's catch-up. */
  tracksExtremes: boolean;
}

/** The watch of a signal that is not closed. */
export function watchOf(c: SignalContext): Watch {
  const t = c.toleranceBps / 1e4;
  if (c.fill === null) {
    const series = entrySeries(c.trigger, c.dir);
    // Before its first tick a signal waits only for time to reach createdAt.
    if (!c.seen) return idle(series, c.createdAt);
    const at = c.entryExpiresAt ?? Infinity;
    const level = c.entryPrice!;
    const fillsBelow = (c.entryType === 'limit') === c.dir > 0;
    return {
      series,
      below: fillsBelow ? level : -Infinity,
      above: fillsBelow ? Infinity : level,
      at,
      every: false,
      trail: null,
      tracksExtremes: false,
    };
  }
  const series = exitSeries(c.trigger, c.dir);
  // Long: the stop and nothing else fires on the way down; TPs and trailing activation on the way up.
  let adverse = c.stop === null ? NaN : c.dir > 0 ? c.stop * (1 + t) : c.stop * (1 - t);
  let favourable = NaN;
  const next = c.tpFilled.indexOf(false);
  if (next >= 0) {
    const tp = c.tpPrices[next]!;
    favourable = c.dir > 0 ? tp * (1 - t) : tp * (1 + t);
  }
  const act = c.trailActivation;
  if (!c.trailActive && act !== null && typeof act === 'object' && 'price' in act) {
    favourable = nearest(favourable, act.price, c.dir);
  }
  // The return table is one more favourable level, constant between the times its entries
  // take over: those times are deadlines, so a tick costs nothing more per signal that has one.
  let at = c.timeLimitMs === null ? Infinity : c.fill.ts + c.timeLimitMs;
  const roiAfter = c.roiAfterMs ?? null;
  if (roiAfter !== null) {
    const stage = c.roiStage ?? -1;
    if (stage >= 0) favourable = nearest(favourable, roiLevel(c, stage), c.dir);
    if (stage + 1 < roiAfter.length) at = Math.min(at, c.fill.ts + roiAfter[stage + 1]!);
  }
  if (Number.isNaN(adverse)) adverse = c.dir > 0 ? -Infinity : Infinity;
  if (Number.isNaN(favourable)) favourable = c.dir > 0 ? Infinity : -Infinity;
  const d = (c.trailDistanceBps ?? 0) / 1e4;
  const armed = c.armStop !== null || c.armTp.some((a) => a !== null);
  return {
    series,
    below: c.dir > 0 ? adverse : favourable,
    above: c.dir > 0 ? favourable : adverse,
    at,
    every: armed,
    trail: c.trailActive
      ? { peak: c.peak, factor: c.dir > 0 ? (1 - d) * (1 + t) : (1 + d) * (1 - t), dir: c.dir }
      : null,
    tracksExtremes: true,
  };
}

function idle(series: Series, at: number): Watch {
  return { series, below: -Infinity, above: Infinity, at, every: false, trail: null, tracksExtremes: false };
}

/** Of two favourable thresholds, the one the price reaches first. */
function nearest(a: number, b: number, dir: 1 | -1): number {
  if (Number.isNaN(a)) return b;
  return dir > 0 ? Math.min(a, b) : Math.max(a, b);
}
