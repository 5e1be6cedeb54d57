import { median } from '../../metrics/stats.ts';
import { INITIAL_STOP } from '../outcomeColumns.ts';
import { duration, pct } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link stopsTooTight}. */
export const STOPS_TOO_TIGHT = {
  /** Trades closed by their initial stop the window needs. */
  minStops: 20,
  /** Reported when half or more of those stops fill within this time of the fill (5 min). */
  quickMs: 300_000,
};

/**
 * `stops_too_tight`: trades closed by their initial stop mostly close within the first minutes:
 * the median fill-to-stop time is at most `quickMs`. Such stops sit inside the market's noise.
 */
export function stopsTooTight(input: RuleInput, t = STOPS_TOO_TIGHT): Finding[] {
  const { window } = input;
  const times: number[] = [];
  for (let i = 0; i < window.n; i++) {
    const h = window.holdingMs[i]!;
    if (window.closeStopKind[i] === INITIAL_STOP && Number.isFinite(h)) times.push(h);
  }
  if (times.length < t.minStops) return [];
  const medianMs = median(times);
  if (!(medianMs <= t.quickMs)) return [];
  const quick = times.filter((h) => h <= t.quickMs).length;
  return [
    {
      rule: 'stops_too_tight',
      severity: 'warning',
      evidence: {
        initialStops: times.length,
        trades: window.n,
        shareOfTrades: times.length / window.n,
        medianHoldingMs: medianMs,
        withinQuick: quick,
        shareWithinQuick: quick / times.length,
        quickMs: t.quickMs,
      },
      recommendation:
        `Initial stops of ${input.label} are hit quickly: median ${duration(medianMs)} after the fill, ` +
        `${pct(quick / times.length)} within ${duration(t.quickMs)} (${times.length} stops). They sit inside the ` +
        'normal noise: widen them (e.g. by volatility, ATR-based) and size positions down to keep the same risk.',
    },
  ];
}
