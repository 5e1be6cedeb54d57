/**
 * Population stability index (PSI) of a confidence distribution: how far the window's
 * confidences moved from the baseline's, over the ten fixed-width buckets the calibration
 * metrics use ([0, 0.1), …, [0.9, 1.0]).
 *
 *     PSI = Σ_b (a_b − e_b) · ln(a_b / e_b)
 *
 * with `e_b`, `a_b` the baseline's and the window's share in bucket b, each raised to at least
 * {@link PSI_FLOOR} so that an empty bucket adds a large but finite term (the usual practice in
 * credit-scoring, where the index comes from). Conventional reading: < 0.1 no shift, 0.1–0.25
 * moderate, ≥ 0.25 major. Pure.
 */

/** The share an empty bucket is counted with. */
export const PSI_FLOOR = 1e-4;

/** Bucket of a confidence in [0, 1]: [0, 0.1) → 0, …, [0.9, 1.0] → 9; outside values are clamped. */
export function confidenceBucket(confidence: number): number {
  let i = Math.min(9, Math.max(0, Math.floor(confidence * 10)));
  // The product can round across a bound; the bounds themselves are i/10 as doubles.
  if (i > 0 && confidence < i / 10) i--;
  else if (i < 9 && confidence >= (i + 1) / 10) i++;
  return i;
}

/** Counts of the finite confidences per bucket (ten entries). */
export function confidenceCounts(confidences: Iterable<number>): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const c of confidences) if (Number.isFinite(c)) counts[confidenceBucket(c)]!++;
  return counts;
}

/** PSI between two bucket count vectors of equal length; NaN when either is empty. */
export function populationStabilityIndex(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length !== actual.length) throw new RangeError('PSI needs the same buckets on both sides');
  const te = expected.reduce((s, c) => s + c, 0);
  const ta = actual.reduce((s, c) => s + c, 0);
  if (te === 0 || ta === 0) return Number.NaN;
  let psi = 0;
  for (let b = 0; b < expected.length; b++) {
    const e = Math.max(expected[b]! / te, PSI_FLOOR);
    const a = Math.max(actual[b]! / ta, PSI_FLOOR);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}
