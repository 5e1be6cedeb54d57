/**
 * How SPEC compares a price with a level (docs/SPEC.md "Comparing prices with levels"): with a
 * relative slack, since levels computed from other numbers are off by an ulp or two.
 */

/**
 * Relative slack when a price is compared with a level (SPEC.md "Comparing prices with
 * levels"): levels computed from other numbers are off by an ulp or two, and a trader who
 * sets a stop at 100.5 means the tick at 100.5 to touch it.
 */
export const LEVEL_EPSILON = 1e-12;

/** `p >= x` as SPEC compares a price with a level. */
export function atOrAbove(p: number, x: number): boolean {
  return p >= x - LEVEL_EPSILON * x;
}

/** `p <= x` as SPEC compares a price with a level. */
export function atOrBelow(p: number, x: number): boolean {
  return p <= x + LEVEL_EPSILON * x;
}

/** Whether `p` is at or beyond `x` in direction `dir` (+1: at or above, −1: at or below). */
export function reaches(p: number, x: number, dir: 1 | -1): boolean {
  return dir > 0 ? atOrAbove(p, x) : atOrBelow(p, x);
}
