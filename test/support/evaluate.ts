/**
 * The single entry point the SPEC rule tests call. It runs the reference replay for now; the
 * production engine will be checked through here too, against the same hand-computed outcomes.
 */
import type { Operation, SignalPayload, Tick } from '../../machines/types.ts';
import { referenceReplay, type ReferenceReplayResult } from '../reference/referenceReplay.ts';

/** Replays `ticks` against `signals` with `ops`; one outcome line per signal in input order. */
export function evaluate(signals: SignalPayload[], ticks: Tick[], ops?: Operation[]): ReferenceReplayResult {
  return referenceReplay(signals, ticks, ops);
}
