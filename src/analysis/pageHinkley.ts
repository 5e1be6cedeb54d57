/**
 * The Page-Hinkley test for a fall in the mean of a stream (E. S. Page, "Continuous inspection
 * schemes", Biometrika 1954; D. V. Hinkley, Biometrika 1971), in the form streaming libraries use
 * (river's `drift.PageHinkley` with `mode="down"`, `alpha = 1`):
 *
 *     x̄_t = mean(x_1 … x_t)
 *     U_t = Σ_{i ≤ t} (x_i − x̄_i + δ),   M_t = max(0, U_1 … U_t)
 *     alarm at the first t with M_t − U_t > λ
 *
 * δ is the size of fall tolerated as noise, λ the evidence needed. The change point is estimated
 * as the observation after the last maximum of U before the alarm: where the decline began.
 * Pure.
 */

/** Parameters, in the units of the stream. */
export interface PageHinkleyOptions {
  /** Magnitude of fall tolerated (δ). */
  delta: number;
  /** Alarm threshold (λ). */
  lambda: number;
  /**
   * A reference sample the stream is compared with: the running mean starts as its mean,
   * weighted by its count, so the first observations are judged against an established level
   * instead of against themselves. Without it the mean starts from the stream's first value.
   */
  reference?: { mean: number; count: number };
}

/** What the test found. */
export interface PageHinkleyResult {
  /** Index of the observation that raised the alarm; null without alarm. */
  alarmIndex: number | null;
  /** Estimated first index after the change; null without alarm. */
  changeIndex: number | null;
  /** M_t − U_t at the alarm, or its largest value over the stream without one. */
  statistic: number;
}

/** Runs the test over `xs` (non-finite values are skipped) and stops at the first alarm. */
export function pageHinkleyDecrease(xs: ArrayLike<number>, options: PageHinkleyOptions): PageHinkleyResult {
  const { delta, lambda, reference } = options;
  let n = reference && reference.count > 0 && Number.isFinite(reference.mean) ? reference.count : 0;
  let mean = n > 0 ? reference!.mean : 0;
  let u = 0;
  let m = 0;
  let peakIndex = -1;
  let largest = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (!Number.isFinite(x)) continue;
    n++;
    mean += (x - mean) / n;
    u += x - mean + delta;
    if (u >= m) {
      m = u;
      peakIndex = i;
    }
    const ph = m - u;
    if (ph > largest) largest = ph;
    if (ph > lambda) {
      // The first finite index after the peak.
      let change = peakIndex + 1;
      while (change < i && !Number.isFinite(xs[change]!)) change++;
      return { alarmIndex: i, changeIndex: change, statistic: ph };
    }
  }
  return { alarmIndex: null, changeIndex: null, statistic: largest };
}
