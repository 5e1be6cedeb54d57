import { moments, welchTTestLess } from '../significance.ts';
import { fixed, pct, pValue } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link expectancyBelowBaseline}. */
export const EXPECTANCY_BELOW_BASELINE = {
  minWindowTrades: 30,
  minBaselineTrades: 30,
  /** One-sided significance level of Welch's t-test. */
  alpha: 0.01,
  /** Smallest fall worth reporting, as Cohen's d (fall / √((s²_window + s²_baseline) / 2)): "small". */
  minEffect: 0.2,
  /** Critical when p is below this and the window's expectancy is negative (it loses money). */
  criticalAlpha: 0.001,
};

/**
 * `expectancy_below_baseline`: the mean net return per trade in the window is significantly
 * below the baseline's (one-sided Welch t-test) with at least a small effect size.
 */
export function expectancyBelowBaseline(input: RuleInput, t = EXPECTANCY_BELOW_BASELINE): Finding[] {
  const { window, baseline } = input;
  if (baseline === null || window.n < t.minWindowTrades || baseline.n < t.minBaselineTrades) return [];
  const w = moments(window.result);
  const b = moments(baseline.result);
  const test = welchTTestLess(w, b);
  const spread = Math.sqrt((w.variance + b.variance) / 2);
  const effect = spread > 0 ? (b.mean - w.mean) / spread : w.mean < b.mean ? Infinity : 0;
  if (!(test.pValue < t.alpha) || !(effect >= t.minEffect)) return [];
  const critical = test.pValue < t.criticalAlpha && w.mean < 0;
  return [
    {
      rule: 'expectancy_below_baseline',
      severity: critical ? 'critical' : 'warning',
      evidence: {
        windowTrades: w.n,
        windowExpectancy: w.mean,
        windowStd: Math.sqrt(w.variance),
        baselineTrades: b.n,
        baselineExpectancy: b.mean,
        baselineStd: Math.sqrt(b.variance),
        effectSize: Number.isFinite(effect) ? effect : null,
        t: Number.isFinite(test.statistic) ? test.statistic : null,
        df: Number.isFinite(test.df) ? test.df : null,
        pValue: test.pValue,
        alpha: t.alpha,
      },
      recommendation:
        `The expectancy of ${input.label} fell to ${pct(w.mean)} per trade from ${pct(b.mean)} in its baseline ` +
        `(effect size ${fixed(effect, 2)}, ${pValue(test.pValue)}). ` +
        (w.mean < 0
          ? 'It is losing money now: pause or down-weight it and investigate before it runs on.'
          : 'It still earns, but less: look for decaying edge (crowding, regime change, stale features).'),
    },
  ];
}
