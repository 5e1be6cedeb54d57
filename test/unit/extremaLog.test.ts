/**
 * ExtremaLog against brute force: after any pushes (strictly increasing tick numbers, as
 * SymbolBook numbers its ticks), the largest and smallest value pushed after any tick number
 * are those of the full list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExtremaLog } from '../../src/engine/ExtremaLog.ts';

type Step =
  { kind: 'push'; gap: number; value: number } | { kind: 'query'; after: number } | { kind: 'clear' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      gap: fc.integer({ min: 1, max: 3 }),
      value: fc.oneof(fc.integer({ min: 90, max: 110 }), fc.double({ min: 1, max: 1e5, noNaN: true })),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('query' as const), after: fc.integer({ min: -2, max: 400 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
);

describe('ExtremaLog', () => {
  it('gives undefined when nothing was pushed after the tick', () => {
    const log = new ExtremaLog();
    expect(log.maxAfter(0)).toBeUndefined();
    log.push(1, 100);
    expect(log.maxAfter(1)).toBeUndefined();
    expect(log.minAfter(5)).toBeUndefined();
    expect(log.maxAfter(0)).toBe(100);
    expect(log.minAfter(0)).toBe(100);
  });

  it('max and min after any tick equal brute force over everything pushed since the last clear', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 300 }), (steps) => {
        const log = new ExtremaLog();
        let pushed: { seq: number; value: number }[] = [];
        let seq = 0;
        for (const [i, step] of steps.entries()) {
          if (step.kind === 'push') {
            seq += step.gap;
            log.push(seq, step.value);
            pushed.push({ seq, value: step.value });
          } else if (step.kind === 'clear') {
            log.clear();
            pushed = [];
            expect(log.size).toBe(0);
          } else {
            const after = pushed.filter((p) => p.seq > step.after).map((p) => p.value);
            const max = after.length === 0 ? undefined : Math.max(...after);
            const min = after.length === 0 ? undefined : Math.min(...after);
            expect(log.maxAfter(step.after), `step ${i}: max after ${step.after}`).toBe(max);
            expect(log.minAfter(step.after), `step ${i}: min after ${step.after}`).toBe(min);
          }
          expect(log.size, 'the stacks never hold more than what was pushed').toBeLessThanOrEqual(
            2 * pushed.length,
          );
        }
        for (const p of [{ seq: -1 }, ...pushed]) {
          const after = pushed.filter((q) => q.seq > p.seq).map((q) => q.value);
          expect(log.maxAfter(p.seq)).toBe(after.length === 0 ? undefined : Math.max(...after));
          expect(log.minAfter(p.seq)).toBe(after.length === 0 ? undefined : Math.min(...after));
        }
      }),
      { numRuns: 300 },
    );
  });
});
