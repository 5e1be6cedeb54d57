/**
 * ExtremaLog against brute force: after any pushes (strictly increasing tick numbers, as
 * SymbolBook numbers its ticks), the largest and smallest value pushed after any tick number
 * are those of the full list. And what a checkpoint stores of the stacks (the tails of
 * `exportTail`, each written over the stored stacks from its offset) is the stacks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendTail, ExtremaLog, type ExtremaState, type ExtremaTail } from '../../src/engine/ExtremaLog.ts';

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

  it('the tails of exportTail, each written over what was stored from its offset, give the stacks', () => {
    const checkpointArb = fc.oneof(
      { weight: 8, arbitrary: stepArb },
      { weight: 3, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'forget' as const }) },
    );
    fc.assert(
      fc.property(fc.array(checkpointArb, { maxLength: 300 }), (steps) => {
        const log = new ExtremaLog();
        let stored: ExtremaState = { maxSeq: [], maxVal: [], minSeq: [], minVal: [] };
        let merged: ExtremaTail | null = null;
        let seq = 0;
        for (const [i, step] of steps.entries()) {
          if (step.kind === 'push') log.push((seq += step.gap), step.value);
          else if (step.kind === 'clear') log.clear();
          else if (step.kind === 'forget') log.forgetSaved();
          else if (step.kind === 'checkpoint') {
            const tail = log.exportTail();
            // What SETRANGE does to a stack's string, with only the written length counting.
            stored = {
              maxSeq: [...stored.maxSeq.slice(0, tail.maxFrom), ...tail.maxSeq],
              maxVal: [...stored.maxVal.slice(0, tail.maxFrom), ...tail.maxVal],
              minSeq: [...stored.minSeq.slice(0, tail.minFrom), ...tail.minSeq],
              minVal: [...stored.minVal.slice(0, tail.minFrom), ...tail.minVal],
            };
            expect(stored, `step ${i}: the stored stacks`).toEqual(log.export());
            merged = merged === null ? tail : appendTail(merged, tail);
            const { maxFrom, minFrom, ...stacks } = merged;
            if (maxFrom === 0 && minFrom === 0)
              expect(stacks, `step ${i}: the tails appended`).toEqual(log.export());
          }
        }
        log.exportTail();
        const sizes = log.export();
        expect(log.exportTail(), 'nothing new right after a checkpoint').toEqual({
          maxFrom: sizes.maxSeq.length,
          maxSeq: [],
          maxVal: [],
          minFrom: sizes.minSeq.length,
          minSeq: [],
          minVal: [],
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a tail after a restore, a clear or forgetSaved is the whole stacks', () => {
    const log = new ExtremaLog();
    for (const [seq, value] of [
      [1, 5],
      [2, 3],
      [3, 4],
      [4, 1],
    ] as const)
      log.push(seq, value);
    log.exportTail();
    log.push(5, 2);
    // Max stack (1,5) (3,4) (4,1): the 2 pops (4,1); min stack (4,1): the 2 stays on top of it.
    expect(log.exportTail()).toEqual({
      maxFrom: 2,
      maxSeq: [5],
      maxVal: [2],
      minFrom: 1,
      minSeq: [5],
      minVal: [2],
    });
    const restored = new ExtremaLog();
    restored.import(log.export());
    expect(restored.exportTail()).toMatchObject({ maxFrom: 0, minFrom: 0, ...log.export() });
    log.forgetSaved();
    expect(log.exportTail()).toMatchObject({ maxFrom: 0, minFrom: 0, ...restored.export() });
    log.clear();
    log.push(6, 9);
    expect(log.exportTail()).toEqual({
      maxFrom: 0,
      maxSeq: [6],
      maxVal: [9],
      minFrom: 0,
      minSeq: [6],
      minVal: [9],
    });
  });
});
