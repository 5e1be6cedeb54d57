/**
 * SlotHeap against a brute-force list: the top is always an entry with the smallest key,
 * popping removes exactly that entry, and compaction keeps exactly the live entries.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlotHeap } from '../../src/engine/SlotHeap.ts';

type Entry = { key: number; slot: number; ver: number };

type Step =
  | { kind: 'push'; key: number; slot: number; ver: number }
  | { kind: 'pop' }
  | { kind: 'compact'; deadSlots: number[] };

const keyArb = fc.oneof(
  fc.integer({ min: -20, max: 20 }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.constantFrom(-Infinity, Infinity, 0, -0),
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      key: keyArb,
      slot: fc.nat(30),
      ver: fc.nat(5),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pop' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      deadSlots: fc.uniqueArray(fc.nat(30), { maxLength: 10 }),
    }),
  },
);

const sameEntry = (a: Entry, b: Entry): boolean => a.key === b.key && a.slot === b.slot && a.ver === b.ver;

describe('SlotHeap', () => {
  it('is empty when new: size 0 and top key +Infinity', () => {
    const heap = new SlotHeap(1);
    expect(heap.size).toBe(0);
    expect(heap.topKey()).toBe(Infinity);
  });

  it('always exposes an entry with the smallest key, and pop removes that entry (brute force)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(stepArb, { maxLength: 300 }),
        (capacity, steps) => {
          const heap = new SlotHeap(capacity);
          let model: Entry[] = [];
          for (const [i, step] of steps.entries()) {
            if (step.kind === 'push') {
              heap.push(step.key, step.slot, step.ver);
              model.push({ key: step.key, slot: step.slot, ver: step.ver });
            } else if (step.kind === 'pop') {
              if (model.length === 0) continue;
              const top: Entry = { key: heap.topKey(), slot: heap.topSlot(), ver: heap.topVer() };
              const at = model.findIndex((e) => sameEntry(e, top));
              expect(
                at,
                `step ${i}: the top ${JSON.stringify(top)} is one of the entries`,
              ).toBeGreaterThanOrEqual(0);
              model.splice(at, 1);
              heap.pop();
            } else {
              const dead = new Set(step.deadSlots);
              heap.compact((slot) => !dead.has(slot));
              model = model.filter((e) => !dead.has(e.slot));
            }
            expect(heap.size, `step ${i}: size`).toBe(model.length);
            const min = model.reduce((m, e) => Math.min(m, e.key), Infinity);
            // `+ 0`: a -0 and a 0 are the same key to the heap.
            expect(
              heap.topKey() + 0,
              `step ${i}: top key is the smallest of ${JSON.stringify(model.map((e) => e.key))}`,
            ).toBe(min + 0);
          }
          // Draining gives the keys in non-decreasing order, and exactly the entries left.
          const drained: Entry[] = [];
          while (heap.size > 0) {
            drained.push({ key: heap.topKey(), slot: heap.topSlot(), ver: heap.topVer() });
            heap.pop();
          }
          const plain = (e: Entry): Entry => ({ key: e.key + 0, slot: e.slot, ver: e.ver });
          const byKey = (a: Entry, b: Entry): number => a.key - b.key || a.slot - b.slot || a.ver - b.ver;
          const keys = drained.map((e) => e.key + 0);
          expect(keys, 'drained in key order').toEqual(keys.slice().sort((a, b) => a - b));
          expect(drained.map(plain).sort(byKey)).toEqual(model.map(plain).sort(byKey));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps slots and versions with their keys through growth (Int32 slots, Uint32 versions)', () => {
    const heap = new SlotHeap(1);
    const entries = Array.from({ length: 100 }, (_, i) => ({
      key: (i * 37) % 101,
      slot: 1000 + i,
      ver: 4e9 + i,
    }));
    for (const e of entries) heap.push(e.key, e.slot, e.ver);
    const out: { key: number; slot: number; ver: number }[] = [];
    while (heap.size > 0) {
      out.push({ key: heap.topKey(), slot: heap.topSlot(), ver: heap.topVer() });
      heap.pop();
    }
    expect(out).toEqual(entries.slice().sort((a, b) => a.key - b.key));
  });
});
