/**
 * The engine's id index split in parts (as a shard runtime splits it, by the signals' storage
 * buckets) against the same engine with one map: every step of a run of adds, ticks that close
 * signals, operations and ids opened again after they closed must leave the two agreeing on
 * which ids are open, what each one's context is, and how many are open.
 */
import { describe, expect, it } from 'vitest';
import { startSignal } from '../../machines/signalMachine.ts';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { SIGNAL_BUCKETS, signalBucketOf } from '../../src/names.ts';
import { normalize } from '../support/runEngine.ts';

const T = 1_700_000_000_000;
const SYMBOLS = ['AAA', 'BBB', 'CCC'];

function payload(id: string, symbol: string, at: number, stop: number, target: number): SignalPayload {
  return {
    v: 1,
    id,
    symbol,
    side: 'long',
    createdAt: at,
    entry: { type: 'market' },
    takeProfits: [{ price: target, fraction: 1 }],
    stopLoss: { price: stop },
  };
}

/** Both engines, the closings each reported, and a check that they agree on every id seen. */
function pair() {
  const closed = { one: [] as string[], parts: [] as string[] };
  const one = new Engine({ onClose: (c) => closed.one.push(c.id) });
  const parts = new Engine(
    { onClose: (c) => closed.parts.push(c.id) },
    { count: SIGNAL_BUCKETS, of: signalBucketOf },
  );
  const seen = new Set<string>();
  const agree = (): void => {
    expect(parts.openCount).toBe(one.openCount);
    expect(closed.parts).toEqual(closed.one);
    for (const id of seen) {
      expect(parts.has(id), id).toBe(one.has(id));
      expect(parts.current(id), id).toEqual(one.current(id));
    }
  };
  return { one, parts, seen, agree, closed };
}

describe('engine id index in parts', () => {
  it('agrees with one map through adds, closings, operations and ids opened again', () => {
    const { one, parts, seen, agree, closed } = pair();
    // 300 ids over three symbols: stops and targets at staggered prices, so the ticks below
    // close them a few at a time; the ids land in most of the 64 parts.
    const ids = Array.from({ length: 300 }, (_, i) => `sig-${i}`);
    expect(new Set(ids.map(signalBucketOf)).size).toBeGreaterThan(50);
    const open = (id: string, symbol: string, at: number, k: number): void => {
      const [signal] = normalize([payload(id, symbol, at, 100 - 1 - (k % 20), 100 + 1 + (k % 20))]);
      one.add(startSignal(signal!));
      parts.add(startSignal(signal!));
      seen.add(id);
    };
    ids.forEach((id, k) => open(id, SYMBOLS[k % 3]!, T, k));
    agree();
    expect(parts.openCount).toBe(300);

    // A second add of an open id is refused by both.
    const [again] = normalize([payload('sig-7', 'AAA', T, 90, 110)]);
    expect(() => one.add(startSignal(again!))).toThrow(/already open/);
    expect(() => parts.add(startSignal(again!))).toThrow(/already open/);

    // Prices walk up and down over every symbol: each step closes the signals whose target
    // or stop it reaches.
    let ts = T + 1000;
    const tick = (symbol: string, price: number): void => {
      const t: Tick = { symbol, ts: (ts += 1000), price };
      one.applyTick(t);
      parts.applyTick(t);
    };
    for (const symbol of SYMBOLS) tick(symbol, 100);
    agree();
    for (let step = 1; step <= 8; step++) {
      for (const symbol of SYMBOLS) tick(symbol, 100 + step);
      agree();
    }
    expect(closed.parts.length).toBeGreaterThan(50);
    expect(parts.openCount).toBeLessThan(300);

    // Operations reach the signal by its id: a cancel of an open one closes it, one of a
    // closed id is unknown to both.
    const stillOpen = ids.find((id) => one.has(id))!;
    const gone = closed.one[0]!;
    for (const id of [stillOpen, gone]) {
      const op = { v: 1, id, op: 'exit', ts: (ts += 1000) } as const;
      expect(parts.applyOperation(op)).toEqual(one.applyOperation(op));
    }
    expect(parts.has(stillOpen)).toBe(false);
    agree();

    // Closed ids opened again, on another symbol: back in the index, counted once.
    const reopened = closed.one.slice(0, 20);
    reopened.forEach((id, k) => open(id, 'DDD', ts, k));
    agree();
    for (const id of reopened) expect(parts.has(id)).toBe(true);
    for (let step = 1; step <= 25; step++) tick('DDD', 100 - step);
    agree();
    expect(reopened.some((id) => parts.has(id))).toBe(false);
  });
});
