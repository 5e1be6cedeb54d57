/**
 * The index's housekeeping on long paths, against the reference loop: the extrema logs are
 * folded into their signals and cleared once they pass 65,536 entries (a long one-way ramp
 * grows one stack by a tick each), and heaps full of stale entries are compacted (a signal
 * delivered on every tick files new entries each time). Neither may change an outcome, and a
 * checkpoint taken after either must restore to the same outcomes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { referenceReplay } from '../reference/referenceReplay.ts';
import { firstExactDifference, normalize, runEngine } from '../support/runEngine.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { buildSignals, describeMarket, signalPlanArb } from '../support/signalPlans.ts';

function sig(id: string, fields: Partial<SignalPayload>): SignalPayload {
  return { v: 1, id, symbol: 'RAMP', side: 'long', createdAt: 0, entry: { type: 'market' }, ...fields };
}

function expectSame(signals: SignalPayload[], ticks: Tick[]): void {
  const engine = replaySync({ signals, ticks });
  const diff = describeDifference(engine.lines, referenceReplay(signals, ticks).lines);
  expect(diff, `engine vs reference:\n${diff}`).toBeNull();
  const normalized = normalize(signals);
  // Jobs of many ticks: each job exports its symbol's extrema, which grow to 65,536 entries here.
  const uninterrupted = runEngine(normalized, ticks, [], [], { ticksPerJob: 5000 });
  const cuts = [Math.floor(ticks.length * 0.6), ticks.length - 2];
  const restored = runEngine(normalized, ticks, [], cuts, { ticksPerJob: 5000 });
  const exact = firstExactDifference(restored.lines, uninterrupted.lines);
  expect(exact, `checkpoint after ${cuts.join(', ')}:\n${exact}`).toBeNull();
}

describe('engine housekeeping on long paths', () => {
  it('a 70,000-tick one-way ramp (extrema stacks folded and cleared) leaves every outcome as the reference has it', () => {
    const ticks: Tick[] = [];
    // Up from 100 for 70,000 ticks, then down hard: every open signal is delivered at the end.
    for (let i = 0; i < 70_000; i++) ticks.push({ symbol: 'RAMP', ts: i, price: 100 + i / 10_000 });
    for (let i = 0; i < 50; i++) ticks.push({ symbol: 'RAMP', ts: 70_000 + i, price: 106.9 - i * 0.26 });
    const signals = [
      sig('long-trailing', { stopLoss: { price: 50 }, trailing: { distanceBps: 300, activation: 'fill' } }),
      sig('long-trailing-at', { trailing: { distanceBps: 150, activation: { price: 103 } } }),
      sig('long-plain', { stopLoss: { price: 99 } }),
      sig('long-tp-late', { stopLoss: { price: 99 }, takeProfits: [{ price: 106.5, fraction: 0.5 }] }),
      sig('short-plain', { side: 'short', stopLoss: { price: 200 } }),
      sig('short-tolerant', { side: 'short', stopLoss: { price: 110 }, toleranceBps: 50, createdAt: 5000 }),
      sig('long-mid', {
        trigger: 'mid',
        stopLoss: { price: 60 },
        trailing: { distanceBps: 500, activation: 'fill' },
      }),
      sig('long-late-start', { createdAt: 66_000, trailing: { distanceBps: 100, activation: 'fill' } }),
      sig('long-time', { createdAt: 10, timeLimitMs: 69_000 }),
    ];
    expectSame(signals, ticks);
    const lines = replaySync({ signals, ticks }).lines;
    const open = lines.filter((l) => l.state !== 'closed').map((l) => l.id);
    expect(open, 'only the shorts with far stops are still open').toEqual(['short-plain', 'short-tolerant']);
  });

  it('a signal delivered on every tick (heaps compacted) leaves the others untouched', () => {
    const ticks: Tick[] = [];
    // Oscillates across 100.05 for 6,000 ticks, then jumps out both ways.
    for (let i = 0; i < 6_000; i++)
      ticks.push({ symbol: 'RAMP', ts: 1000 + i, price: i % 2 === 0 ? 100 : 100.1 });
    ticks.push({ symbol: 'RAMP', ts: 7000, price: 98 });
    ticks.push({ symbol: 'RAMP', ts: 7001, price: 103 });
    const signals = [
      // Its TP is touched every other tick, never long enough to confirm: armed, disarmed, again.
      sig('flicker', { createdAt: 1000, takeProfits: [{ price: 100.05, fraction: 1 }], confirmMs: 10_000 }),
      sig('flicker-short', {
        createdAt: 1000,
        side: 'short',
        stopLoss: { price: 100.05 },
        confirmMs: 100_000,
      }),
      ...Array.from({ length: 40 }, (_, k) =>
        sig(`quiet-${k}`, {
          createdAt: 1000 + k,
          side: k % 2 === 0 ? 'long' : 'short',
          stopLoss: { price: k % 2 === 0 ? 99 - k / 100 : 102 + k / 100 },
          ...(k % 3 === 0 ? { trailing: { distanceBps: 100 + k, activation: 'fill' as const } } : {}),
        }),
      ),
    ];
    expectSame(signals, ticks);
  });

  it('many random signals over a long random walk (20,000 ticks) match the reference', () => {
    const rnd = fc.sample(fc.integer({ min: -2, max: 2 }), { numRuns: 20_000, seed: 42 });
    const ticks: Tick[] = [];
    let n = 800;
    rnd.forEach((move, i) => {
      n = Math.max(8, n + move);
      const tick: Tick = { symbol: 'RAMP', ts: 1000 + Math.floor(i / 2), price: n / 8 };
      if (i % 3 !== 0) {
        tick.bid = (n - 1) / 8;
        tick.ask = (n + 1) / 8;
      }
      ticks.push(tick);
    });
    const market = describeMarket(ticks, 8);
    const plans = fc.sample(signalPlanArb, { numRuns: 150, seed: 7 });
    // Spread the signals over the whole walk, so that many stay open across thousands of ticks.
    const signals = buildSignals(plans, market).map((b) => b.payload);
    expectSame(signals, ticks);
  });
});
