import type { OutcomeCode } from '../../machines/types.ts';

/** Every outcome code, in the order the outcome mix prints them (SPEC.md "Outcome"). */
export const OUTCOME_CODES = [
  'TP_HIT',
  'SL_HIT',
  'ROI_EXIT',
  'TIME_EXIT',
  'MANUAL_EXIT',
  'EXPIRED',
  'CANCELLED',
  'INVALID_AT_FILL',
] as const satisfies readonly OutcomeCode[];

// Fails to compile if machines/types.ts gains an outcome this list does not name.
type UnlistedOutcome = Exclude<OutcomeCode, (typeof OUTCOME_CODES)[number]>;
const _everyOutcomeListed: [UnlistedOutcome] extends [never] ? true : UnlistedOutcome = true;

/**
 * Outcomes of signals that never became a trade: the entry expired, the signal was
 * cancelled before the fill, or the fill tick already breached a level. They count in the
 * outcome mix and nowhere else.
 */
export const UNFILLED_OUTCOMES: ReadonlySet<OutcomeCode> = new Set<OutcomeCode>([
  'EXPIRED',
  'CANCELLED',
  'INVALID_AT_FILL',
]);

/**
 * One signal's result, as the trade-level metrics read it. Field names follow the replay
 * output (SPEC.md "Replay output"); `pnl` and `confidence` come from the caller.
 */
export interface TradeRecord {
  /** Net return of the trade as a fraction of the entry (fees included). */
  netReturn: number;
  /**
   * Profit and loss in money. When given it replaces `netReturn` as the trade's result in
   * every PnL metric; give it on all trades or on none, or the units mix.
   */
  pnl?: number;
  /** Result in units of initial risk; null when the signal had no stop at the fill. */
  rMultiple?: number | null;
  /** Fill to close, in milliseconds. */
  holdingMs?: number;
  /** How the signal ended; absent counts as a filled trade. */
  outcome?: OutcomeCode;
  /** Maximum favourable excursion, a fraction ≥ 0. */
  mfe?: number;
  /** Maximum adverse excursion, a fraction ≤ 0. */
  mae?: number;
  /** The signal's predicted probability of a win, in [0, 1]. */
  confidence?: number;
}

/**
 * Whether the record is a trade: it has no outcome, or one other than
 * {@link UNFILLED_OUTCOMES}. Only trades enter the PnL, duration, R, excursion and
 * calibration metrics.
 */
export function isFilled(record: TradeRecord): boolean {
  return record.outcome === undefined || !UNFILLED_OUTCOMES.has(record.outcome);
}

/** The records that are trades ({@link isFilled}), in order. */
export function filledTrades(records: readonly TradeRecord[]): TradeRecord[] {
  return records.filter(isFilled);
}

/** A trade's result: `pnl` when given, otherwise `netReturn`. Win > 0, loss < 0, draw = 0. */
export function tradeResult(record: TradeRecord): number {
  return record.pnl ?? record.netReturn;
}
