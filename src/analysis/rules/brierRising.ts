import { moments, welchTTestLess } from '../significance.ts';
import type { TradeSample } from '../tradeSample.ts';
import { fixed, pValue } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link brierRising}. */
export const BRIER_RISING = {
  /** Filled trades with a confidence the window needs. */
  minWindowForecasts: 50,
  minBaselineForecasts: 50,
  /** One-sided significance level of Welch's t-test on the per-trade squared errors. */
  alpha: 0.01,
  /** Smallest rise of the Brier score worth reporting. */
  minIncrease: 0.02,
};

/** Per-trade squared errors (confidence − won)², for trades with a confidence. */
export function squaredErrors(s: TradeSample): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.n; i++) {
    const c = s.confidence[i]!;
    if (Number.isFinite(c)) out.push((c - (s.result[i]! > 0 ? 1 : 0)) ** 2);
  }
  return out;
}

/**
 * `brier_rising`: the window's Brier score (docs/METRICS.md `brierScore`) is significantly above
 * the baseline's: confidence predicts wins worse than it did.
 */
export function brierRising(input: RuleInput, t = BRIER_RISING): Finding[] {
  const { window, baseline } = input;
  if (baseline === null) return [];
  const w = moments(squaredErrors(window));
  const b = moments(squaredErrors(baseline));
  if (w.n < t.minWindowForecasts || b.n < t.minBaselineForecasts) return [];
  const increase = w.mean - b.mean;
  const test = welchTTestLess(b, w);
  if (!(test.pValue < t.alpha) || increase < t.minIncrease) return [];
  return [
    {
      rule: 'brier_rising',
      severity: 'warning',
      evidence: {
        windowForecasts: w.n,
        windowBrier: w.mean,
        baselineForecasts: b.n,
        baselineBrier: b.mean,
        increase,
        t: Number.isFinite(test.statistic) ? test.statistic : null,
        df: Number.isFinite(test.df) ? test.df : null,
        pValue: test.pValue,
        alpha: t.alpha,
      },
      recommendation:
        `The confidence of ${input.label} predicts outcomes worse than before: Brier score ${fixed(w.mean)} ` +
        `against ${fixed(b.mean)} in its baseline (${pValue(test.pValue)}). Recalibrate the model ` +
        '(e.g. isotonic or Platt scaling on recent outcomes) or retrain it; until then do not size by its confidence.',
    },
  ];
}
