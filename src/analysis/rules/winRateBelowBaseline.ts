import { proportionsZTestLess } from '../significance.ts';
import type { TradeSample } from '../tradeSample.ts';
import { pct, pValue } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link winRateBelowBaseline}. */
export const WIN_RATE_BELOW_BASELINE = {
  /** Trades the window needs before it is tested. */
  minWindowTrades: 30,
  /** Trades the baseline needs. */
  minBaselineTrades: 30,
  /** One-sided significance level. */
  alpha: 0.01,
  /** Smallest fall of the win rate worth reporting, in absolute terms (5 points). */
  minDrop: 0.05,
  /** Critical when p is below this and the fall is at least `criticalDrop`. */
  criticalAlpha: 0.001,
  criticalDrop: 0.1,
};

function wins(s: TradeSample): number {
  let w = 0;
  for (let i = 0; i < s.n; i++) if (s.result[i]! > 0) w++;
  return w;
}

/**
 * `win_rate_below_baseline`: the window's win rate is significantly below the group's own
 * baseline (one-sided two-proportion z-test) and by a margin that matters.
 */
export function winRateBelowBaseline(input: RuleInput, t = WIN_RATE_BELOW_BASELINE): Finding[] {
  const { window, baseline } = input;
  if (baseline === null || window.n < t.minWindowTrades || baseline.n < t.minBaselineTrades) return [];
  const ww = wins(window);
  const bw = wins(baseline);
  const windowRate = ww / window.n;
  const baselineRate = bw / baseline.n;
  const drop = baselineRate - windowRate;
  const test = proportionsZTestLess(ww, window.n, bw, baseline.n);
  if (!(test.pValue < t.alpha) || drop < t.minDrop) return [];
  const critical = test.pValue < t.criticalAlpha && drop >= t.criticalDrop;
  return [
    {
      rule: 'win_rate_below_baseline',
      severity: critical ? 'critical' : 'warning',
      evidence: {
        windowTrades: window.n,
        windowWins: ww,
        windowWinRate: windowRate,
        baselineTrades: baseline.n,
        baselineWins: bw,
        baselineWinRate: baselineRate,
        drop,
        z: test.statistic,
        pValue: test.pValue,
        alpha: t.alpha,
      },
      recommendation:
        `The win rate of ${input.label} fell to ${pct(windowRate)} from ${pct(baselineRate)} in its baseline ` +
        `(${window.n} vs ${baseline.n} trades, ${pValue(test.pValue)}). Check what changed: a new model version, ` +
        `input data or the market regime; reduce its weight or retrain until it recovers.`,
    },
  ];
}
