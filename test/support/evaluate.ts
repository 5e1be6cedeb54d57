/**
 * The single entry point the SPEC rule tests call. It runs the production replay (the XState
 * machine behind the per-symbol index) and the independent reference loop, fails loudly if
 * the two disagree anywhere, and returns the production result for the tests' hand-computed
 * expectations. So every rule test checks both implementations.
 */
import type { Operation, SignalPayload, Tick } from '../../machines/types.ts';
import { messagesOf } from '../../src/errors.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { referenceReplay, type ReferenceReplayResult } from '../reference/referenceReplay.ts';
import { describeDifference } from './sameOutcomes.ts';

/** Replays `ticks` against `signals` with `ops`; one outcome line per signal in input order. */
export function evaluate(signals: SignalPayload[], ticks: Tick[], ops?: Operation[]): ReferenceReplayResult {
  const reference = referenceReplay(signals, ticks, ops);
  const production = replaySync({ signals, ticks, ops: ops ?? [] });
  const diff = describeDifference(production.lines, reference.lines);
  if (diff !== null) throw new Error(`engine and reference disagree: ${diff}`);
  const rejected = (r: { rejectedOps: { op: unknown }[] }): string =>
    JSON.stringify(
      r.rejectedOps.map((x) => x.op).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    );
  if (rejected(production) !== rejected(reference)) {
    throw new Error(
      `engine and reference reject different operations: ${rejected(production)} vs ${rejected(reference)}`,
    );
  }
  if (production.lateTicks !== reference.lateTicks) {
    throw new Error(`late ticks: engine ${production.lateTicks}, reference ${reference.lateTicks}`);
  }
  return {
    lines: production.lines,
    // The reference's shape: reasons as messages (the codes are checked in test/unit/errors.test.ts).
    rejectedOps: production.rejectedOps.map((r) => ({ op: r.op, errors: messagesOf(r.errors) })),
    lateTicks: production.lateTicks,
  } as ReferenceReplayResult;
}
