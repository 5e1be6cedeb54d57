/**
 * TextInterner gives the text of any bytes, on first sight and when found again, whatever the
 * buffer they arrive in, through its growth from a few values to thousands. (That it returns
 * the same string instance cannot be observed in JavaScript; its profit is in the profile.)
 */
import { describe, expect, it } from 'vitest';
import { TextInterner } from '../../src/storage/TextInterner.ts';

describe('TextInterner', () => {
  it('decodes UTF-8 and never confuses two values, seen once or again', () => {
    const interner = new TextInterner();
    const values = ['', 'BTCUSDT', 'é✓', 'a', 'b', ...Array.from({ length: 5000 }, (_, i) => `SYM${i}`)];
    for (let round = 0; round < 2; round++) {
      for (const v of values) {
        // Each value inside a fresh buffer, at an offset, between other bytes.
        const bytes = Buffer.concat([Buffer.from('xx'), Buffer.from(v), Buffer.from('yy')]);
        const got = interner.text(bytes, 2, bytes.length - 4);
        expect(got, `round ${round}`).toBe(v);
      }
    }
  });

  it('keeps its own copy of the bytes: a reused buffer does not change a value found later', () => {
    const interner = new TextInterner();
    const buffer = Buffer.from('AAA');
    expect(interner.text(buffer, 0, 3)).toBe('AAA');
    buffer.write('BBB');
    expect(interner.text(buffer, 0, 3)).toBe('BBB');
    expect(interner.text(Buffer.from('AAA'), 0, 3)).toBe('AAA');
  });
});
