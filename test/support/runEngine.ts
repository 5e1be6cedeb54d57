/**
 * The production engine driven as a live shard drives it (ShardRuntime, job by job), with
 * optional checkpoint round trips after chosen ticks through the production format (delta →
 * shardCodec → stored text → decoded → `ShardRuntime.restore`). Used to show that a restored
 * shard continues exactly as the uninterrupted one.
 */
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { NormalizedSignal, SignalContext } from '../../machines/signalContext.ts';
import type { Operation, OutcomeLine, SignalPayload, Tick } from '../../machines/types.ts';
import { toWire, type ShardJobData, type WireTick } from '../../src/live/messages.ts';
import { ShardRuntime } from '../../src/live/ShardRuntime.ts';
import { startSignal } from '../../machines/signalMachine.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { validateOperation } from '../../src/validation/validateOperation.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';
import { MemoryShardStore } from './MemoryShardStore.ts';

/** Validated, normalised signals; throws on an invalid one (a bug in the test's generator). */
export function normalize(signals: SignalPayload[]): NormalizedSignal[] {
  return signals.map((s) => {
    const checked = validateSignal(s);
    if (!checked.ok)
      throw new Error(`test bug: invalid generated signal ${s.id}: ${checked.errors.join('; ')}`);
    return checked.signal;
  });
}

export interface EngineRun {
  lines: OutcomeLine[];
  rejected: string[];
}

export interface RunEngineOptions {
  /**
   * Ticks per shard job (a job also ends at a cut and before a due operation). Every job
   * checkpoints its symbols' index clocks, extrema included, so long paths want larger jobs,
   * as live shards take them (producers batch ticks).
   * @defaultValue 1
   */
  ticksPerJob?: number;
  /** The runtime's recent-tick buffer. @defaultValue 16 */
  bufferSize?: number;
}

/** One step of a run, in the order replay takes them. */
type Step =
  | { kind: 'malformed'; raw: unknown }
  /** `at`: the index of the tick it comes before, or -1 after the last. */
  | { kind: 'op'; op: Operation; at: number }
  | { kind: 'tick'; tick: Tick; index: number };

/**
 * Ticks and operations in replay's order: malformed operations first (rejected up front), the
 * rest each after the ticks of its signal's symbol with ts <= its own (a late tick brings
 * none), and those left after the last tick.
 */
function* steps(signals: NormalizedSignal[], ticks: Tick[], ops: Operation[]): Generator<Step> {
  const symbolOf = new Map(signals.map((s) => [s.id, s.symbol]));
  const wellFormed: Operation[] = [];
  for (const raw of ops as unknown[]) {
    const checked = validateOperation(raw);
    if (checked.ok) wellFormed.push(checked.op);
    else yield { kind: 'malformed', raw };
  }
  const pending = wellFormed
    .map((op, order) => ({ op, order }))
    .sort((a, b) => a.op.ts - b.op.ts || a.order - b.order)
    .map((x) => x.op);
  function* due(symbol: string | null, before: number, at: number): Generator<Step> {
    for (let i = 0; i < pending.length;) {
      const op = pending[i]!;
      if (op.ts < before && (symbol === null || symbolOf.get(op.id) === symbol)) {
        pending.splice(i, 1);
        yield { kind: 'op', op, at };
      } else {
        i++;
      }
    }
  }
  const lastTs = new Map<string, number>();
  for (const [index, tick] of ticks.entries()) {
    if (tick.ts >= (lastTs.get(tick.symbol) ?? -Infinity)) {
      yield* due(tick.symbol, tick.ts, index);
      lastTs.set(tick.symbol, tick.ts);
    }
    yield { kind: 'tick', tick, index };
  }
  yield* due(null, Infinity, -1);
}

/**
 * Runs the production shard runtime job by job (every signal registered first, then the ticks
 * and operations in replay's order), committing each job's delta through the shard codec into
 * a store in memory; after each tick index in `cuts` the runtime is dropped and restored from
 * that store, as a worker taking over the shard restores it from Redis. Returns every signal's
 * final outcome line and the rejected operations (JSON), in the order rejected.
 */
export function runEngine(
  signals: NormalizedSignal[],
  ticks: Tick[],
  ops: Operation[],
  cuts: number[],
  options: RunEngineOptions = {},
): EngineRun {
  const ticksPerJob = options.ticksPerJob ?? 1;
  const bufferSize = options.bufferSize ?? 16;
  const store = new MemoryShardStore(bufferSize);
  let runtime = new ShardRuntime(bufferSize);
  const closed = new Map<string, OutcomeLine>();
  const rejected: string[] = [];
  let jobs = 0;
  const run = (data: ShardJobData): void => {
    const delta = store.process(runtime, `${++jobs}`, data);
    const skipped = delta.poisonTicks + delta.futureTicks + delta.duplicates;
    if (skipped > 0)
      throw new Error(`test bug: job ${jobs} skipped ${skipped} malformed ticks or duplicates`);
    for (const entry of delta.outbox.values()) {
      if (entry.kind === 'closed') closed.set(entry.outcome.id, entry.outcome);
      else if (entry.kind === 'op' && !entry.applied) rejected.push(JSON.stringify(entry.op));
      else if (entry.kind === 'catchup_gap')
        throw new Error(`test bug: catch-up gap ${JSON.stringify(entry)}`);
    }
  };
  let batch: WireTick[] = [];
  const flush = (): void => {
    if (batch.length > 0) run({ kind: 'ticks', ticks: batch });
    batch = [];
  };
  for (const signal of signals) run({ kind: 'register', signal });
  const cutSet = new Set(cuts);
  for (const step of steps(signals, ticks, ops)) {
    if (step.kind === 'malformed') rejected.push(JSON.stringify(step.raw));
    else if (step.kind === 'op') {
      flush();
      run({ kind: 'op', op: step.op });
    } else {
      batch.push(toWire(step.tick));
      if (batch.length >= ticksPerJob || cutSet.has(step.index)) flush();
      if (cutSet.has(step.index)) runtime = store.load();
    }
  }
  flush();
  const open = new Map<string, OutcomeLine>();
  for (const c of runtime.openSignals()) open.set(c.id, outcomeLine(c));
  const lines = signals.map((s) => closed.get(s.id) ?? open.get(s.id)!);
  return { lines, rejected };
}

function isArmed(c: SignalContext): boolean {
  return c.armStop !== null || c.armTp.some((a) => a !== null);
}

/**
 * Per tick index: how many signals filled on it, and how many had a level newly armed (the
 * engine's change hooks, operations counted with the tick they come before). Where a
 * checkpoint has the most state in flight, for choosing cut points.
 */
export function tickActivity(
  signals: NormalizedSignal[],
  ticks: Tick[],
  ops: Operation[],
): { fills: number[]; arms: number[] } {
  const fills = new Array<number>(ticks.length).fill(0);
  const arms = new Array<number>(ticks.length).fill(0);
  const filled = new Set<string>();
  const armed = new Set<string>();
  const closed = new Set<string>();
  let tickIndex = -1;
  const engine = new Engine({
    onChange: (c) => {
      if (tickIndex < 0) return;
      if (c.fill !== null && !filled.has(c.id)) {
        filled.add(c.id);
        fills[tickIndex]!++;
      }
      if (!isArmed(c)) armed.delete(c.id);
      else if (!armed.has(c.id)) {
        armed.add(c.id);
        arms[tickIndex]!++;
      }
    },
    onClose: (c) => closed.add(c.id),
  });
  for (const s of signals) engine.add(startSignal(s));
  for (const step of steps(signals, ticks, ops)) {
    if (step.kind === 'op') {
      tickIndex = step.at;
      if (!closed.has(step.op.id)) engine.applyOperation(step.op);
    } else if (step.kind === 'tick') {
      tickIndex = step.index;
      engine.applyTick(step.tick);
    }
  }
  return { fills, arms };
}

/** The first line that differs at all (JSON text, so every digit counts), or null. */
export function firstExactDifference(actual: OutcomeLine[], expected: OutcomeLine[]): string | null {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = JSON.stringify(actual[i]);
    const b = JSON.stringify(expected[i]);
    if (a !== b) return `line ${i + 1} differs\n  restored:      ${a}\n  uninterrupted: ${b}`;
  }
  return null;
}
