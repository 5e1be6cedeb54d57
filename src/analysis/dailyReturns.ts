/**
 * Daily returns for the return-series metrics, under a position-sizing convention
 * (docs/METRICS.md "Periods and grouping"). Signals carry no position size, so the analyzer
 * assumes one:
 *
 * - `equal_risk` (default): every signal risks the same fraction `f` of equity at its initial
 *   stop, so a trade adds `f · rMultiple` to the return of the UTC day it closed. A trade
 *   without an R-multiple (no stop at the fill) is sized so that losing its whole notional
 *   costs `f`: it adds `f · netReturn`.
 * - `equal_notional`: every signal puts the same fraction `f` of equity into the position:
 *   `f · netReturn`.
 *
 * A day's return is the sum over the trades that closed in it (realised P&L, positions sized
 * off the same equity); a day without a closed trade returns 0. Unfilled outcomes add nothing.
 * rMultiple is before fees (SPEC.md), netReturn after them.
 *
 * Pure.
 */
import { DAY_MS } from './windows.ts';
import { UNFILLED_OUTCOME_INDICES, type OutcomeColumns } from './outcomeColumns.ts';

/** The sizing conventions. */
export const SIZINGS = ['equal_risk', 'equal_notional'] as const;

/** One of {@link SIZINGS}. */
export type Sizing = (typeof SIZINGS)[number];

/** How the daily returns are sized. */
export interface SizingOptions {
  /** @defaultValue "equal_risk" */
  sizing: Sizing;
  /** Fraction of equity risked (`equal_risk`) or invested (`equal_notional`) per signal. @defaultValue 0.01 */
  riskFraction: number;
}

/** The default convention: 1 % of equity risked per signal. */
export const DEFAULT_SIZING: SizingOptions = { sizing: 'equal_risk', riskFraction: 0.01 };

/**
 * Calendar days per year: the series has a return for every UTC day, weekends included, so
 * annualising by 252 trading days would understate volatility and overstate nothing else.
 */
export const DAILY_ANNUALIZATION = 365;

/**
 * One trade's contribution to its day's return, or NaN when it has neither an R-multiple nor a
 * net return to size (nothing is added then).
 */
export function tradeContribution(rMultiple: number, netReturn: number, options: SizingOptions): number {
  const f = options.riskFraction;
  if (options.sizing === 'equal_risk' && Number.isFinite(rMultiple)) return f * rMultiple;
  return Number.isFinite(netReturn) ? f * netReturn : Number.NaN;
}

/** A daily series and where its numbers came from. */
export interface DailySeries {
  /** One return per UTC day from `startMs` to `endMs`, 0 on days without a closed trade. */
  returns: number[];
  /** Trades sized by their R-multiple. */
  fromRMultiple: number;
  /** Trades sized by their net return (no R-multiple, or `equal_notional`). */
  fromNetReturn: number;
  /** Trades with neither (left out). */
  unsized: number;
}

/**
 * The daily returns of the outcomes `rows[from..to)` (close order) over the days
 * `[startMs, endMs)`, both midnights. Outcomes outside the days are ignored.
 */
export function dailyReturns(
  columns: OutcomeColumns,
  rows: Int32Array,
  from: number,
  to: number,
  startMs: number,
  endMs: number,
  options: SizingOptions = DEFAULT_SIZING,
): DailySeries {
  const days = Math.max(0, Math.round((endMs - startMs) / DAY_MS));
  const returns = new Array<number>(days).fill(0);
  let fromRMultiple = 0;
  let fromNetReturn = 0;
  let unsized = 0;
  for (let p = from; p < to; p++) {
    const i = rows[p]!;
    if (UNFILLED_OUTCOME_INDICES.has(columns.outcome[i]!)) continue;
    const day = Math.floor((columns.closedAt[i]! - startMs) / DAY_MS);
    if (day < 0 || day >= days) continue;
    const r = columns.rMultiple[i]!;
    const c = tradeContribution(r, columns.netReturn[i]!, options);
    if (Number.isNaN(c)) {
      unsized++;
      continue;
    }
    if (options.sizing === 'equal_risk' && Number.isFinite(r)) fromRMultiple++;
    else fromNetReturn++;
    returns[day]! += c;
  }
  return { returns, fromRMultiple, fromNetReturn, unsized };
}
