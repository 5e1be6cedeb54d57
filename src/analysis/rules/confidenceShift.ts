import { confidenceCounts, populationStabilityIndex } from '../populationStability.ts';
import { moments } from '../significance.ts';
import type { TradeSample } from '../tradeSample.ts';
import { fixed } from './format.ts';
import type { Finding, RuleInput } from './ruleTypes.ts';

/** Thresholds of {@link confidenceShift}: the conventional PSI bands. */
export const CONFIDENCE_SHIFT = {
  minWindowForecasts: 100,
  minBaselineForecasts: 100,
  /** PSI from which the shift is reported as `info` (moderate). */
  moderate: 0.1,
  /** PSI from which it is a `warning` (major). */
  major: 0.25,
};

function confidences(s: TradeSample): Float64Array {
  return s.confidence.filter(Number.isFinite);
}

/**
 * `confidence_shift`: the population stability index of the confidence distribution, window
 * against baseline (src/analysis/populationStability.ts). A shift says the model sees different
 * inputs, or was changed, even before outcomes show it.
 */
export function confidenceShift(input: RuleInput, t = CONFIDENCE_SHIFT): Finding[] {
  const { window, baseline } = input;
  if (baseline === null) return [];
  const w = confidences(window);
  const b = confidences(baseline);
  if (w.length < t.minWindowForecasts || b.length < t.minBaselineForecasts) return [];
  const windowCounts = confidenceCounts(w);
  const baselineCounts = confidenceCounts(b);
  const psi = populationStabilityIndex(baselineCounts, windowCounts);
  if (!(psi >= t.moderate)) return [];
  const wm = moments(w).mean;
  const bm = moments(b).mean;
  return [
    {
      rule: 'confidence_shift',
      severity: psi >= t.major ? 'warning' : 'info',
      evidence: {
        psi,
        windowForecasts: w.length,
        baselineForecasts: b.length,
        windowMeanConfidence: wm,
        baselineMeanConfidence: bm,
        windowBuckets: windowCounts,
        baselineBuckets: baselineCounts,
      },
      recommendation:
        `The confidence distribution of ${input.label} moved (PSI ${fixed(psi)}; mean ${fixed(bm)} → ${fixed(wm)}). ` +
        'Its inputs or the model itself changed: check for feature drift or an unannounced model change, ' +
        'and recheck its calibration.',
    },
  ];
}
