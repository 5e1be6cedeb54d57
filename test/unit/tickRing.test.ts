import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Tick } from '../../machines/types.ts';
import { TickRing } from '../../src/live/TickRing.ts';

describe('TickRing', () => {
  it('keeps the last `capacity` ticks in order, quotes included, and reports the newest dropped time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean(), fc.boolean()), { maxLength: 40 }),
        fc.integer({ min: 0, max: 60 }),
        (capacity, rows, from) => {
          const ticks: Tick[] = [];
          let ts = 0;
          for (const [dt, hasBid, hasAsk] of rows) {
            ts += dt;
            const t: Tick = { symbol: 'S', ts, price: 100 + ts };
            if (hasBid) t.bid = 99 + ts;
            if (hasAsk) t.ask = 101 + ts;
            ticks.push(t);
          }
          const ring = new TickRing(capacity);
          for (const t of ticks) ring.push(t);
          const kept = ticks.slice(-capacity);
          expect(ring.length).toBe(kept.length);
          expect(ring.since(-Infinity, 'S')).toEqual(kept);
          expect(ring.since(from, 'S')).toEqual(kept.filter((t) => t.ts >= from));
          const dropped = ticks.length > capacity ? ticks[ticks.length - capacity - 1]!.ts : null;
          expect(ring.droppedTs).toBe(dropped);
        },
      ),
    );
  });

  it('built from a list of ticks (a buffer read from Redis) knows of no dropped tick', () => {
    const ring = TickRing.of(
      [1, 2, 3].map((ts) => ({ symbol: 'S', ts, price: ts })),
      2,
    );
    expect(ring.since(0, 'S').map((t) => t.ts)).toEqual([2, 3]);
    expect(ring.droppedTs).toBeNull();
    expect(ring.firstTs()).toBe(2);
  });
});
