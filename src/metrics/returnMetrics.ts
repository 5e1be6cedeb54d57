/**
 * Return-series metrics with empyrical's definitions and parameter conventions
 * (quantopian/empyrical and its maintained fork stefan-jansen/empyrical-reloaded,
 * `empyrical/stats.py`). A series is one simple, non-cumulative return per period; NaN
 * marks a missing period. Like empyrical, the length gates (`len(returns) < 2`) count
 * missing periods, while the sums, means and deviations skip them (numpy's nan-functions),
 * and `annualReturn` counts them as elapsed periods.
 *
 * Everything is pure: no I/O, no clock. Parameters outside their domain (a non-positive
 * annualization, a cutoff outside [0, 1]) are programming errors and throw a RangeError;
 * the CLI validates its input before calling.
 */
import { drawdownSeries } from './drawdown.ts';
import { metric, nullMetric, type MetricValue } from './metricValue.ts';
import { finiteValues, mean, percentile, sampleStd, sum } from './stats.ts';

/** Periods per year for daily returns: empyrical's `APPROX_BDAYS_PER_YEAR`. */
export const DEFAULT_ANNUALIZATION = 252;

/** Default quantile for {@link valueAtRisk}, as empyrical's `value_at_risk`. */
export const DEFAULT_CUTOFF = 0.05;

/** Parameters shared by the return-series metrics. */
export interface ReturnMetricOptions {
  /**
   * Return periods per year (252 daily, 52 weekly, 12 monthly, 1 yearly).
   * @defaultValue 252
   */
  annualization?: number;
  /**
   * Risk-free return per period, subtracted from every return (sharpe, omega).
   * @defaultValue 0
   */
  riskFree?: number;
  /**
   * Minimum acceptable return. Per period for sortino and downside risk; ANNUAL for omega,
   * which converts it to `(1 + requiredReturn)^(1/annualization) − 1` per period.
   * @defaultValue 0
   */
  requiredReturn?: number;
  /**
   * Lower-tail quantile for value at risk, in [0, 1].
   * @defaultValue 0.05
   */
  cutoff?: number;
}

/** The metrics {@link returnMetrics} computes, in the order the CLI prints them. */
export const RETURN_METRIC_NAMES = [
  'sharpe',
  'sortino',
  'downsideRisk',
  'maxDrawdown',
  'annualReturn',
  'annualVolatility',
  'calmar',
  'omega',
  'tailRatio',
  'valueAtRisk',
  'cumReturn',
] as const;

/** One of {@link RETURN_METRIC_NAMES}. */
export type ReturnMetricName = (typeof RETURN_METRIC_NAMES)[number];

/** Every return-series metric for one series. */
export type ReturnMetrics = Record<ReturnMetricName, MetricValue>;

function checkAnnualization(annualization: number): number {
  if (!(Number.isFinite(annualization) && annualization > 0)) {
    throw new RangeError(`annualization must be a positive number, got ${annualization}`);
  }
  return annualization;
}

/** Null when the series (missing periods included) is shorter than `min`, as empyrical's gates. */
function lengthGate(returns: readonly number[], min: number): MetricValue | null {
  if (returns.length === 0) return nullMetric('no_returns');
  return returns.length < min ? nullMetric('too_few_returns') : null;
}

/** Null when fewer than `min` values remain after dropping missing periods. */
function countGate(values: readonly number[], min: number): MetricValue | null {
  if (values.length === 0) return nullMetric('no_returns');
  return values.length < min ? nullMetric('too_few_returns') : null;
}

function product(values: readonly number[]): number {
  let p = 1;
  for (const r of values) p *= 1 + r;
  return p;
}

/** Root mean square of `min(r − required, 0)` over all periods, annualized (empyrical `downside_risk`). */
function annualizedDownside(
  values: readonly number[],
  requiredReturn: number,
  annualization: number,
): number {
  const squares = values.map((r) => Math.min(r - requiredReturn, 0) ** 2);
  return Math.sqrt(mean(squares)) * Math.sqrt(annualization);
}

/**
 * Annualized Sharpe ratio: `mean(r − riskFree) / std(r − riskFree) · √annualization`, with the
 * sample standard deviation (ddof 1). empyrical `sharpe_ratio`.
 *
 * Null: `no_returns` / `too_few_returns` under 2 periods; `zero_deviation` for a constant series.
 */
export function sharpe(
  returns: readonly number[],
  options: Pick<ReturnMetricOptions, 'riskFree' | 'annualization'> = {},
): MetricValue {
  const { riskFree = 0, annualization = DEFAULT_ANNUALIZATION } = options;
  const ann = checkAnnualization(annualization);
  const short = lengthGate(returns, 2);
  if (short) return short;
  const excess = finiteValues(returns).map((r) => r - riskFree);
  const few = countGate(excess, 2);
  if (few) return few;
  const sd = sampleStd(excess);
  if (sd === 0) return nullMetric('zero_deviation');
  return metric((mean(excess) / sd) * Math.sqrt(ann));
}

/**
 * Annualized downside deviation below `requiredReturn` (per period):
 * `√(mean(min(r − requiredReturn, 0)²)) · √annualization`, the mean taken over ALL periods,
 * not only the losing ones. empyrical `downside_risk`.
 *
 * Null: `no_returns` for an empty series. A single period is enough (0 if it is above the
 * required return).
 */
export function downsideRisk(
  returns: readonly number[],
  options: Pick<ReturnMetricOptions, 'requiredReturn' | 'annualization'> = {},
): MetricValue {
  const { requiredReturn = 0, annualization = DEFAULT_ANNUALIZATION } = options;
  const ann = checkAnnualization(annualization);
  const short = lengthGate(returns, 1);
  if (short) return short;
  const values = finiteValues(returns);
  const none = countGate(values, 1);
  if (none) return none;
  return metric(annualizedDownside(values, requiredReturn, ann));
}

/**
 * Annualized Sortino ratio: `mean(r − requiredReturn) · annualization / downsideRisk`, with
 * `requiredReturn` per period. empyrical `sortino_ratio`.
 *
 * Null: `no_returns` / `too_few_returns` under 2 periods; `no_downside` when no period is
 * below the required return (empyrical answers ±inf or nan).
 */
export function sortino(
  returns: readonly number[],
  options: Pick<ReturnMetricOptions, 'requiredReturn' | 'annualization'> = {},
): MetricValue {
  const { requiredReturn = 0, annualization = DEFAULT_ANNUALIZATION } = options;
  const ann = checkAnnualization(annualization);
  const short = lengthGate(returns, 2);
  if (short) return short;
  const values = finiteValues(returns);
  const none = countGate(values, 1);
  if (none) return none;
  const averageAnnualReturn = mean(values.map((r) => r - requiredReturn)) * ann;
  const risk = annualizedDownside(values, requiredReturn, ann);
  if (risk === 0) return nullMetric('no_downside');
  return metric(averageAnnualReturn / risk);
}

/**
 * Maximum drawdown of the compounded equity curve, a negative fraction (0 without drawdown).
 * The starting equity is the first peak, so a first-period loss is a drawdown. empyrical
 * `max_drawdown`. See `drawdownDetails` for its duration and recovery.
 *
 * Null: `no_returns` for an empty series.
 */
export function maxDrawdown(returns: readonly number[]): MetricValue {
  if (returns.length === 0) return nullMetric('no_returns');
  let deepest = 0;
  for (const d of drawdownSeries(returns)) if (d < deepest) deepest = d;
  return metric(deepest);
}

/**
 * Annual return as CAGR: `(Π(1 + r))^(1/years) − 1` with `years = n / annualization`, where
 * `n` counts every period, missing ones included. empyrical `annual_return` / `cagr`.
 *
 * Null: `no_returns` for an empty series; `non_finite` when the equity ends negative.
 */
export function annualReturn(
  returns: readonly number[],
  options: Pick<ReturnMetricOptions, 'annualization'> = {},
): MetricValue {
  const ann = checkAnnualization(options.annualization ?? DEFAULT_ANNUALIZATION);
  if (returns.length === 0) return nullMetric('no_returns');
  const years = returns.length / ann;
  return metric(product(finiteValues(returns)) ** (1 / years) - 1);
}

/**
 * Annualized volatility: `std(r) · √annualization` with the sample standard deviation
 * (ddof 1). empyrical `annual_volatility` (with its default `alpha = 2`).
 *
 * Null: `no_returns` / `too_few_returns` under 2 periods.
 */
export function annualVolatility(
  returns: readonly number[],
  options: Pick<ReturnMetricOptions, 'annualization'> = {},
): MetricValue {
  const ann = checkAnnualization(options.annualization ?? DEFAULT_ANNUALIZATION);
  const short = lengthGate(returns, 2);
  if (short) return short;
  const values = finiteValues(returns);
  const few = countGate(values, 2);
  if (few) return few;
  return metric(sampleStd(values) * Math.sqrt(ann));
}

/**
 * Calmar ratio: `annualReturn / |maxDrawdown|`. empyrical `calmar_ratio`.
 *
 * Null: `no_drawdown` when the maximum drawdown is 0; otherwise the reason of a null
 * annual return or drawdown.
 */
export function calmar(
  returns: readonly number[],
  options: Pick<ReturnMetricOptions, 'annualization'> = {},
): MetricValue {
  const drawdown = maxDrawdown(returns);
  if (drawdown.value === null) return drawdown;
  if (drawdown.value >= 0) return nullMetric('no_drawdown');
  const annual = annualReturn(returns, options);
  if (annual.value === null) return annual;
  return metric(annual.value / Math.abs(drawdown.value));
}

/**
 * Omega ratio: `Σ max(d, 0) / Σ max(−d, 0)` with `d = r − riskFree − threshold`. The
 * `requiredReturn` here is ANNUAL, as in empyrical: `threshold = (1 + requiredReturn)^(1/annualization) − 1`,
 * or `requiredReturn` itself when `annualization` is 1. empyrical `omega_ratio`.
 *
 * Null: `no_returns` / `too_few_returns` under 2 periods; `required_return_too_low` when
 * `requiredReturn ≤ −1` (and `annualization ≠ 1`); `no_downside` when nothing lies below the threshold.
 */
export function omega(
  returns: readonly number[],
  options: Pick<ReturnMetricOptions, 'riskFree' | 'requiredReturn' | 'annualization'> = {},
): MetricValue {
  const { riskFree = 0, requiredReturn = 0, annualization = DEFAULT_ANNUALIZATION } = options;
  const ann = checkAnnualization(annualization);
  const short = lengthGate(returns, 2);
  if (short) return short;
  let threshold: number;
  if (ann === 1) threshold = requiredReturn;
  else if (requiredReturn <= -1) return nullMetric('required_return_too_low');
  else threshold = (1 + requiredReturn) ** (1 / ann) - 1;
  const diffs = finiteValues(returns).map((r) => r - riskFree - threshold);
  const none = countGate(diffs, 1);
  if (none) return none;
  const gains = sum(diffs.filter((d) => d > 0));
  const losses = -sum(diffs.filter((d) => d < 0));
  if (!(losses > 0)) return nullMetric('no_downside');
  return metric(gains / losses);
}

/**
 * Tail ratio: `|p95| / |p5|` of the returns, percentiles with linear interpolation (numpy's
 * default). Missing periods are skipped. empyrical `tail_ratio`.
 *
 * Null: `no_returns`; `zero_left_tail` when the 5th percentile is 0.
 */
export function tailRatio(returns: readonly number[]): MetricValue {
  const values = finiteValues(returns);
  const none = countGate(values, 1);
  if (none) return none;
  const left = Math.abs(percentile(values, 5));
  if (left === 0) return nullMetric('zero_left_tail');
  return metric(Math.abs(percentile(values, 95)) / left);
}

/**
 * Value at risk: the `100·cutoff`-th percentile of the returns with linear interpolation
 * (numpy's default), a return (negative for a loss), not a loss magnitude. empyrical
 * `value_at_risk`, except that missing periods are skipped as in its `tail_ratio`
 * (empyrical's `np.percentile` would answer nan for any gap).
 *
 * Null: `no_returns`.
 */
export function valueAtRisk(
  returns: readonly number[],
  options: Pick<ReturnMetricOptions, 'cutoff'> = {},
): MetricValue {
  const { cutoff = DEFAULT_CUTOFF } = options;
  if (!(cutoff >= 0 && cutoff <= 1)) throw new RangeError(`cutoff must be within [0, 1], got ${cutoff}`);
  const values = finiteValues(returns);
  const none = countGate(values, 1);
  if (none) return none;
  return metric(percentile(values, 100 * cutoff));
}

/**
 * Cumulative return over the whole series: `Π(1 + r) − 1`, missing periods skipped.
 * empyrical `cum_returns_final`.
 *
 * Null: `no_returns` for an empty series.
 */
export function cumReturn(returns: readonly number[]): MetricValue {
  if (returns.length === 0) return nullMetric('no_returns');
  return metric(product(finiteValues(returns)) - 1);
}

/** Every return-series metric for `returns`, each with the parameters it takes from `options`. */
export function returnMetrics(returns: readonly number[], options: ReturnMetricOptions = {}): ReturnMetrics {
  return {
    sharpe: sharpe(returns, options),
    sortino: sortino(returns, options),
    downsideRisk: downsideRisk(returns, options),
    maxDrawdown: maxDrawdown(returns),
    annualReturn: annualReturn(returns, options),
    annualVolatility: annualVolatility(returns, options),
    calmar: calmar(returns, options),
    omega: omega(returns, options),
    tailRatio: tailRatio(returns),
    valueAtRisk: valueAtRisk(returns, options),
    cumReturn: cumReturn(returns),
  };
}
