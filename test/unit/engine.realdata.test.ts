/**
 * The engine on real market data (see data/README.md): a few hundred varied signals from
 * `generateSignals`, anchored on real ticks, replayed over IBM trades, IBM quotes (with the
 * `bid_ask` and `mid` triggers) and 1-minute bars of four symbols (`--candles` semantics).
 *
 * 1. The engine's outcomes equal the independent reference loop's (SPEC.md's comparison).
 * 2. The mix of outcomes is varied, so the comparison means something.
 * 3. Checkpoint and restore in the middle (the live shard's format: delta → shardCodec → text →
 *    decoded → `ShardRuntime.restore`) changes nothing: at several cut points, including right
 *    after the ticks that filled or armed the most signals, the final outcomes equal the
 *    uninterrupted run's exactly.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Operation, OutcomeLine, SignalPayload, Tick } from '../../machines/types.ts';
import { timeDeadline } from '../../machines/sweep.ts';
import { watchOf } from '../../machines/watch.ts';
import { generateSignals, seededRandom, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { toWire } from '../../src/live/messages.ts';
import { shardCodec } from '../../src/live/shardCodec.ts';
import { ShardRuntime } from '../../src/live/ShardRuntime.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { readCandles, readTicks } from '../../src/ticks/readTicks.ts';
import { referenceReplay } from '../reference/referenceReplay.ts';
import {
  firstExactDifference,
  normalize,
  runEngine,
  tickActivity,
  type EngineRun,
} from '../support/runEngine.ts';
import { dataFile } from '../support/dataFile.ts';
import { MemoryShardStore } from '../support/MemoryShardStore.ts';
import { describeDifference } from '../support/sameOutcomes.ts';

interface Dataset {
  title: string;
  file: string;
  candles: boolean;
  /** Sets each signal's trigger (quotes: bid_ask and mid in turn). */
  trigger?: (index: number) => SignalPayload['trigger'];
}

const DATASETS: Dataset[] = [
  { title: 'IBM trades', file: 'lean_usequity_IBM_trades_2013-10-07_11.csv.gz', candles: false },
  {
    title: 'IBM quotes, bid_ask and mid triggers',
    file: 'lean_usequity_IBM_quotes_2013-10-07_11.csv.gz',
    candles: false,
    trigger: (i) => (i % 2 === 0 ? 'bid_ask' : 'mid'),
  },
  {
    title: 'SPY/IBM/BAC/AIG 1m bars',
    file: 'lean_usequity_SPY_IBM_BAC_AIG_1m_2013-10-07_11.csv.gz',
    candles: true,
  },
];

async function load(dataset: Dataset): Promise<Tick[]> {
  const ticks: Tick[] = [];
  const read = dataset.candles ? readCandles : readTicks;
  for await (const tick of read(dataFile(dataset.file))) ticks.push(tick);
  return ticks;
}

/**
 * 300 signals spread over the data, plus a burst of 60 created on one tick: their market
 * entries fill together, and with confirmation their levels arm together, which is where a
 * checkpoint has the most state in flight.
 */
function signalsFor(dataset: Dataset, ticks: Tick[]): SignalPayload[] {
  const spread = generateSignals(spreadAnchors(ticks, 300), { count: 300, seed: 20131007 });
  const burstAnchor = ticks[Math.floor(ticks.length * 0.37)]!;
  const burst = generateSignals([burstAnchor], { count: 60, seed: 11, prefix: 'burst', scale: 0.002 });
  burst.forEach((s, i) => {
    if (i % 3 === 0) s.confirmMs = 1000;
  });
  const signals = [...spread, ...burst];
  if (dataset.trigger !== undefined) signals.forEach((s, i) => (s.trigger = dataset.trigger!(i)));
  return signals;
}

/** A few operations on random signals at random times: exits with and without price, cancels, amends. */
function operationsFor(signals: SignalPayload[], ticks: Tick[]): Operation[] {
  const rnd = seededRandom(5);
  const ops: Operation[] = [];
  for (let i = 0; i < 60; i++) {
    const s = signals[Math.floor(rnd() * signals.length)]!;
    const at = ticks[Math.floor(rnd() * ticks.length)]!;
    const ts = Math.max(s.createdAt, at.ts);
    const dir = s.side === 'long' ? 1 : -1;
    const kind = Math.floor(rnd() * 4);
    if (kind === 0) ops.push({ op: 'exit', id: s.id, ts });
    else if (kind === 1)
      ops.push({ op: 'exit', id: s.id, ts, price: Number((at.price * (1 + dir * 0.001)).toFixed(2)) });
    else if (kind === 2) ops.push({ op: 'cancel', id: s.id, ts });
    else
      ops.push({
        op: 'amend',
        id: s.id,
        ts,
        stopLoss: { price: Number((at.price * (1 - dir * 0.003)).toFixed(2)) },
      });
  }
  return ops;
}

/**
 * Ticks per shard job in the checkpoint runs, about as producers batch them: every job
 * checkpoints its symbol's index clock, whose extrema grow long over a trading hour.
 */
const TICKS_PER_JOB = 2000;

function argMax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

for (const dataset of DATASETS) {
  describe(`real data: ${dataset.title}`, () => {
    let ticks: Tick[] = [];
    let signals: SignalPayload[] = [];
    let ops: Operation[] = [];
    let uninterrupted: EngineRun;
    let activity: { fills: number[]; arms: number[] };

    beforeAll(async () => {
      ticks = await load(dataset);
      signals = signalsFor(dataset, ticks);
      ops = operationsFor(signals, ticks);
      uninterrupted = runEngine(normalize(signals), ticks, ops, [], { ticksPerJob: TICKS_PER_JOB });
      activity = tickActivity(normalize(signals), ticks, ops);
    });

    it('the engine gives the reference outcomes, with and without operations', () => {
      const plain = replaySync({ signals, ticks });
      const plainDiff = describeDifference(plain.lines, referenceReplay(signals, ticks).lines);
      expect(plainDiff, `engine vs reference without operations:\n${plainDiff}`).toBeNull();

      const withOps = replaySync({ signals, ticks, ops });
      const reference = referenceReplay(signals, ticks, ops);
      const diff = describeDifference(withOps.lines, reference.lines);
      expect(diff, `engine vs reference with operations:\n${diff}`).toBeNull();
      const rejected = (list: { op: unknown }[]): string[] => list.map((r) => JSON.stringify(r.op)).sort();
      expect(rejected(withOps.rejectedOps), 'rejected operations').toEqual(rejected(reference.rejectedOps));
      expect(withOps.lateTicks).toBe(reference.lateTicks);
    });

    it('gives a varied mix of outcomes (the comparison exercises many paths)', () => {
      const { lines } = replaySync({ signals, ticks });
      const outcomes = new Set<string>();
      const counts = new Map<string, number>();
      for (const line of lines) {
        const key = (line as OutcomeLine).outcome ?? line.state;
        if (line.state === 'closed') outcomes.add(key);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const summary = JSON.stringify(Object.fromEntries(counts));
      expect(outcomes.size, `distinct outcomes: ${summary}`).toBeGreaterThanOrEqual(4);
      for (const outcome of ['TP_HIT', 'SL_HIT'])
        expect(outcomes.has(outcome), `${outcome} in ${summary}`).toBe(true);
      const closed = lines.filter((l) => l.state === 'closed') as OutcomeLine[];
      expect(closed.length, 'most signals finish').toBeGreaterThan(lines.length / 2);
      expect(
        closed.some((l) => l.partial === true),
        'some closed after a partial TP',
      ).toBe(true);
      const stopKinds = new Set(closed.flatMap((l) => l.legs.map((leg) => leg.stopKind)).filter(Boolean));
      expect(stopKinds.size, `stop kinds seen: ${[...stopKinds].join(', ')}`).toBeGreaterThanOrEqual(2);
      expect(
        lines.every((l) => l.state !== 'rejected'),
        'every generated signal is valid',
      ).toBe(true);
    });

    it('the engine-loop used for checkpoints equals replay (so the cut runs test the real thing)', () => {
      const { lines, rejectedOps } = replaySync({ signals, ticks, ops });
      expect(firstExactDifference(uninterrupted.lines, lines as OutcomeLine[])).toBeNull();
      expect(uninterrupted.rejected.length).toBe(rejectedOps.length);
    });

    it('checkpoint → JSON → restore at several cut points changes no outcome', () => {
      const n = ticks.length;
      const mostFills = argMax(activity.fills);
      const mostArms = argMax(activity.arms);
      expect(activity.fills[mostFills], 'a tick filled several signals at once').toBeGreaterThan(3);
      expect(activity.arms[mostArms], 'a tick armed several levels at once').toBeGreaterThan(1);
      const cuts: [string, number[]][] = [
        ['after the first tick', [0]],
        ['at a quarter', [Math.floor(n / 4)]],
        ['at half', [Math.floor(n / 2)]],
        [`right after the tick that filled the most signals (${activity.fills[mostFills]})`, [mostFills]],
        [`right after the tick that armed the most levels (${activity.arms[mostArms]})`, [mostArms]],
        ['after the last tick', [n - 1]],
        ['at ten points in one run', Array.from({ length: 10 }, (_, k) => Math.floor(((k + 0.5) * n) / 10))],
      ];
      const normalized = normalize(signals);
      for (const [where, at] of cuts) {
        const restored = runEngine(normalized, ticks, ops, at, { ticksPerJob: TICKS_PER_JOB });
        const diff = firstExactDifference(restored.lines, uninterrupted.lines);
        expect(diff, `checkpoint ${where} (tick index ${at.join(', ')}):\n${diff}`).toBeNull();
        expect(restored.rejected, `rejected operations, checkpoint ${where}`).toEqual(uninterrupted.rejected);
      }
    });

    it('a checkpoint round trip gives equal records, and after every job the stored clocks equal the index', () => {
      // A clock stored at least every 50 ticks of a symbol: in between, the stored clock is
      // brought forward over the buffered ticks (advanceClock), as a restore would.
      const store = new MemoryShardStore(500);
      const runtime = new ShardRuntime(500, 50);
      const deltas = normalize(signals).map((signal, i) =>
        store.process(runtime, `${i + 1}`, { kind: 'register', signal }),
      );
      // Jobs of 37 ticks: each checkpoint writes only what its ticks changed of the extrema
      // stacks, so the stored stacks are the sum of many partial writes.
      const half = ticks.slice(0, Math.floor(ticks.length / 2)).map(toWire);
      let stackWrites = 0;
      let behind = 0;
      for (let i = 0; i < half.length; i += 37) {
        const delta = store.process(runtime, `${deltas.length + 1}`, {
          kind: 'ticks',
          ticks: half.slice(i, i + 37),
        });
        deltas.push(delta);
        stackWrites += shardCodec.encodeDelta(delta).stacks.length;
        for (const symbol of delta.seqs.keys()) if (!delta.books.has(symbol)) behind++;
        for (const symbol of delta.seqs.keys())
          expect(store.bookClock(symbol), `${symbol} after job ${deltas.length}`).toEqual(
            runtime.bookClock(symbol),
          );
      }
      expect(stackWrites).toBeGreaterThan(0);
      expect(behind, 'jobs that stored a tick count without the clock').toBeGreaterThan(0);
      // A take-over files most records without decoding them: their stored index entries must
      // be the decoded context's own.
      let deferred = 0;
      let trailing = 0;
      for (const delta of deltas)
        for (const record of delta.set.values()) {
          const text = shardCodec.encodeRecord(record);
          expect(shardCodec.decodeRecord(text)).toEqual(record);
          const filed = shardCodec.restoreRecord(text);
          if (!('text' in filed)) {
            expect(filed).toEqual(record);
            continue;
          }
          deferred++;
          if (filed.watch.trail !== null) trailing++;
          const c = record.context;
          expect(filed, `${c.id} filed for a take-over`).toEqual({
            id: c.id,
            symbol: c.symbol,
            sync: record.sync,
            text,
            watch: watchOf(c),
            deadline: timeDeadline(c),
          });
        }
      expect(deferred, 'records filed without decoding').toBeGreaterThan(100);
      expect(trailing, 'records filed with an active trailing stop').toBeGreaterThan(0);
      expect(store.signals.size).toBe(runtime.openCount);
    });
  });
}
