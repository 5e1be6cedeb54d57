/**
 * The price chart's data for one signal (src/web/dashboard/signalLevels.ts): levels from the
 * payload, the stop stepping through its moves in time order, ticks around the signal's life.
 */
import { describe, expect, it } from 'vitest';
import type { OutcomeLine, Tick } from '../../machines/types.ts';
import type { TrackerEvent } from '../../src/events/TrackerEvent.ts';
import { signalLevels } from '../../src/web/dashboard/signalLevels.ts';

const T0 = Date.parse('2025-11-20T10:00:00Z');
const payload = {
  v: 1,
  id: 's1',
  symbol: 'XYZ',
  side: 'long',
  createdAt: T0,
  entry: { type: 'limit', price: 100 },
  takeProfits: [
    { price: 110, fraction: 0.5 },
    { price: 120, fraction: 0.5 },
  ],
  stopLoss: { price: 90 },
};
const event = (type: TrackerEvent['type'], ts: number, data: Record<string, unknown>): TrackerEvent => ({
  type,
  id: 's1',
  tenant: 't',
  symbol: 'XYZ',
  ts,
  data,
});
const line: OutcomeLine = {
  id: 's1',
  state: 'closed',
  outcome: 'SL_HIT',
  fill: { ts: T0 + 60_000, price: 100 },
  legs: [
    { reason: 'TP', level: 1, price: 110, fraction: 0.5, ts: T0 + 120_000 },
    { reason: 'SL', stopKind: 'trailing', price: 104.5, fraction: 0.5, ts: T0 + 300_000 },
  ],
  closedAt: T0 + 300_000,
};

describe('signalLevels', () => {
  it('steps the stop through the fill and every move in time order, whatever order the events came in', () => {
    const levels = signalLevels({
      id: 's1',
      symbol: 'XYZ',
      payload,
      line,
      events: [
        event('signal.stop_moved', T0 + 200_000, { stop: 105, stopKind: 'trailing' }),
        event('signal.filled', T0 + 60_000, { price: 100, initialStop: 90 }),
        event('signal.stop_moved', T0 + 120_000, { stop: 100, stopKind: 'breakeven' }),
        event('signal.leg', T0 + 120_000, { index: 0 }),
      ],
      ticks: [],
    });
    expect(levels.stops).toEqual([
      { ts: T0, price: 90, kind: 'initial' },
      { ts: T0 + 120_000, price: 100, kind: 'breakeven' },
      { ts: T0 + 200_000, price: 105, kind: 'trailing' },
    ]);
    expect(levels.entry).toEqual({ type: 'limit', price: 100 });
    expect(levels.takeProfits).toEqual([
      { level: 1, price: 110, fraction: 0.5 },
      { level: 2, price: 120, fraction: 0.5 },
    ]);
    expect(levels.legs.map((l) => [l.reason, l.level, l.stopKind])).toEqual([
      ['TP', 1, null],
      ['SL', null, 'trailing'],
    ]);
    expect(levels).toMatchObject({ outcome: 'SL_HIT', closedAt: T0 + 300_000, bufferFrom: null });
  });

  it("keeps the ticks of the signal's life with a margin, sorted, thinned evenly beyond the cap", () => {
    const ticks: Tick[] = [];
    // One tick a second from an hour before to an hour after: the margin is 15 % of 5 min, at least 1 min.
    for (let ts = T0 - 3_600_000; ts <= T0 + 3_600_000; ts += 1000)
      ticks.push({ symbol: 'XYZ', ts, price: 100 });
    const all = signalLevels({ id: 's1', symbol: 'XYZ', payload, line, events: [], ticks: ticks.reverse() });
    expect(all.ticksInSpan).toBe(60 + 300 + 60 + 1);
    expect(all.ticks[0]!.ts).toBe(T0 - 60_000);
    expect(all.ticks.at(-1)!.ts).toBe(T0 + 360_000);
    expect(all.bufferFrom).toBe(T0 - 3_600_000);
    const thin = signalLevels({ id: 's1', symbol: 'XYZ', payload, line, events: [], ticks, maxTicks: 100 });
    expect(thin.ticks).toHaveLength(100);
    expect(thin.ticks[0]!.ts).toBe(T0 - 60_000);
    expect(thin.ticks.at(-1)!.ts).toBe(T0 + 360_000);
  });

  it('draws a signal without a stop with no stop line, and a pending one with what the payload says', () => {
    const levels = signalLevels({
      id: 's1',
      symbol: 'XYZ',
      payload: { ...payload, stopLoss: undefined, entry: { type: 'market' } },
      line: { id: 's1', state: 'pending', legs: [] },
      events: [],
      ticks: [{ symbol: 'XYZ', ts: T0 + 1000, price: 101 }],
    });
    expect(levels.stops).toEqual([]);
    expect(levels).toMatchObject({ state: 'pending', outcome: null, fill: null, closedAt: null });
    expect(levels.entry).toEqual({ type: 'market', price: null });
    expect(levels.ticks).toEqual([{ ts: T0 + 1000, price: 101 }]);
  });
});
