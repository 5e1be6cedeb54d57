/**
 * Shared numeric helpers for the metrics. They take plain finite numbers: callers drop
 * missing values first with {@link finiteValues}, the way numpy's nan-functions skip NaN.
 * Empty input gives NaN, which the metric functions turn into null with a reason.
 */

/** The finite values of `xs`, in order: NaN (a missing period) and ±Infinity dropped. */
export function finiteValues(xs: readonly number[]): number[] {
  return xs.filter((x) => Number.isFinite(x));
}

/** Sum of `xs`; 0 when empty. */
export function sum(xs: readonly number[]): number {
  let total = 0;
  for (const x of xs) total += x;
  return total;
}

/** Arithmetic mean of `xs`; NaN when empty. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : sum(xs) / xs.length;
}

/**
 * Sample standard deviation (ddof = 1, Bessel's correction), as numpy's
 * `std(x, ddof=1)` and pandas' `Series.std()`. NaN with fewer than 2 values.
 *
 * A series of identical values gives exactly 0: a float mean of equal values can miss
 * them by an ulp, and a ratio over that residue would be a huge finite number instead
 * of the undefined value it is.
 */
export function sampleStd(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const first = xs[0] as number;
  if (xs.every((x) => x === first)) return 0;
  const m = mean(xs);
  let squares = 0;
  for (const x of xs) squares += (x - m) * (x - m);
  return Math.sqrt(squares / (n - 1));
}

/**
 * The `p`-th percentile (0 ≤ p ≤ 100) of `xs` with linear interpolation between the two
 * nearest ranks: numpy's default `percentile(x, p)` (method `linear`, type 7 of Hyndman &
 * Fan). The virtual index is `(p/100)·(n − 1)`; the interpolation mirrors numpy's `_lerp`,
 * which works from the upper neighbour when the fraction is ≥ 0.5 so the result stays
 * monotonic. NaN when `xs` is empty.
 */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  const sorted = [...xs].sort((a, b) => a - b);
  // numpy computes the fraction first, then scales it: same order, same rounding.
  const index = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(index);
  const t = index - lo;
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Median of `xs` (the 50th percentile); NaN when empty. */
export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}
