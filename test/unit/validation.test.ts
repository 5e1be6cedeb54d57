/**
 * Every rejection path of `validateSignal` and `validateOperation` (SPEC.md "Validation",
 * "Operations"): each failing field is named (an error starts with its path), several problems
 * are all named at once, and a valid payload comes back normalised (upper-cased symbol, SPEC's
 * defaults filled in).
 */
import { describe, expect, it } from 'vitest';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { messagesOf } from '../../src/errors.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { validateOperation } from '../../src/validation/validateOperation.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import { MAX_SCHEMA_PROBLEMS } from '../../src/validation/schemaErrors.ts';

/** A valid long limit signal with a stop and two TPs, overridable field by field. */
function payload(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    id: 'sig-1',
    symbol: 'btcusdt',
    side: 'long',
    createdAt: 1000,
    entry: { type: 'limit', price: 100 },
    stopLoss: { price: 90 },
    takeProfits: [
      { price: 110, fraction: 0.5 },
      { price: 120, fraction: 0.5 },
    ],
    ...fields,
  };
}

/** The same payload mirrored for a short (stop above, TPs below). */
function shortPayload(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return payload({
    side: 'short',
    stopLoss: { price: 110 },
    takeProfits: [
      { price: 90, fraction: 0.5 },
      { price: 80, fraction: 0.5 },
    ],
    ...fields,
  });
}

function without(p: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...p };
  delete copy[key];
  return copy;
}

/** Validates and returns the errors, failing if the payload was accepted. */
function signalErrors(p: unknown): string[] {
  const result = validateSignal(p);
  if (result.ok) throw new Error(`expected a rejection, but ${JSON.stringify(p)} was accepted`);
  expect(result.errors.length, 'a rejection names at least one problem').toBeGreaterThan(0);
  return messagesOf(result.errors);
}

/** The payload is rejected and every field in `fields` is named (an error starts with `field:`). */
function expectRejected(p: unknown, ...fields: string[]): string[] {
  const errors = signalErrors(p);
  for (const field of fields) {
    expect(
      errors.some((e) => e.startsWith(`${field}:`)),
      `an error names ${field}; errors: ${JSON.stringify(errors)}`,
    ).toBe(true);
  }
  return errors;
}

function expectAccepted(p: unknown): NormalizedSignal {
  const result = validateSignal(p);
  if (!result.ok)
    throw new Error(`expected ${JSON.stringify(p)} to be accepted: ${result.errors.join('; ')}`);
  return result.signal;
}

describe('validateSignal: required fields and null', () => {
  for (const field of ['v', 'id', 'symbol', 'side', 'createdAt', 'entry']) {
    it(`rejects a payload without ${field}, naming it`, () => {
      const errors = expectRejected(without(payload(), field), field);
      expect(errors.find((e) => e.startsWith(`${field}:`))).toMatch(/required/);
    });
  }

  it('names every missing required field at once', () => {
    expectRejected({}, 'v', 'id', 'symbol', 'side', 'createdAt', 'entry');
  });

  it('rejects entry without type, and limit/stop entries without price', () => {
    expectRejected(payload({ entry: {} }), 'entry.type');
    expectRejected(payload({ entry: { type: 'limit' } }), 'entry.price');
    expectRejected(payload({ entry: { type: 'stop' } }), 'entry.price');
  });

  it('rejects a market entry that carries a price', () => {
    expectRejected(payload({ entry: { type: 'market', price: 100 } }), 'entry');
  });

  for (const field of ['v', 'id', 'symbol', 'side', 'createdAt', 'entry']) {
    it(`treats null as a value, not an absence: ${field}: null is rejected`, () => {
      expectRejected(payload({ [field]: null }), field);
    });
  }

  for (const field of [
    'takeProfits',
    'stopLoss',
    'breakevenAfterTp',
    'breakevenOffsetBps',
    'trailing',
    'entryExpiresAt',
    'timeLimitMs',
    'toleranceBps',
    'confirmMs',
    'trigger',
    'stopFill',
    'feeBps',
    'tenant',
    'strategy',
    'model',
    'modelVersion',
    'timeframe',
    'confidence',
    'meta',
  ]) {
    it(`rejects null for the optional field ${field} (no field is nullable)`, () => {
      expectRejected(payload({ [field]: null }), field);
    });
  }

  it('rejects null inside nested objects', () => {
    expectRejected(payload({ stopLoss: { price: null } }), 'stopLoss.price');
    expectRejected(payload({ takeProfits: [{ price: 110, fraction: null }] }), 'takeProfits[0].fraction');
    expectRejected(payload({ trailing: { distanceBps: 10, activation: null } }), 'trailing.activation');
    expectRejected(payload({ entry: { type: 'limit', price: null } }), 'entry.price');
  });

  it('rejects a payload that is not an object', () => {
    for (const p of [null, 42, 'signal', [payload()], undefined]) {
      const result = validateSignal(p);
      expect(result.ok, JSON.stringify(p)).toBe(false);
      if (!result.ok) {
        expect(result.id).toBeNull();
        expect(result.errors).toEqual([
          { code: 'PAYLOAD_SCHEMA', message: 'payload: must be a JSON object' },
        ]);
      }
    }
  });
});

describe('validateSignal: unknown fields at every level', () => {
  it('rejects a misspelt top-level field (stopLos must not track a signal without a stop)', () => {
    const p = without(payload({ stopLos: { price: 90 } }), 'stopLoss');
    const errors = expectRejected(p, 'stopLos');
    expect(errors.join('\n')).toMatch(/unknown field/);
  });

  it('rejects unknown fields inside entry (entry.prize), stopLoss, takeProfits items and trailing', () => {
    expectRejected(payload({ entry: { type: 'limit', prize: 100 } }), 'entry.prize');
    expectRejected(payload({ stopLoss: { price: 90, type: 'hard' } }), 'stopLoss.type');
    expectRejected(
      payload({
        takeProfits: [
          { price: 110, fraction: 0.5, size: 3 },
          { price: 120, fraction: 0.5 },
        ],
      }),
      'takeProfits[0].size',
    );
    expectRejected(payload({ trailing: { distanceBps: 10, activation: 'fill', step: 1 } }), 'trailing.step');
  });

  it('rejects an unknown field inside trailing.activation (naming the activation)', () => {
    expectRejected(
      payload({ trailing: { distanceBps: 10, activation: { price: 105, when: 'now' } } }),
      'trailing.activation',
    );
    expectRejected(
      payload({ trailing: { distanceBps: 10, activation: { afterTp: 1, x: 1 } } }),
      'trailing.activation',
    );
  });

  it('accepts anything inside meta, which is free-form', () => {
    expectAccepted(payload({ meta: { stopLos: 1, nested: { anything: [1, 'two', null] } } }));
  });
});

describe('validateSignal: types, enums, ranges', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['v is not 1', { v: 2 }, 'v'],
    ['v is the string "1"', { v: '1' }, 'v'],
    ['id is a number', { id: 5 }, 'id'],
    ['id is empty', { id: '' }, 'id'],
    ['id is longer than 128 characters', { id: 'x'.repeat(129) }, 'id'],
    ['symbol is a number', { symbol: 5 }, 'symbol'],
    ['symbol is empty', { symbol: '' }, 'symbol'],
    ['symbol has white space', { symbol: 'BTC USDT' }, 'symbol'],
    ['side is not long/short', { side: 'buy' }, 'side'],
    ['createdAt is not an integer', { createdAt: 1000.5 }, 'createdAt'],
    ['createdAt is a string', { createdAt: '1000' }, 'createdAt'],
    ['createdAt is negative', { createdAt: -1 }, 'createdAt'],
    ['createdAt is NaN', { createdAt: NaN }, 'createdAt'],
    ['entry.type is unknown', { entry: { type: 'twap', price: 100 } }, 'entry.type'],
    ['entry.price is negative', { entry: { type: 'limit', price: -100 } }, 'entry.price'],
    ['entry.price is zero', { entry: { type: 'stop', price: 0 } }, 'entry.price'],
    ['entry.price is Infinity', { entry: { type: 'limit', price: Infinity } }, 'entry.price'],
    ['entry.price is NaN', { entry: { type: 'limit', price: NaN } }, 'entry.price'],
    ['entry.price is a string', { entry: { type: 'limit', price: '100' } }, 'entry.price'],
    ['stopLoss.price is zero', { stopLoss: { price: 0 } }, 'stopLoss.price'],
    ['stopLoss.price is negative', { stopLoss: { price: -5 } }, 'stopLoss.price'],
    ['stopLoss is a number', { stopLoss: 90 }, 'stopLoss'],
    ['takeProfits is an object', { takeProfits: { price: 110, fraction: 1 } }, 'takeProfits'],
    ['a TP price is Infinity', { takeProfits: [{ price: Infinity, fraction: 1 }] }, 'takeProfits[0].price'],
    ['a TP fraction is 0', { takeProfits: [{ price: 110, fraction: 0 }] }, 'takeProfits[0].fraction'],
    ['a TP fraction is above 1', { takeProfits: [{ price: 110, fraction: 1.5 }] }, 'takeProfits[0].fraction'],
    ['a TP fraction is missing', { takeProfits: [{ price: 110 }] }, 'takeProfits[0].fraction'],
    [
      'more than 10 TPs',
      { takeProfits: Array.from({ length: 11 }, (_, i) => ({ price: 101 + i, fraction: 0.05 })) },
      'takeProfits',
    ],
    ['breakevenAfterTp is 0', { breakevenAfterTp: 0 }, 'breakevenAfterTp'],
    ['breakevenAfterTp is not an integer', { breakevenAfterTp: 1.5 }, 'breakevenAfterTp'],
    ['breakevenOffsetBps is negative', { breakevenOffsetBps: -1 }, 'breakevenOffsetBps'],
    ['breakevenOffsetBps is Infinity', { breakevenOffsetBps: Infinity }, 'breakevenOffsetBps'],
    [
      'trailing.distanceBps is 0',
      { trailing: { distanceBps: 0, activation: 'fill' } },
      'trailing.distanceBps',
    ],
    [
      'trailing.distanceBps is 10000',
      { trailing: { distanceBps: 10000, activation: 'fill' } },
      'trailing.distanceBps',
    ],
    ['trailing.distanceBps is missing', { trailing: { activation: 'fill' } }, 'trailing.distanceBps'],
    ['trailing.activation is missing', { trailing: { distanceBps: 10 } }, 'trailing.activation'],
    [
      'trailing.activation is an unknown word',
      { trailing: { distanceBps: 10, activation: 'fil' } },
      'trailing.activation',
    ],
    [
      'trailing.activation.price is negative',
      { trailing: { distanceBps: 10, activation: { price: -1 } } },
      'trailing.activation',
    ],
    [
      'trailing.activation.afterTp is 0',
      { trailing: { distanceBps: 10, activation: { afterTp: 0 } } },
      'trailing.activation',
    ],
    ['entryExpiresAt is not an integer', { entryExpiresAt: 2000.5 }, 'entryExpiresAt'],
    ['timeLimitMs is 0', { timeLimitMs: 0 }, 'timeLimitMs'],
    ['timeLimitMs is negative', { timeLimitMs: -10 }, 'timeLimitMs'],
    ['timeLimitMs is not an integer', { timeLimitMs: 1.5 }, 'timeLimitMs'],
    ['toleranceBps is 1000', { toleranceBps: 1000 }, 'toleranceBps'],
    ['toleranceBps is negative', { toleranceBps: -0.5 }, 'toleranceBps'],
    ['toleranceBps is NaN', { toleranceBps: NaN }, 'toleranceBps'],
    ['confirmMs is negative', { confirmMs: -1 }, 'confirmMs'],
    ['confirmMs is not an integer', { confirmMs: 0.5 }, 'confirmMs'],
    ['trigger is unknown', { trigger: 'close' }, 'trigger'],
    ['stopFill is unknown', { stopFill: 'market' }, 'stopFill'],
    ['feeBps is negative', { feeBps: -1 }, 'feeBps'],
    ['feeBps is NaN', { feeBps: NaN }, 'feeBps'],
    ['tenant is empty', { tenant: '' }, 'tenant'],
    ['strategy is a number', { strategy: 5 }, 'strategy'],
    ['confidence is above 1', { confidence: 1.2 }, 'confidence'],
    ['confidence is negative', { confidence: -0.1 }, 'confidence'],
    ['meta is an array', { meta: [] }, 'meta'],
    ['meta is a string', { meta: 'note' }, 'meta'],
    // v1.1: every time bounded by what a date holds.
    ['createdAt is beyond 8.64e15', { createdAt: 8_640_000_000_000_001 }, 'createdAt'],
    ['entryExpiresAt is beyond 8.64e15', { entryExpiresAt: 8_640_000_000_000_001 }, 'entryExpiresAt'],
    ['timeLimitMs is beyond 8.64e15', { timeLimitMs: 8_640_000_000_000_001 }, 'timeLimitMs'],
    ['confirmMs is beyond 8.64e15', { confirmMs: 8_640_000_000_000_001 }, 'confirmMs'],
    // v1.2 fields.
    ['slippageBps is negative', { slippageBps: -0.1 }, 'slippageBps'],
    ['slippageBps is 1000', { slippageBps: 1000 }, 'slippageBps'],
    ['slippageBps is NaN', { slippageBps: NaN }, 'slippageBps'],
    ['slippageBps is a string', { slippageBps: '5' }, 'slippageBps'],
    ['roi is empty', { roi: [] }, 'roi'],
    [
      'roi has 21 entries',
      { roi: Array.from({ length: 21 }, (_, i) => ({ afterMs: i, returnBps: 10 })) },
      'roi',
    ],
    ['roi is an object', { roi: { afterMs: 0, returnBps: 10 } }, 'roi'],
    ['a roi afterMs is negative', { roi: [{ afterMs: -1, returnBps: 10 }] }, 'roi[0].afterMs'],
    ['a roi afterMs is not an integer', { roi: [{ afterMs: 1.5, returnBps: 10 }] }, 'roi[0].afterMs'],
    [
      'a roi afterMs is beyond 8.64e15',
      { roi: [{ afterMs: 8_640_000_000_000_001, returnBps: 1 }] },
      'roi[0].afterMs',
    ],
    ['a roi returnBps is -10000', { roi: [{ afterMs: 0, returnBps: -10000 }] }, 'roi[0].returnBps'],
    ['a roi returnBps is Infinity', { roi: [{ afterMs: 0, returnBps: Infinity }] }, 'roi[0].returnBps'],
    ['a roi returnBps is missing', { roi: [{ afterMs: 0 }] }, 'roi[0].returnBps'],
    ['a roi entry has an unknown field', { roi: [{ afterMs: 0, returnBps: 5, after: 1 }] }, 'roi[0].after'],
    ['notional is 0', { notional: 0 }, 'notional'],
    ['notional is negative', { notional: -100 }, 'notional'],
    ['notional is Infinity', { notional: Infinity }, 'notional'],
  ];
  for (const [what, fields, field] of cases) {
    it(`rejects a payload where ${what}, naming ${field}`, () => {
      expectRejected(payload(fields), field);
    });
  }

  it('reports the id of a rejected payload when it has a string id, else null', () => {
    const named = validateSignal(payload({ side: 'buy' }));
    expect(named.ok === false && named.id).toBe('sig-1');
    const unnamed = validateSignal(payload({ id: 7 }));
    expect(unnamed.ok === false && unnamed.id).toBeNull();
  });
});

describe('validateSignal: cross-field rules', () => {
  it('entryExpiresAt must come after createdAt (equal is rejected)', () => {
    expectRejected(payload({ createdAt: 1000, entryExpiresAt: 1000 }), 'entryExpiresAt');
    expectRejected(payload({ createdAt: 1000, entryExpiresAt: 999 }), 'entryExpiresAt');
    expectAccepted(payload({ createdAt: 1000, entryExpiresAt: 1001 }));
  });

  it('roi afterMs must strictly increase; a return table may fall, rise and go negative', () => {
    expectRejected(
      payload({
        roi: [
          { afterMs: 0, returnBps: 100 },
          { afterMs: 0, returnBps: 50 },
        ],
      }),
      'roi[1].afterMs',
    );
    expectRejected(
      payload({
        roi: [
          { afterMs: 10, returnBps: 100 },
          { afterMs: 20, returnBps: 50 },
          { afterMs: 15, returnBps: 20 },
        ],
      }),
      'roi[2].afterMs',
    );
    expectAccepted(
      payload({
        roi: [
          { afterMs: 0, returnBps: 100 },
          { afterMs: 60000, returnBps: 150 },
          { afterMs: 120000, returnBps: -9999.5 },
        ],
      }),
    );
  });

  it('accepts the v1.2 fields at their bounds', () => {
    expectAccepted(
      payload({ slippageBps: 0, notional: 1e-9, roi: [{ afterMs: 8_640_000_000_000_000, returnBps: 0 }] }),
    );
    expectAccepted(
      payload({
        slippageBps: 999.99,
        createdAt: 8_639_999_999_999_999,
        entryExpiresAt: 8_640_000_000_000_000,
      }),
    );
  });

  it('rejects fractions summing to more than 1 (beyond the 1e-9 slack), accepts within it', () => {
    expectRejected(
      payload({
        takeProfits: [
          { price: 110, fraction: 0.6 },
          { price: 120, fraction: 0.5 },
        ],
      }),
      'takeProfits',
    );
    expectAccepted(
      payload({
        takeProfits: [
          { price: 110, fraction: 0.5 },
          { price: 120, fraction: 0.5000000005 },
        ],
      }),
    );
    // 0.1 + 0.2 + 0.3 + 0.4 is 1.0000000000000002 in binary floating point.
    expectAccepted(
      payload({
        takeProfits: [
          { price: 110, fraction: 0.1 },
          { price: 111, fraction: 0.2 },
          { price: 112, fraction: 0.3 },
          { price: 113, fraction: 0.4 },
        ],
      }),
    );
  });

  describe('level order, long: stop < reference < TP1 < TP2 …', () => {
    for (const type of ['limit', 'stop'] as const) {
      it(`${type} entry: a stop at or above the entry is rejected`, () => {
        expectRejected(payload({ entry: { type, price: 100 }, stopLoss: { price: 100 } }), 'stopLoss.price');
        expectRejected(payload({ entry: { type, price: 100 }, stopLoss: { price: 105 } }), 'stopLoss.price');
      });
      it(`${type} entry: a first TP at or below the entry is rejected`, () => {
        expectRejected(
          payload({ entry: { type, price: 100 }, takeProfits: [{ price: 100, fraction: 1 }] }),
          'takeProfits[0].price',
        );
      });
    }
    it('TPs must strictly increase', () => {
      expectRejected(
        payload({
          takeProfits: [
            { price: 110, fraction: 0.5 },
            { price: 110, fraction: 0.5 },
          ],
        }),
        'takeProfits[1].price',
      );
      expectRejected(
        payload({
          takeProfits: [
            { price: 120, fraction: 0.5 },
            { price: 110, fraction: 0.5 },
          ],
        }),
        'takeProfits[1].price',
      );
    });
    it('market entry: no reference, but the stop must be below TP1', () => {
      expectAccepted(payload({ entry: { type: 'market' }, stopLoss: { price: 105 } }));
      expectRejected(payload({ entry: { type: 'market' }, stopLoss: { price: 110 } }), 'stopLoss.price');
      expectRejected(payload({ entry: { type: 'market' }, stopLoss: { price: 115 } }), 'stopLoss.price');
    });
    it('names every order violation at once', () => {
      expectRejected(
        payload({
          stopLoss: { price: 105 },
          takeProfits: [
            { price: 95, fraction: 0.5 },
            { price: 94, fraction: 0.5 },
          ],
        }),
        'stopLoss.price',
        'takeProfits[0].price',
        'takeProfits[1].price',
      );
    });
  });

  describe('level order, short: mirrored', () => {
    it('the valid mirror is accepted', () => {
      expectAccepted(shortPayload());
      expectAccepted(shortPayload({ entry: { type: 'stop', price: 100 } }));
      expectAccepted(shortPayload({ entry: { type: 'market' } }));
    });
    for (const type of ['limit', 'stop'] as const) {
      it(`${type} entry: a stop at or below the entry, or a TP at or above it, is rejected`, () => {
        expectRejected(
          shortPayload({ entry: { type, price: 100 }, stopLoss: { price: 100 } }),
          'stopLoss.price',
        );
        expectRejected(
          shortPayload({ entry: { type, price: 100 }, stopLoss: { price: 95 } }),
          'stopLoss.price',
        );
        expectRejected(
          shortPayload({ entry: { type, price: 100 }, takeProfits: [{ price: 100, fraction: 1 }] }),
          'takeProfits[0].price',
        );
      });
    }
    it('TPs must strictly decrease', () => {
      expectRejected(
        shortPayload({
          takeProfits: [
            { price: 90, fraction: 0.5 },
            { price: 95, fraction: 0.5 },
          ],
        }),
        'takeProfits[1].price',
      );
    });
    it('market entry: the stop must be above TP1', () => {
      expectRejected(shortPayload({ entry: { type: 'market' }, stopLoss: { price: 90 } }), 'stopLoss.price');
      expectRejected(shortPayload({ entry: { type: 'market' }, stopLoss: { price: 85 } }), 'stopLoss.price');
    });
  });

  it('the original long signal (as given) is valid for a long but not when flipped to short', () => {
    expectAccepted(payload());
    expectRejected(
      payload({ side: 'short' }),
      'stopLoss.price',
      'takeProfits[0].price',
      'takeProfits[1].price',
    );
  });

  it('breakevenAfterTp and trailing.activation.afterTp must name an existing TP', () => {
    expectRejected(payload({ breakevenAfterTp: 3 }), 'breakevenAfterTp');
    expectRejected(
      payload({ trailing: { distanceBps: 10, activation: { afterTp: 3 } } }),
      'trailing.activation.afterTp',
    );
    expectRejected(payload({ takeProfits: [], breakevenAfterTp: 1 }), 'breakevenAfterTp');
    expectRejected(without(payload({ breakevenAfterTp: 1 }), 'takeProfits'), 'breakevenAfterTp');
    expectRejected(
      without(payload({ trailing: { distanceBps: 10, activation: { afterTp: 1 } } }), 'takeProfits'),
      'trailing.activation.afterTp',
    );
    expectAccepted(
      payload({ breakevenAfterTp: 2, trailing: { distanceBps: 10, activation: { afterTp: 2 } } }),
    );
  });

  it('names several problems of different kinds at once', () => {
    const errors = expectRejected(
      {
        ...without(payload(), 'stopLoss'),
        v: 3,
        side: 'up',
        stopLos: { price: 90 },
        entry: { type: 'limit', price: 'x' },
        feeBps: -2,
        breakevenAfterTp: 0,
      },
      'v',
      'side',
      'stopLos',
      'entry.price',
      'feeBps',
      'breakevenAfterTp',
    );
    expect(errors.length).toBeGreaterThanOrEqual(6);
  });

  it('names the schema problem and the order problem together', () => {
    expectRejected(payload({ feeBps: -1, stopLoss: { price: 150 } }), 'feeBps', 'stopLoss.price');
  });
});

describe('validateSignal: normalisation', () => {
  it('upper-cases the symbol and fills in SPEC defaults', () => {
    const minimal = {
      v: 1,
      id: 'm',
      symbol: 'eth-usd',
      side: 'short',
      createdAt: 0,
      entry: { type: 'market' },
    };
    expect(expectAccepted(minimal)).toEqual({
      ...minimal,
      symbol: 'ETH-USD',
      takeProfits: [],
      breakevenOffsetBps: 0,
      toleranceBps: 0,
      confirmMs: 0,
      trigger: 'last',
      stopFill: 'trigger',
      feeBps: 0,
      slippageBps: 0,
      tenant: 'default',
    });
  });

  it('keeps every given value (and meta, grouping keys, confidence) as given', () => {
    const full = payload({
      breakevenAfterTp: 1,
      breakevenOffsetBps: 5,
      trailing: { distanceBps: 25, activation: { price: 105 } },
      entryExpiresAt: 5000,
      timeLimitMs: 60000,
      toleranceBps: 2,
      confirmMs: 500,
      trigger: 'bid_ask',
      stopFill: 'level',
      feeBps: 2.5,
      slippageBps: 3,
      roi: [
        { afterMs: 0, returnBps: 200 },
        { afterMs: 60000, returnBps: -25 },
      ],
      notional: 1500,
      tenant: 'acme',
      strategy: 'breakout',
      model: 'gbm',
      modelVersion: '1.0',
      timeframe: '1m',
      confidence: 0.7,
      meta: { source: 'test' },
    });
    expect(expectAccepted(full)).toEqual({ ...full, symbol: 'BTCUSDT' });
  });

  it('does not modify the payload it was given', () => {
    const p = payload();
    const copy = structuredClone(p);
    expectAccepted(p);
    expect(p).toEqual(copy);
  });
});

// ---------------------------------------------------------------------------------------------

function opErrors(op: unknown, ...fields: string[]): string[] {
  const result = validateOperation(op);
  if (result.ok) throw new Error(`expected ${JSON.stringify(op)} to be rejected`);
  const errors = messagesOf(result.errors);
  for (const field of fields) {
    expect(
      errors.some((e) => e.startsWith(`${field}:`)),
      `an error names ${field}; errors: ${JSON.stringify(errors)}`,
    ).toBe(true);
  }
  return errors;
}

describe('validateOperation', () => {
  it('accepts exit (with and without price), cancel and amend', () => {
    for (const op of [
      { op: 'exit', id: 'a', ts: 5 },
      { op: 'exit', id: 'a', ts: 5, price: 101.5 },
      { op: 'exit', id: 'a', ts: 5, fraction: 0.25 },
      { op: 'exit', id: 'a', ts: 5, fraction: 1, price: 150, force: true },
      { op: 'exit', id: 'a', ts: 5, force: false },
      { op: 'cancel', id: 'a', ts: 8_640_000_000_000_000 },
      { op: 'cancel', id: 'a', ts: 0 },
      { op: 'amend', id: 'a', ts: 5, stopLoss: { price: 95 } },
      { op: 'amend', id: 'a', ts: 5, takeProfits: [{ level: 1, price: 111 }] },
      { op: 'amend', id: 'a', ts: 5, stopLoss: { price: 95 }, takeProfits: [{ level: 2, price: 130 }] },
    ]) {
      const result = validateOperation(op);
      expect(result, JSON.stringify(op)).toEqual({ ok: true, op });
    }
  });

  it('rejects missing op, id and ts, naming each', () => {
    opErrors({}, 'op', 'id', 'ts');
    opErrors({ op: 'exit', id: 'a' }, 'ts');
    opErrors({ op: 'cancel', ts: 5 }, 'id');
  });

  it('rejects an unknown op', () => {
    opErrors({ op: 'close', id: 'a', ts: 5 }, 'op');
  });

  it('rejects null as a value', () => {
    opErrors({ op: 'exit', id: null, ts: null, price: null }, 'id', 'ts', 'price');
    opErrors({ op: 'amend', id: 'a', ts: 5, stopLoss: null }, 'stopLoss');
  });

  it('rejects bad types and ranges', () => {
    opErrors({ op: 'exit', id: 7, ts: 5 }, 'id');
    opErrors({ op: 'exit', id: '', ts: 5 }, 'id');
    opErrors({ op: 'exit', id: 'x'.repeat(129), ts: 5 }, 'id');
    opErrors({ op: 'exit', id: 'a', ts: 1.5 }, 'ts');
    opErrors({ op: 'exit', id: 'a', ts: -1 }, 'ts');
    opErrors({ op: 'exit', id: 'a', ts: '5' }, 'ts');
    opErrors({ op: 'exit', id: 'a', ts: 5, price: 0 }, 'price');
    opErrors({ op: 'exit', id: 'a', ts: 5, price: -1 }, 'price');
    opErrors({ op: 'exit', id: 'a', ts: 5, price: Infinity }, 'price');
    opErrors({ op: 'exit', id: 'a', ts: 5, price: NaN }, 'price');
    opErrors({ op: 'exit', id: 'a', ts: 8_640_000_000_000_001 }, 'ts');
    opErrors({ op: 'exit', id: 'a', ts: 5, fraction: 0 }, 'fraction');
    opErrors({ op: 'exit', id: 'a', ts: 5, fraction: -0.5 }, 'fraction');
    opErrors({ op: 'exit', id: 'a', ts: 5, fraction: 1.01 }, 'fraction');
    opErrors({ op: 'exit', id: 'a', ts: 5, fraction: '0.5' }, 'fraction');
    opErrors({ op: 'exit', id: 'a', ts: 5, fraction: NaN }, 'fraction');
    opErrors({ op: 'exit', id: 'a', ts: 5, force: 'yes' }, 'force');
    opErrors({ op: 'exit', id: 'a', ts: 5, force: 1 }, 'force');
    opErrors({ op: 'amend', id: 'a', ts: 5, stopLoss: { price: -1 } }, 'stopLoss.price');
    opErrors({ op: 'amend', id: 'a', ts: 5, stopLoss: {} }, 'stopLoss.price');
    opErrors({ op: 'amend', id: 'a', ts: 5, takeProfits: [] }, 'takeProfits');
    opErrors({ op: 'amend', id: 'a', ts: 5, takeProfits: [{ level: 0, price: 1 }] }, 'takeProfits[0].level');
    opErrors(
      { op: 'amend', id: 'a', ts: 5, takeProfits: [{ level: 1.5, price: 1 }] },
      'takeProfits[0].level',
    );
    opErrors({ op: 'amend', id: 'a', ts: 5, takeProfits: [{ level: 1 }] }, 'takeProfits[0].price');
    opErrors({ op: 'amend', id: 'a', ts: 5, takeProfits: [{ level: 1, price: 0 }] }, 'takeProfits[0].price');
  });

  it('rejects unknown fields for each op, at every level', () => {
    opErrors({ op: 'exit', id: 'a', ts: 5, reason: 'manual' }, 'reason');
    opErrors({ op: 'cancel', id: 'a', ts: 5, price: 100 }, 'price');
    opErrors({ op: 'cancel', id: 'a', ts: 5, fraction: 0.5 }, 'fraction');
    opErrors({ op: 'amend', id: 'a', ts: 5, stopLoss: { price: 95 }, force: true }, 'force');
    opErrors({ op: 'amend', id: 'a', ts: 5, price: 100 }, 'price');
    opErrors({ op: 'amend', id: 'a', ts: 5, stopLoss: { price: 95, prize: 1 } }, 'stopLoss.prize');
    opErrors(
      { op: 'amend', id: 'a', ts: 5, takeProfits: [{ level: 1, price: 110, fraction: 0.5 }] },
      'takeProfits[0].fraction',
    );
    opErrors({ op: 'exit', id: 'a', ts: 5, stopLoss: { price: 95 } }, 'stopLoss');
  });

  it('names several problems at once', () => {
    opErrors(
      {
        op: 'amend',
        id: 'a',
        ts: -3,
        stopLoss: { price: 0, x: 1 },
        takeProfits: [{ level: 0, price: 5, y: 2 }],
      },
      'ts',
      'stopLoss.price',
      'stopLoss.x',
      'takeProfits[0].level',
      'takeProfits[0].y',
    );
  });

  it('rejects what is not an object, with a null id', () => {
    for (const op of [null, 'exit', 5, [], [{ op: 'exit', id: 'a', ts: 5 }]]) {
      const result = validateOperation(op);
      expect(result.ok, JSON.stringify(op)).toBe(false);
      if (!result.ok) expect(result.id).toBeNull();
    }
  });

  it('reports the id of a rejected operation when it has one', () => {
    const result = validateOperation({ op: 'close', id: 'sig-9', ts: 5 });
    expect(result.ok === false && result.id).toBe('sig-9');
  });
});

describe('ids in messages', () => {
  it('echo at most 100 characters of an offending id, cut with "…"', () => {
    const long = 'x'.repeat(128);
    const result = replaySync({
      signals: [{ v: 1, id: long, symbol: 'BTC', side: 'long', createdAt: 0, entry: { type: 'market' } }],
      ticks: [{ symbol: 'BTC', ts: 1, price: 100 }],
      ops: [
        { op: 'exit', id: `${long.slice(0, 127)}y`, ts: 5 },
        { op: 'exit', id: long, ts: 5 },
        { op: 'exit', id: long, ts: 6 },
      ],
    });
    const errors = result.rejectedOps.map((r) => messagesOf(r.errors).join(' '));
    expect(errors[0]).toBe(`unknown signal ${'x'.repeat(100)}…`);
    expect(errors[1]).toBe(`signal ${'x'.repeat(100)}… is already closed`);
    expect(errors.join(' ')).not.toContain('x'.repeat(101));
  });
});

describe('bounded rejections (found by fuzzing, docs/FUZZING.md)', () => {
  it('lists at most MAX_SCHEMA_PROBLEMS reasons and counts the rest: a 40,000-item array is not 40,000 stored reasons', () => {
    const takeProfits = Array.from({ length: 40_000 }, () => ({ price: 1, fraction: 0 }));
    const checked = validateSignal(payload({ takeProfits }));
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.errors).toHaveLength(MAX_SCHEMA_PROBLEMS + 1);
    expect(checked.errors[0]!.message).toBe('takeProfits: must have at most 10 items');
    expect(checked.errors.at(-1)!.message).toMatch(/^… and \d+ more problems of the same payload$/);
    const count = Number(/(\d+) more/.exec(checked.errors.at(-1)!.message)![1]);
    expect(count).toBeGreaterThan(40_000 - MAX_SCHEMA_PROBLEMS);
  });

  it('quotes an unknown or missing field name of any length abbreviated', () => {
    const long = 'k'.repeat(100_000);
    const checked = validateSignal({ ...payload(), [long]: 1 });
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    const message = checked.errors.find((e) => e.message.includes('unknown field'))!.message;
    expect(message.length).toBeLessThan(300);
    expect(message).toContain('(100000 characters)');
  });

  it('bounds the reasons of an operation the same way', () => {
    const checked = validateOperation({ op: 'amend', id: 's', ts: 1, ['x'.repeat(50_000)]: 1 });
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.errors.every((e) => e.message.length < 300)).toBe(true);
  });
});
