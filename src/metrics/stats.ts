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
export function sum(xs: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < xs.length; i++) total += xs[i]!;
  return total;
}

/** Arithmetic mean of `xs`; NaN when empty. */
export function mean(xs: ArrayLike<number>): number {
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
export function sampleStd(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const first = xs[0]!;
  let same = true;
  for (let i = 1; i < n && same; i++) same = xs[i] === first;
  if (same) return 0;
  const m = mean(xs);
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (xs[i]! - m) * (xs[i]! - m);
  return Math.sqrt(squares / (n - 1));
}

/**
 * The `p`-th percentile (0 ≤ p ≤ 100) of `xs` with linear interpolation between the two
 * nearest ranks: numpy's default `percentile(x, p)` (method `linear`, type 7 of Hyndman &
 * Fan). The virtual index is `(p/100)·(n − 1)`; the interpolation mirrors numpy's `_lerp`,
 * which works from the upper neighbour when the fraction is ≥ 0.5 so the result stays
 * monotonic. NaN when `xs` is empty.
 */
export function percentile(xs: ArrayLike<number>, p: number): number {
  if (xs.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  // The two order statistics around the virtual index, found by selection in O(n) rather
  // than by sorting (O(n log n)): the analyzer takes medians and p90s of every group.
  const values = Float64Array.from(xs);
  // numpy computes the fraction first, then scales it: same order, same rounding.
  const index = (p / 100) * (values.length - 1);
  const lo = Math.floor(index);
  const t = index - lo;
  const a = selectKth(values, lo);
  // After selection everything right of `lo` is >= a: the next order statistic is their minimum.
  let b = a;
  if (lo + 1 < values.length) {
    b = Infinity;
    for (let i = lo + 1; i < values.length; i++) if (values[i]! < b) b = values[i]!;
  }
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/**
 * The k-th smallest value (0-based) of `v`, rearranging `v` so that smaller values sit left
 * of k and larger ones right of it (Hoare's quickselect, median-of-three pivots).
 */
function selectKth(v: Float64Array, k: number): number {
  let left = 0;
  let right = v.length - 1;
  while (right > left) {
    const mid = (left + right) >> 1;
    // Median of three as the pivot, so sorted or constant input stays linear.
    const x = v[left]!;
    const y = v[mid]!;
    const z = v[right]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (v[i]! < pivot) i++;
      while (v[j]! > pivot) j--;
      if (i <= j) {
        const tmp = v[i]!;
        v[i] = v[j]!;
        v[j] = tmp;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return v[k]!;
  }
  return v[k]!;
}

/** Median of `xs` (the 50th percentile); NaN when empty. */
export function median(xs: ArrayLike<number>): number {
  return percentile(xs, 50);
}
