/**
 * The production Engine driven tick by tick, as replay drives it, with optional checkpoint
 * round trips (`checkpointEngine` → JSON text → `restoreEngine`) after chosen ticks. Used to
 * show that a restored engine continues exactly as the uninterrupted one.
 */
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { NormalizedSignal, SignalContext } from '../../machines/signalContext.ts';
import { startSignal } from '../../machines/signalMachine.ts';
import type { Operation, OutcomeLine, SignalPayload, Tick } from '../../machines/types.ts';
import { checkpointEngine, Engine, restoreEngine, type EngineCheckpoint } from '../../src/engine/Engine.ts';
import type { SymbolBookHooks } from '../../src/engine/SymbolBook.ts';
import { validateOperation } from '../../src/validation/validateOperation.ts';
import { validateSignal } from '../../src/validation/validateSignal.ts';

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
  /** Per tick index: how many signals filled on it, and how many had a level newly armed. */
  fills: number[];
  arms: number[];
}

function isArmed(c: SignalContext): boolean {
  return c.armStop !== null || c.armTp.some((a) => a !== null);
}

/**
 * Runs the Engine tick by tick (operations routed as replay does: after the ticks of their
 * symbol with ts <= theirs), round-tripping it through a JSON checkpoint after each tick
 * index in `cuts`. Returns every signal's final outcome line.
 */
export function runEngine(
  signals: NormalizedSignal[],
  ticks: Tick[],
  ops: Operation[],
  cuts: number[],
): EngineRun {
  const closed = new Map<string, SignalContext>();
  const fills = new Array<number>(ticks.length).fill(0);
  const arms = new Array<number>(ticks.length).fill(0);
  const filled = new Set<string>();
  const armed = new Set<string>();
  let tickIndex = -1;
  const hooks: SymbolBookHooks = {
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
    onClose: (c) => closed.set(c.id, c),
  };
  let engine = new Engine(hooks);
  for (const s of signals) engine.add(startSignal(s));
  const symbolOf = new Map(signals.map((s) => [s.id, s.symbol]));
  const rejected: string[] = [];
  // Malformed operations are rejected up front, as replay does; the rest wait for their time.
  const wellFormed: Operation[] = [];
  for (const raw of ops as unknown[]) {
    const checked = validateOperation(raw);
    if (checked.ok) wellFormed.push(checked.op);
    else rejected.push(JSON.stringify(raw));
  }
  const pending = wellFormed
    .map((op, order) => ({ op, order }))
    .sort((a, b) => a.op.ts - b.op.ts || a.order - b.order)
    .map((x) => x.op);
  const applyOps = (symbol: string | null, before: number): void => {
    for (let i = 0; i < pending.length;) {
      const op = pending[i]!;
      if (op.ts < before && (symbol === null || symbolOf.get(op.id) === symbol)) {
        pending.splice(i, 1);
        const errors = closed.has(op.id) ? ['already closed'] : engine.applyOperation(op);
        if (errors.length > 0) rejected.push(JSON.stringify(op));
      } else {
        i++;
      }
    }
  };
  const cutSet = new Set(cuts);
  const lastTs = new Map<string, number>();
  ticks.forEach((tick, i) => {
    tickIndex = i;
    if (tick.ts >= (lastTs.get(tick.symbol) ?? -Infinity)) {
      applyOps(tick.symbol, tick.ts);
      lastTs.set(tick.symbol, tick.ts);
    }
    engine.applyTick(tick);
    if (cutSet.has(i)) {
      const text = JSON.stringify(checkpointEngine(engine));
      engine = restoreEngine(JSON.parse(text) as EngineCheckpoint, hooks);
    }
  });
  tickIndex = -1;
  applyOps(null, Infinity);
  const lines = signals.map((s) => outcomeLine(closed.get(s.id) ?? engine.current(s.id)!));
  return { lines, rejected, fills, arms };
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
