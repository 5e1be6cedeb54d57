/**
 * ShardRuntime on its own: what a live shard does with each kind of job, in memory, its
 * deltas committed through the shard codec (MemoryShardStore) as the worker commits them to
 * Redis. Job validation, applied-job bookkeeping and the basic `forget` rule are in
 * shardJobs.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import type { OutcomeLine, SignalPayload } from '../../machines/types.ts';
import type { CheckpointRecord, ShardJobData, WireTick } from '../../src/live/messages.ts';
import { shardCodec, UnreadableRecordError } from '../../src/live/shardCodec.ts';
import type { OutboxEntry } from '../../src/storage/OutboxEntry.ts';
import type { ShardDelta } from '../../src/live/messages.ts';
import { ShardRuntime } from '../../src/live/ShardRuntime.ts';
import { MemoryShardStore } from '../support/MemoryShardStore.ts';
import { normalize } from '../support/runEngine.ts';

const T = 1_700_000_000_000;

function signal(id: string, fields: Partial<SignalPayload> = {}): NormalizedSignal {
  return normalize([
    {
      v: 1,
      id,
      symbol: 'XYZ',
      side: 'long',
      createdAt: T,
      entry: { type: 'market' },
      takeProfits: [{ price: 110, fraction: 1 }],
      stopLoss: { price: 90 },
      ...fields,
    },
  ])[0]!;
}

/** One tick a second from `from`, at these prices. */
function ticks(from: number, ...prices: number[]): ShardJobData {
  return { kind: 'ticks', ticks: prices.map((p, i): WireTick => ['XYZ', from + i * 1000, p]) };
}

/** A shard as a worker runs it: a runtime and its committed state, jobs numbered as BullMQ does. */
class Shard {
  readonly store: MemoryShardStore;
  runtime: ShardRuntime;
  private jobs = 0;
  constructor(
    readonly bufferSize: number,
    store?: MemoryShardStore,
  ) {
    this.store = store ?? new MemoryShardStore(bufferSize);
    this.runtime = new ShardRuntime(bufferSize);
  }
  run(data: ShardJobData): ShardDelta {
    return this.store.process(this.runtime, `${++this.jobs}`, data);
  }
  /** Another process takes the shard over: the runtime restored from what was committed. */
  takeOver(): void {
    this.runtime = this.store.load();
  }
  /** A second shard continuing from a copy of this one's committed state, restored from it. */
  fork(): Shard {
    const copy = new Shard(this.bufferSize, this.store.copy());
    copy.jobs = this.jobs;
    copy.takeOver();
    return copy;
  }
  /** Every signal's line: closed ones from the outbox, open ones as of the last tick. */
  lines(): Map<string, OutcomeLine> {
    const lines = new Map<string, OutcomeLine>();
    for (const e of this.store.outboxEntries()) if (e.kind === 'closed') lines.set(e.outcome.id, e.outcome);
    for (const c of this.runtime.openSignals()) lines.set(c.id, outcomeLine(c));
    return lines;
  }
}

const entries = (delta: ShardDelta): OutboxEntry[] => [...delta.outbox.values()];

describe('ShardRuntime: a late registration catches up from the recent ticks', () => {
  // Up through the take-profit at 110 after the signal's creation; the tick before it is older.
  const path = [100, 104, 111, 95];
  const cases: [string, NormalizedSignal, Partial<OutcomeLine>][] = [
    ['a signal the ticks close (take-profit)', signal('s1'), { state: 'closed', outcome: 'TP_HIT' }],
    [
      'a signal still open (levels out of reach), excursions folded in',
      signal('s1', { takeProfits: [{ price: 200, fraction: 1 }], stopLoss: { price: 50 } }),
      { state: 'open', fill: { ts: T, price: 104 } },
    ],
    [
      'a trailing stop that activated and moved',
      signal('s1', {
        stopLoss: { price: 50 },
        takeProfits: [],
        trailing: { distanceBps: 200, activation: 'fill' },
      }),
      { state: 'closed', outcome: 'SL_HIT', legs: [expect.objectContaining({ stopKind: 'trailing' })] },
    ],
  ];
  for (const [what, s, outcome] of cases) {
    it(`ends as a signal registered in time would: ${what}`, () => {
      const early = new Shard(100);
      early.run({ kind: 'register', signal: s });
      early.run(ticks(T - 1000, ...path));
      const late = new Shard(100);
      late.run(ticks(T - 1000, ...path));
      const delta = late.run({ kind: 'register', signal: s });
      expect(
        entries(delta).filter((e) => e.kind === 'catchup_gap'),
        'no gap: the buffer covers it',
      ).toEqual([]);
      expect(early.lines().get('s1'), 'the path does what this case is about').toMatchObject(outcome);
      expect(late.lines().get('s1')).toEqual(early.lines().get('s1'));
    });
  }

  it('on a restored shard, loads the recent ticks it needs from the store first', () => {
    const s = signal('s1');
    const early = new Shard(100);
    early.run({ kind: 'register', signal: s });
    early.run(ticks(T - 1000, ...path));
    const late = new Shard(100);
    late.run(ticks(T - 1000, ...path));
    late.takeOver();
    expect(late.runtime.needsRecent({ kind: 'register', signal: s }), 'the buffer is needed').toEqual([
      'XYZ',
    ]);
    const delta = late.run({ kind: 'register', signal: s });
    expect(entries(delta).filter((e) => e.kind === 'catchup_gap')).toEqual([]);
    expect(late.lines().get('s1')).toEqual(early.lines().get('s1'));
  });

  it('a registration created after the last tick needs no recent ticks', () => {
    const shard = new Shard(100);
    shard.run(ticks(T - 5000, 100, 101));
    shard.takeOver();
    expect(shard.runtime.needsRecent({ kind: 'register', signal: signal('s1') })).toEqual([]);
  });
});

describe('ShardRuntime: a catch-up gap when ticks already left the buffer', () => {
  it('reports the latest tick it could not replay, and catches up on the rest', () => {
    const shard = new Shard(2);
    shard.run(ticks(T, 100, 101, 102, 103, 104, 105));
    const delta = shard.run({ kind: 'register', signal: signal('s1') });
    expect(entries(delta)).toContainEqual({
      kind: 'catchup_gap',
      id: 's1',
      symbol: 'XYZ',
      createdAt: T,
      missedUpTo: T + 3000,
    });
    expect(delta.ids.get('s1'), 'registered nonetheless').toBe('open');
  });

  it('on a restored shard whose stored buffer does not reach back to the signal', () => {
    const shard = new Shard(2);
    shard.run(ticks(T, 100, 101, 102, 103));
    shard.takeOver();
    const delta = shard.run({ kind: 'register', signal: signal('s1') });
    const gaps = entries(delta).filter((e) => e.kind === 'catchup_gap');
    expect(gaps, 'one gap, up to the oldest tick still stored').toEqual([
      { kind: 'catchup_gap', id: 's1', symbol: 'XYZ', createdAt: T, missedUpTo: T + 2000 },
    ]);
  });

  it('with no buffer at all (TICK_BUFFER_SIZE=0), up to the last tick applied', () => {
    const shard = new Shard(0);
    shard.run(ticks(T, 100, 101, 102));
    const delta = shard.run({ kind: 'register', signal: signal('s1') });
    expect(entries(delta).filter((e) => e.kind === 'catchup_gap')).toEqual([
      { kind: 'catchup_gap', id: 's1', symbol: 'XYZ', createdAt: T, missedUpTo: T + 2000 },
    ]);
  });
});

describe('ShardRuntime: duplicate registrations are refused', () => {
  it.each<['open' | 'closed']>([['open'], ['closed']])(
    'an id the ledger knows as %s: counted, nothing written',
    (state) => {
      const rt = new ShardRuntime(100);
      const delta = rt.apply('1', { kind: 'register', signal: signal('s1') }, new Map([['s1', state]]));
      expect(delta.duplicates).toBe(1);
      expect([...delta.ids, ...delta.set, ...delta.outbox]).toEqual([]);
      expect(rt.openCount).toBe(0);
    },
  );

  it('an id already open in memory (its ledger entry not read yet): counted, the first one kept', () => {
    const shard = new Shard(100);
    shard.run({ kind: 'register', signal: signal('s1') });
    const before = shard.lines().get('s1');
    const delta = shard.runtime.apply(
      '2',
      { kind: 'register', signal: signal('s1', { stopLoss: { price: 99 } }) },
      new Map(),
    );
    expect(delta.duplicates).toBe(1);
    expect([...delta.ids, ...delta.set]).toEqual([]);
    expect(shard.lines().get('s1')).toEqual(before);
  });

  it('an id that closed here, through the ledger the close committed', () => {
    const shard = new Shard(100);
    shard.run({ kind: 'register', signal: signal('s1') });
    shard.run(ticks(T, 100, 111));
    expect(shard.store.ids.get('s1')).toBe('closed');
    expect(shard.run({ kind: 'register', signal: signal('s1') }).duplicates).toBe(1);
  });
});

describe("ShardRuntime: a batch of registrations (the intake's register-batch job)", () => {
  /** Ticks a second apart from `from`, alternating between XYZ and ABC at these prices. */
  const twoSymbols = (from: number, ...prices: number[]): ShardJobData => ({
    kind: 'ticks',
    ticks: prices.map((p, i): WireTick => [i % 2 === 0 ? 'XYZ' : 'ABC', from + i * 1000, p]),
  });
  const batch = [
    signal('a-closes'), // XYZ reaches 111 after T: closes in its catch-up
    signal('b-open', { symbol: 'ABC', takeProfits: [{ price: 200, fraction: 1 }], stopLoss: { price: 50 } }),
    signal('c-later', { createdAt: T + 10_000 }), // after the last tick: nothing to catch up
    signal('d-trailing', {
      symbol: 'ABC',
      stopLoss: { price: 50 },
      takeProfits: [],
      trailing: { distanceBps: 200, activation: 'fill' },
    }),
  ];
  const path = [100, 100, 104, 103, 111, 108, 95, 101];

  it('ends as the same registrations one job each would, on a restored shard: lines and events', () => {
    const one = new Shard(100);
    one.run(twoSymbols(T - 1000, ...path));
    one.takeOver();
    const each = batch.map((s) => one.run({ kind: 'register', signal: s }));

    const many = new Shard(100);
    many.run(twoSymbols(T - 1000, ...path));
    many.takeOver();
    const data: ShardJobData = { kind: 'register-batch', signals: batch };
    expect(many.runtime.needsRecent(data), "both symbols' buffers, once each").toEqual(['XYZ', 'ABC']);
    const delta = many.run(data);

    expect(one.lines().get('a-closes'), 'the path does what the case is about').toMatchObject({
      state: 'closed',
      outcome: 'TP_HIT',
    });
    expect(many.lines()).toEqual(one.lines());
    expect(entries(delta)).toEqual(each.flatMap(entries));
    expect(Object.fromEntries(delta.ids)).toEqual(Object.fromEntries(each.flatMap((d) => [...d.ids])));
    expect(many.runtime.openCount).toBe(one.runtime.openCount);
  });

  it('counts a repeat within the batch as a duplicate, also of a signal its catch-up closed', () => {
    const shard = new Shard(100);
    shard.run(twoSymbols(T - 1000, ...path));
    const delta = shard.run({
      kind: 'register-batch',
      signals: [batch[0]!, batch[1]!, { ...batch[0]!, takeProfits: [] }, batch[1]!],
    });
    expect(delta.duplicates).toBe(2);
    expect(Object.fromEntries(delta.ids)).toEqual({ 'a-closes': 'closed', 'b-open': 'open' });
    expect(entries(delta).filter((e) => e.kind === 'closed')).toHaveLength(1);
    expect(shard.lines().get('a-closes')).toMatchObject({ state: 'closed', outcome: 'TP_HIT' });
  });
});

describe('ShardRuntime: operations against known, closed and unknown ids', () => {
  it('applies an operation on an open signal, under the outbox key of its job', () => {
    const shard = new Shard(100);
    shard.run({ kind: 'register', signal: signal('s1') });
    shard.run(ticks(T, 100));
    const op = { op: 'exit', id: 's1', ts: T + 500 } as const;
    const delta = shard.run({ kind: 'op', op });
    expect([...delta.outbox]).toContainEqual([
      'op:3',
      { kind: 'op', op, applied: true, errors: [], codes: [] },
    ]);
    expect(delta.ids.get('s1'), 'the exit closed it').toBe('closed');
  });

  it('refuses an operation on a signal that closed here', () => {
    const shard = new Shard(100);
    shard.run({ kind: 'register', signal: signal('s1') });
    shard.run(ticks(T, 100, 111));
    const op = { op: 'cancel', id: 's1', ts: T + 5000 } as const;
    expect(entries(shard.run({ kind: 'op', op }))).toEqual([
      { kind: 'op', op, applied: false, errors: ['signal s1 is already closed'], codes: ['SIGNAL_CLOSED'] },
    ]);
  });

  it('refuses an operation on an id never registered on this shard', () => {
    const shard = new Shard(100);
    const op = { op: 'cancel', id: 'nobody', ts: T } as const;
    expect(entries(shard.run({ kind: 'op', op }))).toEqual([
      { kind: 'op', op, applied: false, errors: ['unknown signal nobody'], codes: ['SIGNAL_UNKNOWN'] },
    ]);
  });

  it("passes on the machine's refusal of an invalid operation on an open signal", () => {
    const shard = new Shard(100);
    shard.run({ kind: 'register', signal: signal('s1') });
    const op = { op: 'amend', id: 's1', ts: T, stopLoss: { price: 120 } } as const;
    const [entry] = entries(shard.run({ kind: 'op', op }));
    expect(entry).toMatchObject({ kind: 'op', op, applied: false });
    expect((entry as Extract<OutboxEntry, { kind: 'op' }>).errors.length).toBeGreaterThan(0);
    expect(shard.runtime.openCount, 'still open').toBe(1);
  });
});

describe('ShardRuntime: the forget job', () => {
  it('changes nothing but the ledger: no outbox entry, no record, no clock', () => {
    const shard = new Shard(100);
    shard.run({ kind: 'register', signal: signal('s1') });
    shard.run(ticks(T, 100, 111));
    const delta = shard.run({ kind: 'forget', ids: ['s1'] });
    expect([...delta.forget]).toEqual(['s1']);
    expect([...delta.set, ...delta.del, ...delta.ids, ...delta.books, ...delta.outbox]).toEqual([]);
    expect(shard.store.ids.has('s1'), 'its ledger entry went').toBe(false);
  });
});

describe('ShardRuntime: restored from the codec, a shard continues exactly as the original', () => {
  const signals = [
    signal('tp', {
      takeProfits: [
        { price: 108, fraction: 0.5 },
        { price: 115, fraction: 0.5 },
      ],
    }),
    signal('trail', {
      stopLoss: { price: 80 },
      takeProfits: [],
      trailing: { distanceBps: 800, activation: 'fill' },
    }),
    signal('limit', { entry: { type: 'limit', price: 97 }, takeProfits: [{ price: 112, fraction: 1 }] }),
    signal('short', { side: 'short', takeProfits: [{ price: 90, fraction: 1 }], stopLoss: { price: 120 } }),
    signal('late', {
      createdAt: T + 3000,
      takeProfits: [{ price: 200, fraction: 1 }],
      stopLoss: { price: 60 },
    }),
  ];
  const before: ShardJobData[] = [
    ...signals.slice(0, 4).map((s): ShardJobData => ({ kind: 'register', signal: s })),
    ticks(T, 100, 103, 98, 96.5, 104),
    { kind: 'register', signal: signals[4]! },
    { kind: 'op', op: { op: 'amend', id: 'short', ts: T + 5000, stopLoss: { price: 110 } } },
  ];
  const after: ShardJobData[] = [
    ticks(T + 5000, 107, 109, 104.5),
    { kind: 'op', op: { op: 'exit', id: 'limit', ts: T + 8500, fraction: 0.5 } },
    ticks(T + 9000, 113, 116, 99, 92),
    { kind: 'sweep', clock: T + 86_400_000, graceMs: 0 },
  ];

  it('gives the same delta for every next job, and the same outcomes', () => {
    const original = new Shard(100);
    for (const job of before) original.run(job);
    const restored = original.fork();
    expect(original.runtime.openCount, 'every signal still open at the take-over').toBe(signals.length);
    expect(restored.runtime.openCount).toBe(signals.length);
    expect(restored.runtime.hasApplied(`${before.length}`), 'knows the last job applied').toBe(true);
    for (const job of after) {
      // The index clocks are compared as stored: the restored runtime writes its clocks at its
      // first checkpoint, the original only every so many ticks (and only what changed).
      const { books: _expectedBooks, ...expected } = original.run(job);
      const { books: _books, ...delta } = restored.run(job);
      expect(delta, `the delta of a ${job.kind} job`).toEqual(expected);
      for (const symbol of delta.seqs.keys())
        expect(restored.store.bookClock(symbol), `${symbol}'s stored clock`).toEqual(
          original.store.bookClock(symbol),
        );
    }
    expect(restored.lines()).toEqual(original.lines());
    expect(original.lines().get('trail'), 'the trailing stop moved on after the take-over').toMatchObject({
      outcome: 'SL_HIT',
      legs: [{ stopKind: 'trailing', ts: T + 11_000 }],
    });
    expect(restored.store.outboxEntries(), 'every outbox entry').toEqual(original.store.outboxEntries());
  });

  it('files a trailing stop without decoding it, at the peak the ticks after its record reached', () => {
    // Filled at 100, then a high of 110 that moves only the index's peak: the record keeps peak
    // 100. The stop after the take-over is 110 less 8 %, 101.2, which 100.5 touches; at the
    // record's peak raised by 103 it would be 94.76, which nothing after the take-over reaches
    // (mirrored for the short: peak 90, stop 97.2).
    for (const side of ['long', 'short'] as const) {
      const sign = side === 'long' ? 1 : -1;
      const px = (p: number) => 100 + sign * (p - 100);
      const trail = signal(`trail-${side}`, {
        side,
        stopLoss: { price: px(80) },
        takeProfits: [],
        trailing: { distanceBps: 800, activation: 'fill' },
      });
      const original = new Shard(100);
      original.run({ kind: 'register', signal: trail });
      original.run(ticks(T, 100, px(110), px(105)));
      const restored = original.fork();
      const text = restored.store.signals.get(trail.id)!;
      const filed = shardCodec.restoreRecord(text);
      expect(filed, 'filed without decoding').toHaveProperty('watch.trail.peak', 100);
      for (const job of [ticks(T + 3000, px(103), px(100.5)), ticks(T + 5000, px(90))]) {
        const { books: _expectedBooks, ...expected } = original.run(job);
        const { books: _books, ...delta } = restored.run(job);
        expect(delta, `${side}: the delta of a ticks job`).toEqual(expected);
      }
      expect(restored.lines()).toEqual(original.lines());
      expect(original.lines().get(trail.id), side).toMatchObject({
        outcome: 'SL_HIT',
        legs: [{ stopKind: 'trailing', ts: T + 4000 }],
      });
    }
  });
});

describe('ShardRuntime: signal events beside the checkpoint', () => {
  const events = (delta: ShardDelta): [string, OutboxEntry][] =>
    [...delta.outbox].filter(([, e]) => e.kind === 'event');

  it('writes the fill, each leg and each stop move once, under keys that name what happened', () => {
    const shard = new Shard(100);
    const s = signal('e1', {
      takeProfits: [
        { price: 105, fraction: 0.5 },
        { price: 120, fraction: 0.5 },
      ],
      breakevenAfterTp: 1,
    });
    expect(events(shard.run({ kind: 'register', signal: s }))).toEqual([]);
    const filled = events(shard.run(ticks(T, 100)));
    expect(filled).toEqual([
      [
        'ev:e1:filled',
        {
          kind: 'event',
          type: 'signal.filled',
          id: 'e1',
          symbol: 'XYZ',
          ts: T,
          data: { price: 100, initialStop: 90 },
        },
      ],
    ]);
    expect(events(shard.run(ticks(T + 1000, 101, 102))), 'ticks that change nothing: no events').toEqual([]);
    const tp = events(shard.run(ticks(T + 3000, 106)));
    expect(tp.map(([key]) => key)).toEqual(['ev:e1:leg:0', `ev:e1:stop:${T + 3000}:breakeven:100`]);
    expect(tp[0]![1]).toMatchObject({
      type: 'signal.leg',
      data: { index: 0, reason: 'TP', level: 1, fraction: 0.5 },
    });
    expect(tp[1]![1]).toMatchObject({
      type: 'signal.stop_moved',
      data: { stop: 100, stopKind: 'breakeven', previous: { stop: 90, stopKind: 'initial' } },
    });
    const sl = shard.run(ticks(T + 4000, 99));
    expect(
      events(sl).map(([key]) => key),
      'the closing leg; no stop move as it closes',
    ).toEqual(['ev:e1:leg:1']);
    expect(entries(sl).some((e) => e.kind === 'closed')).toBe(true);
  });

  it('gives a late registration the events its catch-up made', () => {
    const shard = new Shard(100);
    shard.run(ticks(T - 1000, 100, 104, 111));
    const delta = shard.run({ kind: 'register', signal: signal('late') });
    expect(events(delta).map(([key]) => key)).toEqual(['ev:late:filled', 'ev:late:leg:0']);
  });
});

describe('ShardRuntime: a take-over files signals without decoding them until they are needed', () => {
  const signals = [
    signal('expiring', {
      entry: { type: 'limit', price: 80 },
      stopLoss: { price: 70 },
      entryExpiresAt: T + 10_000,
    }),
    signal('timed', { timeLimitMs: 30_000 }),
    signal('far', { takeProfits: [{ price: 500, fraction: 1 }], stopLoss: { price: 1 } }),
    signal('near', { takeProfits: [{ price: 102, fraction: 1 }] }),
    signal('trail', { takeProfits: [], trailing: { distanceBps: 800, activation: 'fill' } }),
  ];

  it('decodes only what a job needs, and every job gives the original delta', () => {
    const original = new Shard(100);
    for (const s of signals) original.run({ kind: 'register', signal: s });
    original.run(ticks(T, 100, 100.5));
    const restored = original.fork();
    const decode = vi.spyOn(shardCodec, 'decodeRecord');
    try {
      const decodedIds = (): string[] =>
        decode.mock.results.map((r) => (r.value as CheckpointRecord).context.id);
      const after: [ShardJobData, string[]][] = [
        // The stale sweep reads each signal's deadline from its stored entries: only the one it closes is decoded.
        [{ kind: 'sweep', clock: T + 15_000, graceMs: 1000 }, ['expiring']],
        [{ kind: 'sweep', clock: T + 40_000, graceMs: 1000 }, ['expiring', 'timed']],
        // A tick reaches only the signals whose levels it crosses.
        [ticks(T + 50_000, 101, 102.5), ['expiring', 'timed', 'near']],
        [{ kind: 'op', op: { op: 'exit', id: 'far', ts: T + 52_000 } }, ['expiring', 'timed', 'near', 'far']],
      ];
      for (const [job, decodedSoFar] of after) {
        const expected = original.run(job);
        const delta = restored.run(job);
        expect(delta.del, `closed by the ${job.kind} job`).toEqual(expected.del);
        const { books: _expectedBooks, ...rest } = expected;
        const { books: _books, ...got } = delta;
        expect(got, `the delta of a ${job.kind} job`).toEqual(rest);
        expect(decodedIds(), `decoded after the ${job.kind} job`).toEqual(decodedSoFar);
      }
      expect(restored.lines()).toEqual(original.lines());
      expect([...original.lines().values()].map((l) => [l.id, l.outcome])).toEqual([
        ['expiring', 'EXPIRED'],
        ['timed', 'TIME_EXIT'],
        ['near', 'TP_HIT'],
        ['far', 'MANUAL_EXIT'],
        ['trail', undefined],
      ]);
    } finally {
      decode.mockRestore();
    }
  });
});

describe('ShardRuntime: a deferred record that does not decode', () => {
  it('fails the job that first needs it with an error naming the record, not as bad job data', () => {
    const shard = new Shard(100);
    shard.run({ kind: 'register', signal: signal('broken') });
    shard.run(ticks(T, 100));
    const text = shard.store.signals.get('broken')!;
    expect(shardCodec.restoreRecord(text)).toHaveProperty('text');
    // Header and index entries intact, a field in between cut: filed, then unreadable.
    shard.store.signals.set('broken', text.replace('"market",', '"market'));
    shard.takeOver();
    expect(shard.runtime.openCount).toBe(1);
    let thrown: unknown = null;
    try {
      shard.run(ticks(T + 1000, 111));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UnreadableRecordError);
    expect((thrown as Error).message).toMatch(/checkpoint record .*broken.* cannot be decoded/);
  });
});

describe('ShardRuntime: levels that overflow to an infinity', () => {
  it('are filed from the decoded context after a take-over, and close as without one', () => {
    const big = [
      signal('short-roi', {
        side: 'short',
        stopLoss: { price: 1.7e308 },
        takeProfits: [],
        roi: [{ afterMs: 0, returnBps: -9999 }],
      }),
      signal('long-stop', { stopLoss: { price: 1.7e308 }, takeProfits: [], toleranceBps: 999 }),
    ];
    for (const [s, fill, next] of [
      [big[0]!, 1e308, 1.01e308],
      [big[1]!, 1.75e308, 1.72e308],
    ] as const) {
      const original = new Shard(100);
      original.run({ kind: 'register', signal: s });
      original.run(ticks(T, fill));
      expect(original.store.signals.get(s.id)!.endsWith(']]'), `${s.id}: stored without index entries`).toBe(
        false,
      );
      const restored = original.fork();
      const { books: _e, ...expected } = original.run(ticks(T + 1000, next));
      const { books: _b, ...delta } = restored.run(ticks(T + 1000, next));
      expect(delta).toEqual(expected);
      expect(expected.del.has(s.id), `${s.id} closed by the tick`).toBe(true);
    }
  });
});
