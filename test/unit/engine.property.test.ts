/**
 * The production engine (XState machine behind the per-symbol index, through `replaySync`)
 * against the independent reference loop of test/reference, on random signals and operations
 * over random tick paths and over slices of real tick files. SPEC.md requires the two to give
 * the same outcomes (returns within 1e-9 relative), and they must reject the same operations
 * and count the same late ticks. Many signals share each path so that the index really skips
 * ticks, and levels sit a few price steps apart so that most of them trigger.
 *
 * Set FC_SEED (and FC_PATH) to replay a reported failure; FC_RUNS scales the run counts.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Operation, OutcomeLine, SignalPayload, Tick } from '../../machines/types.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { readTicks } from '../../src/ticks/readTicks.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import { referenceReplay } from '../reference/referenceReplay.ts';
import { dataFile } from '../support/dataFile.ts';
import { firstExactDifference, normalize, runEngine } from '../support/runEngine.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  buildOperations,
  buildSignals,
  buildWalk,
  describeMarket,
  opPlanArb,
  signalPlanArb,
  walkPlanArb,
} from '../support/signalPlans.ts';

const RUN_SCALE = Number(process.env.FC_RUNS ?? 1);

/**
 * `numRuns` cases, but never more than `seconds` in all: shrinking a counterexample of a few
 * hundred ticks and signals can take minutes, and a failure found is reported (with its
 * difference) even when shrinking is cut short. A slow machine that runs out of time before
 * `numRuns` passes with the cases it ran.
 */
function runParameters(numRuns: number, seconds: number): fc.Parameters<unknown> {
  const params: fc.Parameters<unknown> = {
    numRuns: Math.max(1, Math.round(numRuns * RUN_SCALE)),
    interruptAfterTimeLimit: seconds * 1000 * RUN_SCALE,
  };
  if (process.env.FC_SEED !== undefined) params.seed = Number(process.env.FC_SEED);
  if (process.env.FC_PATH !== undefined) params.path = process.env.FC_PATH;
  return params;
}

/** The rejected operations of a result as a sorted list of JSON strings (a multiset). */
function rejectedSet(rejected: { op: unknown }[]): string[] {
  return rejected.map((r) => JSON.stringify(r.op) ?? 'undefined').sort();
}

/** The ticks of `symbol`, for a counterexample report (all of them when few). */
function ticksOf(ticks: Tick[], symbol: string): string {
  const own = ticks.filter((t) => t.symbol === symbol.toUpperCase());
  const shown = own.length <= 80 ? own : own.slice(0, 80);
  return `${own.length} ticks of ${symbol}${own.length > 80 ? ' (first 80)' : ''}: ${JSON.stringify(shown)}`;
}

/**
 * Runs both implementations and throws a readable report of the first difference: what
 * differed, both lines, the signal, the operations on it and its symbol's ticks.
 */
function expectEngineMatchesReference(signals: SignalPayload[], ticks: Tick[], ops: Operation[]): void {
  for (const s of signals) {
    const checked = validateSignal(s);
    if (!checked.ok) {
      throw new Error(
        `test bug: generated an invalid signal ${JSON.stringify(s)}: ${checked.errors.join('; ')}`,
      );
    }
  }
  const engine = replaySync({ signals, ticks, ops });
  const reference = referenceReplay(signals, ticks, ops);

  const diff = describeDifference(engine.lines, reference.lines);
  if (diff !== null) {
    const index = engine.lines.findIndex(
      (line, i) => describeDifference([line], [reference.lines[i] as OutcomeLine]) !== null,
    );
    const signal = signals[index]!;
    const itsOps = ops.filter((op) => (op as { id?: unknown }).id === signal.id);
    throw new Error(
      `engine and reference disagree: ${diff}\n  signal: ${JSON.stringify(signal)}\n` +
        `  ops on it: ${JSON.stringify(itsOps)}\n  ${ticksOf(ticks, signal.symbol)}`,
    );
  }
  const engineRejected = rejectedSet(engine.rejectedOps);
  const referenceRejected = rejectedSet(reference.rejectedOps);
  if (JSON.stringify(engineRejected) !== JSON.stringify(referenceRejected)) {
    const onlyEngine = engineRejected.filter((op) => !referenceRejected.includes(op));
    const onlyReference = referenceRejected.filter((op) => !engineRejected.includes(op));
    const why = (list: { op: unknown; errors: unknown[] }[], op: string): string =>
      JSON.stringify(list.find((r) => JSON.stringify(r.op) === op)?.errors);
    throw new Error(
      'engine and reference reject different operations:\n' +
        onlyEngine.map((op) => `  only the engine rejects ${op}: ${why(engine.rejectedOps, op)}\n`).join('') +
        onlyReference
          .map((op) => `  only the reference rejects ${op}: ${why(reference.rejectedOps, op)}\n`)
          .join('') +
        `  signals: ${JSON.stringify(signals)}\n  engine lines: ${JSON.stringify(engine.lines)}`,
    );
  }
  if (engine.lateTicks !== reference.lateTicks) {
    throw new Error(`late ticks: engine ${engine.lateTicks}, reference ${reference.lateTicks}`);
  }
}

const manySignals = (min: number, max: number) =>
  fc.array(signalPlanArb, { minLength: min, maxLength: max, size: 'max' });
const someOps = fc.array(opPlanArb, { maxLength: 40, size: 'max' });

/** How the outcomes of all runs were spread, to show the properties exercise every path. */
const seen = new Map<string, number>();
function tally(signals: SignalPayload[], ticks: Tick[], ops: Operation[]): void {
  const { lines, rejectedOps } = replaySync({ signals, ticks, ops });
  const count = (key: string): void => {
    seen.set(key, (seen.get(key) ?? 0) + 1);
  };
  for (const line of lines) {
    const out = line as OutcomeLine;
    count(line.state === 'closed' ? out.outcome! : line.state);
    // v1.1/v1.2 paths the properties must reach, not only generate.
    if (
      out.legs.slice(0, -1).some((leg) => leg.reason === 'MANUAL') ||
      (line.state === 'partial' && out.legs.some((leg) => leg.reason === 'MANUAL'))
    ) {
      count('manual exit in part');
    }
    if (out.legs[0]?.reason === 'SL' && out.legs[0].stopKind === 'trailing') count('trailing stop');
    if (out.pnl !== undefined) count('pnl');
  }
  for (const { op, errors } of rejectedOps) {
    if (errors.some((e) => e.message.includes('2000 bps'))) count('refused exit price');
    if (
      errors.some((e) => e.message.startsWith('fraction:')) &&
      (op as { fraction?: number }).fraction !== undefined
    ) {
      count('fraction on a pending signal');
    }
  }
  for (const op of ops) {
    const applied = !rejectedOps.some((r) => r.op === op);
    if (op.op === 'exit' && op.force === true && op.price !== undefined && applied) count('forced exit');
  }
}

describe('engine = reference on random signals and operations', () => {
  it('over random walks (several symbols, missing quotes, equal timestamps, late ticks)', () => {
    fc.assert(
      fc.property(walkPlanArb, manySignals(1, 120), someOps, (walk, signalPlans, opPlans) => {
        const ticks = buildWalk(walk);
        const market = describeMarket(ticks, 8);
        const built = buildSignals(signalPlans, market);
        const signals = built.map((b) => b.payload);
        const ops = buildOperations(opPlans, built, market);
        expectEngineMatchesReference(signals, ticks, ops);
        tally(signals, ticks, ops);
      }),
      runParameters(1500, 20),
    );
    for (const outcome of [
      'pending',
      'open',
      'partial',
      'TP_HIT',
      'SL_HIT',
      'ROI_EXIT',
      'TIME_EXIT',
      'MANUAL_EXIT',
      'manual exit in part',
      'trailing stop',
      'pnl',
      'refused exit price',
      'fraction on a pending signal',
      'forced exit',
    ]) {
      expect(
        seen.get(outcome) ?? 0,
        `runs that ended ${outcome} (all: ${JSON.stringify([...seen])})`,
      ).toBeGreaterThan(0);
    }
    for (const outcome of ['EXPIRED', 'CANCELLED', 'INVALID_AT_FILL']) {
      expect(
        seen.get(outcome) ?? 0,
        `runs that ended ${outcome} (all: ${JSON.stringify([...seen])})`,
      ).toBeGreaterThan(0);
    }
  });

  describe('over slices of real tick files', () => {
    const files = [
      { name: 'lean_usequity_IBM_trades_2013-10-07_11.csv.gz', ticks: [] as Tick[] },
      { name: 'lean_usequity_IBM_quotes_2013-10-07_11.csv.gz', ticks: [] as Tick[] },
      { name: 'binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv', ticks: [] as Tick[] },
    ];
    beforeAll(async () => {
      for (const file of files)
        for await (const tick of readTicks(dataFile(file.name))) file.ticks.push(tick);
    });

    for (const [index, file] of files.entries()) {
      it(`${file.name}`, () => {
        const slice = fc.record({
          start: fc.double({ min: 0, max: 1, noNaN: true }),
          length: fc.integer({ min: 50, max: 1500 }),
        });
        fc.assert(
          fc.property(slice, manySignals(1, 150), someOps, ({ start, length }, signalPlans, opPlans) => {
            const all = files[index]!.ticks;
            const from = Math.floor(start * (all.length - length));
            const ticks = all.slice(from, from + length);
            const market = describeMarket(ticks, 100);
            const built = buildSignals(signalPlans, market);
            const signals = built.map((b) => b.payload);
            const ops = buildOperations(opPlans, built, market);
            expectEngineMatchesReference(signals, ticks, ops);
          }),
          runParameters(300, 8),
        );
      });
    }
  });
});

describe('engine checkpoints on random signals and operations', () => {
  it('checkpoint → JSON → restore after random ticks changes no outcome and no rejection', () => {
    const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3 });
    // Ticks per shard job: one by one, or batched as producers batch them.
    const jobArb = fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 64 }));
    fc.assert(
      fc.property(
        walkPlanArb,
        manySignals(1, 80),
        someOps,
        cutsArb,
        jobArb,
        (walk, signalPlans, opPlans, cutAt, ticksPerJob) => {
          const ticks = buildWalk(walk);
          const market = describeMarket(ticks, 8);
          const built = buildSignals(signalPlans, market);
          const signals = normalize(built.map((b) => b.payload));
          const ops = buildOperations(opPlans, built, market);
          const cuts = cutAt.map((f) => Math.min(ticks.length - 1, Math.floor(f * ticks.length)));
          const uninterrupted = runEngine(signals, ticks, ops, [], { ticksPerJob });
          const restored = runEngine(signals, ticks, ops, cuts, { ticksPerJob });
          const diff = firstExactDifference(restored.lines, uninterrupted.lines);
          if (diff !== null) {
            throw new Error(
              `checkpoint after tick index ${cuts.join(', ')} (jobs of ${ticksPerJob} ticks) changed an outcome: ${diff}`,
            );
          }
          expect(restored.rejected, `rejected operations, cut after ${cuts.join(', ')}`).toEqual(
            uninterrupted.rejected,
          );
        },
      ),
      runParameters(400, 8),
    );
  });
});
