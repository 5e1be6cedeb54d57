import type { SignalContext } from './signalContext.ts';
import type { OutcomeLine } from './types.ts';

/**
 * SPEC.md "Outcome" and "Replay output": the report of a signal in its current state.
 * Returns sum legs in leg order. `+ 0` turns a negative zero into zero, so that JSON and
 * deep equality agree.
 */
export function outcomeLine(c: SignalContext): OutcomeLine {
  if (c.fill === null) {
    if (c.phase !== 'closed') return { id: c.id, state: 'pending', legs: [] };
    const line: OutcomeLine = {
      id: c.id,
      state: 'closed',
      outcome: c.outcome!,
      legs: [],
      closedAt: c.closedAt!,
    };
    if (c.stale) line.stale = true;
    return line;
  }
  const entry = c.fill.price;
  const fill = { ts: c.fill.ts, price: entry };
  if (c.outcome === 'INVALID_AT_FILL') {
    return {
      id: c.id,
      state: 'closed',
      outcome: c.outcome,
      fill,
      legs: [],
      closedAt: c.closedAt!,
      holdingMs: 0,
    };
  }
  const favourable = c.dir > 0 ? c.hi! : c.lo!;
  const adverse = c.dir > 0 ? c.lo! : c.hi!;
  const mfe = Math.max(0, (c.dir * (favourable - entry)) / entry) + 0;
  const mae = Math.min(0, (c.dir * (adverse - entry)) / entry) + 0;
  const legs = c.legs.map((leg) => ({ ...leg }));
  if (c.phase !== 'closed') return { id: c.id, state: c.phase, fill, legs, mfe, mae };

  let gross = 0;
  let move = 0;
  let exitNotional = 0;
  for (const leg of c.legs) {
    gross += (leg.fraction * c.dir * (leg.price - entry)) / entry;
    move += leg.fraction * c.dir * (leg.price - entry);
    exitNotional += (leg.fraction * leg.price) / entry;
  }
  const feeShare = (c.feeBps / 1e4) * (1 + exitNotional);
  const net = gross - feeShare;
  const rMultiple = c.initialStop === null ? null : move / Math.abs(entry - c.initialStop) + 0;
  const last = c.legs[c.legs.length - 1]!;
  const notional = c.notional ?? null;
  // In quote currency, only for a signal that gave its position's value.
  const money = notional === null ? {} : { pnl: notional * net + 0, fees: notional * feeShare + 0 };
  const line: OutcomeLine = {
    id: c.id,
    state: 'closed',
    outcome: c.outcome!,
    // Closed in more than one leg, the last not a TP: part of the position went another way.
    partial: c.legs.length > 1 && last.reason !== 'TP',
    fill,
    legs,
    grossReturn: gross + 0,
    netReturn: net + 0,
    rMultiple,
    ...money,
    mfe,
    mae,
    closedAt: c.closedAt!,
    holdingMs: c.closedAt! - c.fill.ts,
  };
  if (c.stale) line.stale = true;
  return line;
}
