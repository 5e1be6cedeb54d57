/**
 * The Engine's id index: where each open signal lives (its book and slot), given back when it
 * closes. Thousands of signals over several symbols, a third of them closed, more added (into
 * the slots the closed ones left): every operation and every look-up must still reach its own
 * signal.
 */
import { describe, expect, it } from 'vitest';
import { initialContext } from '../../machines/signalContext.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { normalize } from '../support/runEngine.ts';

const T = 1_700_000_000_000;
const SYMBOLS = ['AAA', 'BBB', 'CCC'];

function context(n: number) {
  const [signal] = normalize([
    {
      v: 1,
      id: `s${n}`,
      symbol: SYMBOLS[n % SYMBOLS.length]!,
      side: n % 2 === 0 ? 'long' : 'short',
      createdAt: T + n,
      entry: { type: 'market' },
    },
  ]);
  return initialContext(signal!);
}

describe('Engine: the id index', () => {
  it('reaches every open signal after closes and slots used again', () => {
    const closed: string[] = [];
    const engine = new Engine({ onClose: (c) => closed.push(c.id) });
    for (let n = 0; n < 3000; n++) engine.add(context(n));
    for (let n = 0; n < 3000; n += 3)
      expect(engine.applyOperation({ op: 'cancel', id: `s${n}`, ts: T + 10_000 })).toEqual([]);
    expect(closed).toHaveLength(1000);
    expect(engine.openCount).toBe(2000);
    for (let n = 3000; n < 4500; n++) engine.add(context(n));
    expect(engine.openCount).toBe(3500);
    for (let n = 0; n < 4500; n++) {
      const id = `s${n}`;
      const open = n >= 3000 || n % 3 !== 0;
      expect(engine.has(id), id).toBe(open);
      const c = engine.current(id);
      if (!open) {
        expect(c, id).toBeUndefined();
        expect(engine.applyOperation({ op: 'cancel', id, ts: T + 10_000 })[0]?.code, id).toBe(
          'SIGNAL_UNKNOWN',
        );
        continue;
      }
      expect([c?.id, c?.symbol, c?.phase], id).toEqual([id, SYMBOLS[n % SYMBOLS.length], 'pending']);
    }
    // Closing the rest by id closes exactly them.
    for (let n = 0; n < 4500; n++)
      if (n >= 3000 || n % 3 !== 0) engine.applyOperation({ op: 'cancel', id: `s${n}`, ts: T + 10_000 });
    expect(engine.openCount).toBe(0);
    expect(new Set(closed).size).toBe(4500);
    expect([...engine.symbolBooks()].map((b) => [b.symbol, b.openCount])).toEqual(SYMBOLS.map((s) => [s, 0]));
  });
});
