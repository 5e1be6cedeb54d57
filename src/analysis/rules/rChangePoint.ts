import { pageHinkleyDecrease } from '../pageHinkley.ts';
import { moments } from '../significance.ts';
import { fixed } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link rChangePoint}, in units of the baseline's R-multiple standard deviation σ. */
export const R_CHANGE_POINT = {
  /** Finite R-multiples the baseline needs (it sets the reference mean and σ). */
  minBaselineR: 30,
  /** Finite R-multiples the window needs. */
  minWindowR: 10,
  /** Page-Hinkley δ: a fall smaller than 0.1 σ per trade is noise. */
  deltaSigma: 0.1,
  /**
   * Page-Hinkley λ: 30 σ of accumulated shortfall. Simulated on ±R streams: false alarm in
   * under 1 % of 300-trade windows (about 2.5 % of 1000-trade ones); a fall of 0.3 σ is caught
   * after ~150 trades (docs/INSIGHTS.md).
   */
  lambdaSigma: 30,
};

/**
 * `r_change_point`: a Page-Hinkley change point (a fall in the mean R-multiple) inside the
 * window. The test runs over the window's R stream in close order, its running mean seeded with
 * the baseline's mean and count, δ and λ scaled by the baseline's σ.
 */
export function rChangePoint(input: RuleInput, t = R_CHANGE_POINT): Finding[] {
  const { window, baseline } = input;
  if (baseline === null) return [];
  const base = moments(baseline.rMultiple);
  const windowR = window.rMultiple.filter(Number.isFinite);
  if (base.n < t.minBaselineR || windowR.length < t.minWindowR) return [];
  const sigma = Math.sqrt(base.variance);
  if (!(sigma > 0)) return [];
  const result = pageHinkleyDecrease(window.rMultiple, {
    delta: t.deltaSigma * sigma,
    lambda: t.lambdaSigma * sigma,
    reference: { mean: base.mean, count: base.n },
  });
  if (result.alarmIndex === null || result.changeIndex === null) return [];

  const before = moments(window.rMultiple.subarray(0, result.changeIndex));
  const after = moments(window.rMultiple.subarray(result.changeIndex));
  const afterMean = after.mean;
  const critical = afterMean < 0 && base.mean > 0;
  return [
    {
      rule: 'r_change_point',
      severity: critical ? 'critical' : 'warning',
      evidence: {
        changeAt: new Date(window.closedAt[result.changeIndex]!).toISOString(),
        detectedAt: new Date(window.closedAt[result.alarmIndex]!).toISOString(),
        baselineMeanR: base.mean,
        baselineStdR: sigma,
        baselineR: base.n,
        windowMeanRBeforeChange: before.n > 0 ? before.mean : null,
        meanRAfterChange: afterMean,
        tradesAfterChange: after.n,
        statistic: result.statistic,
        delta: t.deltaSigma * sigma,
        lambda: t.lambdaSigma * sigma,
      },
      recommendation:
        `The R-multiples of ${input.label} shifted down around ${new Date(window.closedAt[result.changeIndex]!).toISOString()}: ` +
        `${fixed(afterMean, 2)} R per trade since, against ${fixed(base.mean, 2)} R in its baseline. ` +
        'Find what changed at that time (a deployment, a data feed, market conditions) and act on it; ' +
        (critical
          ? 'it now loses on average, so pause or down-weight it meanwhile.'
          : 'watch it closely meanwhile.'),
    },
  ];
}
