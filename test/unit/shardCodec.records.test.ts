/**
 * The checkpoint record's two forms (src/live/shardCodec.ts): the compact array written now, and
 * the `{ value, context, sync }` object that earlier versions wrote and that a running system
 * upgraded in place still holds in Redis. Both must decode to the same record.
 */
import { describe, expect, it } from 'vitest';
import { initialContext, type SignalContext } from '../../machines/signalContext.ts';
import { timeDeadline } from '../../machines/sweep.ts';
import { watchOf } from '../../machines/watch.ts';
import type { DeferredSignal } from '../../src/engine/SymbolBook.ts';
import type { CheckpointRecord } from '../../src/live/messages.ts';
import { shardCodec } from '../../src/live/shardCodec.ts';
import { ShardRuntime } from '../../src/live/ShardRuntime.ts';
import { normalize } from '../support/runEngine.ts';

const T = 1_700_000_000_000;

/** A context with every field set to a value of its own (nothing left at a default). */
function busyContext(): SignalContext {
  const [signal] = normalize([
    {
      v: 1,
      id: 'busy',
      symbol: 'XYZ',
      side: 'short',
      createdAt: T,
      entry: { type: 'limit', price: 101.5 },
      takeProfits: [
        { price: 95, fraction: 0.5 },
        { price: 90, fraction: 0.5 },
      ],
      stopLoss: { price: 104 },
      breakevenAfterTp: 1,
      trailing: { distanceBps: 80, activation: { afterTp: 1 } },
      entryExpiresAt: T + 60_000,
      timeLimitMs: 3_600_000,
      roi: [
        { afterMs: 0, returnBps: 300 },
        { afterMs: 600_000, returnBps: 100 },
      ],
      notional: 2500,
      feeBps: 4,
      slippageBps: 2,
    },
  ]);
  return {
    ...initialContext(signal!),
    phase: 'partial',
    seen: true,
    fill: { ts: T + 1000, price: 101.5 },
    initialStop: 104,
    legs: [{ reason: 'TP', level: 1, price: 95, fraction: 0.5, ts: T + 5000 }],
    tpFilled: [true, false],
    remaining: 0.5,
    hi: 102.25,
    lo: 94.5,
    lastP: 96,
    trailActive: true,
    peak: 94.5,
    stop: 101.5,
    stopKind: 'breakeven',
    armStop: T + 4000,
    armTp: [null, T + 6000],
    roiStage: 1,
  };
}

const record = (context: SignalContext, sync: number): CheckpointRecord => ({
  value: context.phase,
  context,
  sync,
});

describe('checkpoint records', () => {
  it('are written in the compact form and decode to an equal record, every field kept', () => {
    const r = record(busyContext(), 4242);
    const text = shardCodec.encodeRecord(r);
    expect(text.startsWith('[')).toBe(true);
    const back = shardCodec.decodeRecord(text);
    expect(back).toEqual(r);
    // toEqual passes over undefined fields: the field names must match exactly too.
    expect(Object.keys(back.context).sort()).toEqual(Object.keys(r.context).sort());
    // The fields, without the index entries after them, take less than half the object form.
    expect(text.lastIndexOf(',[')).toBeLessThan(JSON.stringify(r).length / 2);
  });

  it('still decode from the object form earlier versions wrote', () => {
    const r = record(busyContext(), 17);
    expect(shardCodec.decodeRecord(JSON.stringify(r))).toEqual(r);
  });

  it('of a context from before v1.2 keep the object form, its v1.2 fields still absent', () => {
    const { slippageBps, roiAfterMs, roiReturnBps, roiStage, notional, ...v11 } = busyContext();
    expect([slippageBps, roiAfterMs, roiReturnBps, roiStage, notional]).not.toContain(undefined);
    const r = record(v11, 3);
    const text = shardCodec.encodeRecord(r);
    expect(text.startsWith('{')).toBe(true);
    const back = shardCodec.decodeRecord(text);
    expect(back).toEqual(r);
    expect('slippageBps' in back.context, 'slippageBps came back').toBe(false);
    expect('notional' in back.context, 'notional came back').toBe(false);
  });

  it('keep null and empty values apart from absent ones in the compact form', () => {
    const c = { ...initialContext(normalize([minimal()])[0]!), roiAfterMs: null, notional: null };
    const back = shardCodec.decodeRecord(shardCodec.encodeRecord(record(c, 0)));
    expect(back.context.roiAfterMs).toBeNull();
    expect(back.context.notional).toBeNull();
    expect(back.context.legs).toEqual([]);
    expect(back.context.fill).toBeNull();
  });

  it('refuse a compact form of an unknown mark rather than misread it', () => {
    const text = shardCodec.encodeRecord(record(busyContext(), 1)).replace(/^\[1,/, '[2,');
    expect(text.startsWith('[2,')).toBe(true);
    expect(() => shardCodec.decodeRecord(text)).toThrow(/unknown form 2/);
  });
});

describe('checkpoint records a take-over files without decoding', () => {
  /** busyContext without its trailing stop, at several points of its life. */
  const variants = (): [string, SignalContext][] => {
    const busy = { ...busyContext(), trailActive: false, peak: null };
    const base = initialContext(normalize([minimal()])[0]!);
    const limit = initialContext(
      normalize([{ ...minimal(), entry: { type: 'limit', price: 99 }, entryExpiresAt: T + 60_000 }])[0]!,
    );
    return [
      ['partial, armed levels, return table', busy],
      ['nothing armed', { ...busy, armStop: null, armTp: [null, null] }],
      ['pending, no tick seen', base],
      ['pending limit entry, ticks seen', { ...limit, seen: true, lastP: 100 }],
      [
        'open, no stop, no deadline',
        { ...busy, armStop: null, armTp: [null, null], stop: null, timeLimitMs: null, roiAfterMs: null },
      ],
    ];
  };

  for (const [name, context] of variants()) {
    it(`carry the index entries watchOf and timeDeadline give the decoded context: ${name}`, () => {
      const r = record(context, 99);
      const text = shardCodec.encodeRecord(r);
      expect(text.startsWith('[1,') && text.endsWith(']]'), 'compact, with its index entries').toBe(true);
      expect(shardCodec.decodeRecord(text)).toEqual(r);
      // The previous version reads the fields and ignores the one element after them.
      const fields = (JSON.parse(text) as unknown[]).slice(0, -1);
      expect(fields).toHaveLength(45);
      expect(shardCodec.decodeRecord(JSON.stringify(fields))).toEqual(r);
      const filed = shardCodec.restoreRecord(text);
      expect('text' in filed, 'filed without decoding').toBe(true);
      expect(filed).toEqual({
        id: context.id,
        symbol: context.symbol,
        sync: 99,
        text,
        watch: watchOf(context),
        deadline: timeDeadline(context),
      });
    });
  }

  it('read ids and symbols with quotes, backslashes, brackets and commas from the text alone', () => {
    const awkward: [string, string][] = [
      ['a"b\\c,]"', 'X[1],"y"'],
      ['\\', '\\"'],
      ['id\u2028 é ✓ 𝄞', 'Ω,"]'],
    ];
    for (const [id, symbol] of awkward) {
      const context = { ...initialContext(normalize([minimal()])[0]!), id, symbol };
      const text = shardCodec.encodeRecord(record(context, 5));
      expect(shardCodec.restoreRecord(text)).toMatchObject({ id, symbol, sync: 5 });
      // With the hash field (the id) given: the same, also when the field is not the text's id.
      expect(shardCodec.restoreRecord(text, id)).toMatchObject({ id, symbol, sync: 5 });
      expect(shardCodec.restoreRecord(text, `${id}x`)).toMatchObject({ id, symbol, sync: 5 });
      expect(shardCodec.restoreRecord(text, id.slice(0, -1))).toMatchObject({ id, symbol, sync: 5 });
    }
  });

  it('file a signal with an active trailing stop with its side, peak and factor (entries version 2)', () => {
    for (const dir of [-1, 1] as const) {
      const context = { ...busyContext(), dir };
      const r = record(context, 7);
      const text = shardCodec.encodeRecord(r);
      const entries = (JSON.parse(text) as unknown[]).at(-1) as unknown[];
      expect(entries[0], 'the entries version').toBe(2);
      expect(entries.slice(8)).toEqual([dir, 94.5, watchOf(context).trail!.factor]);
      const filed = shardCodec.restoreRecord(text);
      expect(filed).toEqual({
        id: 'busy',
        symbol: 'XYZ',
        sync: 7,
        text,
        watch: watchOf(context),
        deadline: timeDeadline(context),
      });
      expect((filed as DeferredSignal).watch.trail).toEqual({ peak: 94.5, factor: expect.any(Number), dir });
      // A worker that reads version 1 only finds eleven values where it reads eight: it decodes.
      const asVersionOne = JSON.stringify([
        ...(JSON.parse(text) as unknown[]).slice(0, -1),
        [1, ...entries.slice(1)],
      ]);
      expect(shardCodec.restoreRecord(asVersionOne)).toEqual(r);
    }
  });

  it('decode at once a trailing stop without a peak (a checkpoint from before v1.1), or with entries cut short', () => {
    const r = record({ ...busyContext(), peak: null }, 7);
    const text = shardCodec.encodeRecord(r);
    expect(text.startsWith('[1,') && text.endsWith('false]'), 'no index entries').toBe(true);
    expect(shardCodec.restoreRecord(text)).toEqual(r);
    const full = record(busyContext(), 7);
    const a = JSON.parse(shardCodec.encodeRecord(full)) as unknown[];
    const entries = a.at(-1) as unknown[];
    for (const edited of [
      entries.slice(0, 8),
      entries.slice(0, 10),
      [...entries, 1],
      [...entries.slice(0, 8), 0, 94.5, 1],
      [...entries.slice(0, 9), null, 1],
    ]) {
      const text = JSON.stringify([...a.slice(0, -1), edited]);
      expect(shardCodec.restoreRecord(text), JSON.stringify(edited)).toEqual(full);
    }
  });

  it('decode at once a signal whose thresholds overflow to an infinity null cannot stand for', () => {
    const long = { ...initialContext(normalize([minimal()])[0]!), phase: 'open' as const, seen: true };
    const overflowing: [string, SignalContext][] = [
      [
        'a long stop above the tolerance',
        { ...long, fill: { ts: T, price: 1.75e308 }, stop: 1.7e308, toleranceBps: 999 },
      ],
      [
        'a short take-profit above it',
        {
          ...long,
          dir: -1,
          fill: { ts: T, price: 1e308 },
          tpPrices: [1.7e308],
          toleranceBps: 999,
          stop: null,
        },
      ],
    ];
    for (const [name, context] of overflowing) {
      const w = watchOf(context);
      expect(Number.isFinite(w.below) && Number.isFinite(w.above), `${name}: a threshold overflows`).toBe(
        false,
      );
      const r = record(context, 2);
      const text = shardCodec.encodeRecord(r);
      expect(text.endsWith(']]'), `${name}: no index entries`).toBe(false);
      expect(shardCodec.restoreRecord(text), name).toEqual(r);
    }
  });

  it('read every number of the entries as JSON does, and decode a record whose entries are no JSON', () => {
    const text = shardCodec.encodeRecord(record(initialContext(normalize([minimal()])[0]!), 4));
    const open = text.lastIndexOf('[');
    const entries = JSON.parse(text.slice(open, -1)) as unknown[];
    /** The record with its below, above and at thresholds and its deadline spelled `raw`. */
    const withLevels = (raw: string[]): string =>
      `${text.slice(0, open)}[${[...entries.slice(0, 2), ...raw.slice(0, 3), ...entries.slice(5, 7), raw[3]].join(',')}]]`;
    // Prices as feeds quote them, every magnitude a double has, and the shortest form of
    // random doubles (up to 17 significant digits, exponents both ways).
    const bits = new DataView(new ArrayBuffer(8));
    let seed = 7;
    const random = (): number => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647) * 2 ** 32;
    const values: number[] = [0, -0, 1, -1, 0.1, 0.3, 324.7814, 1e21, 1e-7, 5e-324, Number.MAX_VALUE];
    for (let i = 0; i < 2000; i++) {
      values.push(Math.round(random() / 2 ** 10) / 10 ** (i % 9)); // up to 6 digits, 0–8 decimals
      bits.setUint32(0, random() % 0x7fe00000);
      bits.setUint32(4, random());
      values.push(bits.getFloat64(0) * (i % 2 === 0 ? 1 : -1));
    }
    for (let i = 0; i < values.length; i += 4) {
      const raw = values.slice(i, i + 4).map((x) => JSON.stringify(x));
      while (raw.length < 4) raw.push('null');
      const filed = shardCodec.restoreRecord(withLevels(raw)) as DeferredSignal;
      const [below, above, at, deadline] = raw.map((r) => JSON.parse(r) as number | null);
      expect([filed.watch.below, filed.watch.above, filed.watch.at, filed.deadline], raw.join(',')).toEqual([
        below ?? -Infinity,
        above ?? Infinity,
        at ?? Infinity,
        deadline,
      ]);
    }
    // Entries that are JSON but no number or null as the encoder spells them: the context decides.
    for (const other of ['"1"', 'true', '[1]', '{}', ' 1']) {
      const filed = shardCodec.restoreRecord(withLevels([other, 'null', 'null', 'null']));
      expect('text' in filed, other).toBe(false);
    }
    // What Number would read but JSON does not: not filed either (the record is no JSON, and
    // fails to load as any unreadable record does).
    for (const bad of ['01', '1.', '.5', '+1', '1e', '0x10', 'Infinity', 'nul', 'null1', '', '1_0']) {
      expect(() => shardCodec.restoreRecord(withLevels([bad, 'null', 'null', 'null'])), bad).toThrow(
        SyntaxError,
      );
    }
    for (const good of ['1.50', '-0.0', '1E5', '0.1e-3', '123456789012345678', '0.1234567890123456789']) {
      const filed = shardCodec.restoreRecord(withLevels([good, 'null', 'null', 'null'])) as DeferredSignal;
      expect(filed.watch.below, good).toBe(Number(good));
    }
  });

  it('decode the object form, the form without entries and entries of another version as before', () => {
    const r = record({ ...busyContext(), trailActive: false, peak: null }, 3);
    expect(shardCodec.restoreRecord(JSON.stringify(r))).toEqual(r);
    const a = JSON.parse(shardCodec.encodeRecord(r)) as unknown[];
    expect(shardCodec.restoreRecord(JSON.stringify(a.slice(0, -1)))).toEqual(r);
    const entries = a.at(-1) as unknown[];
    expect(entries[0], 'the entries version').toBe(1);
    for (const version of [0, 2, 3]) {
      const otherVersion = JSON.stringify([...a.slice(0, -1), [version, ...entries.slice(1)]]);
      expect(shardCodec.restoreRecord(otherVersion), `version ${version}`).toEqual(r);
    }
    // Entries edited by hand: no such series, a threshold that is not a number.
    for (const edited of [
      [1, 7, ...entries.slice(2)],
      [1, entries[1], 'x', ...entries.slice(3)],
    ]) {
      const text = JSON.stringify([...a.slice(0, -1), edited]);
      expect(text.endsWith(']]')).toBe(true);
      expect(shardCodec.restoreRecord(text)).toEqual(r);
    }
  });
});

describe('restoring a shard in slices', () => {
  it('adds a record that a scan returned twice once (HSCAN may repeat one)', () => {
    const contexts = ['a', 'b', 'c'].map((id) => initialContext(normalize([minimal(id)])[0]!));
    const records = contexts.map((c) => record(c, 0));
    const [a, b, c] = records as [CheckpointRecord, CheckpointRecord, CheckpointRecord];
    const rt = ShardRuntime.restore(0, { appliedJob: '9' }, new Map(), [a, b, b], new Map());
    rt.restoreSignals([c, a]);
    expect(rt.openCount).toBe(3);
    expect([...rt.openSignals()].map((c) => c.id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('adds a deferred record that a scan returned twice once', () => {
    const filed = ['a', 'b', 'c'].map((id) =>
      shardCodec.restoreRecord(
        shardCodec.encodeRecord(record(initialContext(normalize([minimal(id)])[0]!), 0)),
      ),
    );
    expect(filed.every((r) => 'text' in r)).toBe(true);
    const [a, b, c] = filed as [DeferredSignal, DeferredSignal, DeferredSignal];
    const rt = ShardRuntime.restore(0, { appliedJob: '9' }, new Map(), [a, b, b], new Map());
    rt.restoreSignals([c, a]);
    expect(rt.openCount).toBe(3);
    expect([...rt.openSignals()].map((c) => c.id).sort()).toEqual(['a', 'b', 'c']);
  });
});

function minimal(id = 'm') {
  return {
    v: 1 as const,
    id,
    symbol: 'XYZ',
    side: 'long' as const,
    createdAt: T,
    entry: { type: 'market' as const },
    takeProfits: [{ price: 110, fraction: 1 }],
    stopLoss: { price: 90 },
  };
}
