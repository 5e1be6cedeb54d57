/**
 * Events the signal machine accepts. Ticks carry market time; nothing reads the wall clock.
 *
 * `hi`/`lo` (optional on every event) are the highest and lowest value of the signal's
 * current price series over the ticks the index did not deliver to it since its last event
 * (the index proves those ticks touched none of its levels). The machine folds them into
 * excursions and the trailing peak exactly as applying those ticks one by one would.
 * `last` is that series' value on the latest of those skipped ticks.
 */
export interface CatchUp {
  hi?: number;
  lo?: number;
  last?: number;
}

export interface TickEvent extends CatchUp {
  type: 'TICK';
  ts: number;
  price: number;
  bid?: number;
  ask?: number;
}

export interface ExitEvent extends CatchUp {
  type: 'EXIT';
  ts: number;
  price?: number;
  /** Of the original position; absent: all that remains. */
  fraction?: number;
  /** Accept a `price` far from the last exit trigger price. */
  force?: boolean;
}

export interface CancelEvent extends CatchUp {
  type: 'CANCEL';
  ts: number;
}

export interface AmendEvent extends CatchUp {
  type: 'AMEND';
  ts: number;
  stopLoss?: { price: number };
  takeProfits?: { level: number; price: number }[];
}

/**
 * The live stale sweep (SPEC.md: closes at a passed deadline when no tick arrives). `clock`
 * is the market clock, `graceMs` the grace period. Replay never sends it.
 */
export interface SweepEvent extends CatchUp {
  type: 'SWEEP';
  clock: number;
  graceMs: number;
}

/** Folds skipped ticks into the context without applying a new one (before a report). */
export interface SyncEvent extends CatchUp {
  type: 'SYNC';
}

export type SignalEvent = TickEvent | ExitEvent | CancelEvent | AmendEvent | SweepEvent | SyncEvent;
