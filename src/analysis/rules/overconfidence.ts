import { normalCdf } from '../significance.ts';
import { pct, pValue } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link overconfidence}. */
export const OVERCONFIDENCE = {
  /** Filled trades with a confidence the window needs. */
  minForecasts: 50,
  /** One-sided significance level. */
  alpha: 0.01,
  /** Smallest gap mean confidence − hit rate worth reporting (5 points). */
  minGap: 0.05,
  /** Critical from this gap on (15 points). */
  criticalGap: 0.15,
};

/**
 * `overconfidence`: the realised hit rate is significantly below the mean confidence. If every
 * confidence were a true win probability, wins would have mean Σc and variance Σc(1 − c)
 * (Poisson-binomial); z = (wins − Σc) / √Σc(1 − c), one-sided normal p-value. Needs no baseline,
 * so it also runs on the all-time window.
 */
export function overconfidence(input: RuleInput, t = OVERCONFIDENCE): Finding[] {
  const { window } = input;
  let n = 0;
  let wins = 0;
  let expected = 0;
  let variance = 0;
  for (let i = 0; i < window.n; i++) {
    const c = window.confidence[i]!;
    if (!Number.isFinite(c)) continue;
    n++;
    if (window.result[i]! > 0) wins++;
    expected += c;
    variance += c * (1 - c);
  }
  if (n < t.minForecasts) return [];
  const meanConfidence = expected / n;
  const hitRate = wins / n;
  const gap = meanConfidence - hitRate;
  const z = variance > 0 ? (wins - expected) / Math.sqrt(variance) : wins < expected ? -Infinity : 0;
  const p = normalCdf(z);
  if (!(p < t.alpha) || gap < t.minGap) return [];
  return [
    {
      rule: 'overconfidence',
      severity: gap >= t.criticalGap ? 'critical' : 'warning',
      evidence: {
        forecasts: n,
        wins,
        meanConfidence,
        hitRate,
        gap,
        z: Number.isFinite(z) ? z : null,
        pValue: p,
        alpha: t.alpha,
      },
      recommendation:
        `${input.label} is overconfident: it wins ${pct(hitRate)} of the time at a mean confidence of ` +
        `${pct(meanConfidence)} (${n} trades, ${pValue(p)}). Recalibrate its confidence on recent outcomes ` +
        'and do not size positions by it until it matches the realised hit rate.',
    },
  ];
}
