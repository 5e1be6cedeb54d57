/**
 * The loaded outcomes are put in close order by a radix sort (linear in the rows): it must
 * give exactly the stable comparison sort's order, ties in input order, for any close times.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeOrder } from '../../src/analysis/outcomeColumns.ts';

function reference(at: Float64Array): number[] {
  return Array.from({ length: at.length }, (_, i) => i).sort((a, b) => at[a]! - at[b]! || a - b);
}

const order = (times: number[]): number[] => {
  const closedAt = Float64Array.from(times);
  return Array.from(closeOrder({ length: closedAt.length, closedAt }));
};

describe('closeOrder', () => {
  it('orders whole-millisecond times as a stable comparison sort does, over spans needing one to four passes', () => {
    const base = 1_700_000_000_000;
    for (const span of [10, 70_000, 3e10, 2 ** 52]) {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: Math.min(span, Number.MAX_SAFE_INTEGER - base) }), {
            maxLength: 300,
          }),
          (offsets) => {
            const times = offsets.map((o) => (span > 1e15 ? o : base + o));
            expect(order(times)).toEqual(reference(Float64Array.from(times)));
          },
        ),
        { numRuns: 100 },
      );
    }
  });

  it('keeps ties in input order and falls back to the comparison sort for fractional times', () => {
    expect(order([5, 3, 5, 3, 1])).toEqual([4, 1, 3, 0, 2]);
    expect(order([2.5, 1.25, 2.5, -1])).toEqual([3, 1, 0, 2]);
    expect(order([])).toEqual([]);
    expect(order([7])).toEqual([0]);
  });
});
