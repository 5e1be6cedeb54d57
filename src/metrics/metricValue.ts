/**
 * A metric is either a finite value or null with a reason. Nothing that is not a finite
 * number (NaN, ±Infinity) ever leaves this module: empyrical answers `nan` or `inf`, freqtrade
 * answers sentinels (0, -100, 100); we answer `{ value: null, reason }` and the CLI prints
 * `null` plus the reason under `nullReasons`.
 */

/**
 * Why a metric has no value. One list, each code documented here and in docs/METRICS.md.
 * Codes are stable: consumers may switch on them.
 */
export const NULL_REASONS = {
  /** The series (or trade list) is empty, or every value in it is missing. */
  no_returns: 'no returns to measure',
  /** Fewer observations than the metric needs (2 for anything with a sample deviation). */
  too_few_returns: 'too few returns for this metric',
  /** The sample standard deviation is zero, so a ratio over it is undefined. */
  zero_deviation: 'standard deviation is zero',
  /** No return lies below the required return or threshold: downside risk or loss side is zero. */
  no_downside: 'no return below the required return',
  /** The equity curve never falls below a previous peak. */
  no_drawdown: 'no drawdown',
  /** The maximum drawdown has not been recovered by the end of the series. */
  not_recovered: 'drawdown not recovered by the end of the series',
  /** Omega's annual required return is ≤ −1, so no per-period threshold exists. */
  required_return_too_low: 'annual required return must be greater than -1',
  /** The 5th percentile is zero, so the tail ratio divides by zero. */
  zero_left_tail: 'the 5th percentile return is zero',
  /** No filled trade. */
  no_trades: 'no filled trades',
  /** Fewer than 2 filled trades. */
  too_few_trades: 'too few filled trades for this metric',
  /** No filled trade with a positive result. */
  no_wins: 'no winning trades',
  /** No filled trade with a negative result. */
  no_losses: 'no losing trades',
  /** No filled trade carries `holdingMs`. */
  no_holding_times: 'no trade carries holdingMs',
  /** No filled trade carries a finite `rMultiple` (no stop at the fill). */
  no_r_multiples: 'no trade carries an rMultiple',
  /** No filled trade carries `mfe` / `mae`. */
  no_excursions: 'no trade carries mfe/mae',
  /** No record carries an `outcome`. */
  no_outcomes: 'no record carries an outcome',
  /** No filled trade carries `confidence`. */
  no_confidence: 'no trade carries a confidence',
  /** The arithmetic overflowed or is undefined (e.g. a fractional power of a negative equity). */
  non_finite: 'the result is not a finite number',
} as const;

/** A documented reason for a null metric; see {@link NULL_REASONS}. */
export type NullReason = keyof typeof NULL_REASONS;

/** A metric value: finite, or null with the reason. */
export type MetricValue<T = number> =
  { readonly value: T; readonly reason?: undefined } | { readonly value: null; readonly reason: NullReason };

/** A null metric with its reason. */
export function nullMetric(reason: NullReason): { readonly value: null; readonly reason: NullReason } {
  return { value: null, reason };
}

/**
 * Wraps a computed number: finite values pass, anything else becomes null with `reason`
 * (`non_finite` unless the caller knows better).
 */
export function metric(value: number, reason: NullReason = 'non_finite'): MetricValue {
  return Number.isFinite(value) ? { value } : nullMetric(reason);
}

/**
 * Splits metrics into plain values (`null` where missing) and a `nullReasons` map with one
 * entry per null, keys in the order given: the shape the CLI prints.
 */
export function flattenMetrics<K extends string, T>(
  metrics: Readonly<Record<K, MetricValue<T>>>,
  keys: readonly K[],
): { values: Record<K, T | null>; nullReasons: Partial<Record<K, NullReason>> } {
  const values = {} as Record<K, T | null>;
  const nullReasons: Partial<Record<K, NullReason>> = {};
  for (const key of keys) {
    const m = metrics[key];
    values[key] = m.value;
    if (m.reason !== undefined) nullReasons[key] = m.reason;
  }
  return { values, nullReasons };
}
