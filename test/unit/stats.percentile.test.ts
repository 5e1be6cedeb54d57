import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percentile } from '../../src/metrics/stats.ts';

/** numpy's linear percentile computed the plain way, by sorting. */
function bySorting(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const index = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(index);
  const t = index - lo;
  const a = sorted[lo]!;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)]!;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

describe('percentile by selection', () => {
  it('equals the sorted computation bit for bit, duplicates and sorted runs included', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
            fc.integer({ min: -3, max: 3 }),
          ),
          { minLength: 1, maxLength: 200 },
        ),
        fc.integer({ min: 0, max: 100 }),
        fc.boolean(),
        (xs, p, presort) => {
          const input = presort ? [...xs].sort((a, b) => a - b) : xs;
          expect(Object.is(percentile(input, p), bySorting(input, p))).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('leaves its input untouched', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(percentile(xs, 50)).toBe(3);
    expect(xs).toEqual([5, 1, 4, 2, 3]);
  });
});
