import { metric, nullMetric, type MetricValue } from './metricValue.ts';

/**
 * The drawdown at each point of the compounded equity curve, as a fraction ≤ 0.
 *
 * Point 0 is the starting equity, which is the first peak (empyrical's `drawdown_series`
 * prepends it the same way); point `i` is the equity after the `i`-th return. A missing
 * return (NaN) counts as 0, as empyrical's `cum_returns` fills it. The result has
 * `returns.length + 1` entries.
 */
export function drawdownSeries(returns: readonly number[]): number[] {
  const out = [0];
  let equity = 1;
  let peak = 1;
  for (const r of returns) {
    equity *= 1 + (Number.isNaN(r) ? 0 : r);
    if (equity > peak) peak = equity;
    out.push((equity - peak) / peak);
  }
  return out;
}

/** Where the deepest drawdown lies and how long it, and the longest one, lasted. */
export interface DrawdownDetails {
  /** The deepest drawdown as a negative fraction (0 without one), as empyrical's `max_drawdown`. */
  maxDrawdown: MetricValue;
  /** Equity point of the peak before the deepest drawdown (0 = the starting equity); null without one. */
  peakIndex: number | null;
  /** Equity point of the deepest drawdown's trough (its first occurrence); null without one. */
  troughIndex: number | null;
  /** First equity point after the trough back at the peak's level; null if never, or without drawdown. */
  recoveryIndex: number | null;
  /** Periods from peak to trough. */
  declinePeriods: MetricValue;
  /** Periods from trough to recovery: null with `not_recovered` while still under water. */
  recoveryPeriods: MetricValue;
  /** Periods from peak to recovery, the deepest drawdown's duration: null with `not_recovered` while under water. */
  durationPeriods: MetricValue;
  /**
   * The longest stretch below a previous peak, in periods, over every drawdown; one still
   * open at the end counts up to the last period. 0 without drawdown.
   */
  longestUnderwaterPeriods: MetricValue;
}

/**
 * Drawdown duration and recovery for a return series, on the curve of {@link drawdownSeries}.
 * The peak, trough and recovery are chosen as pyfolio's `get_max_drawdown_underwater`
 * (quantopian/pyfolio `pyfolio/timeseries.py`) chooses them: trough = first minimum of the
 * drawdown, peak = last point at 0 before it, recovery = first point at 0 after it. Lengths
 * are counted in return periods (`index difference`), not calendar or business days.
 */
export function drawdownDetails(returns: readonly number[]): DrawdownDetails {
  if (returns.length === 0) {
    const none = nullMetric('no_returns');
    return {
      maxDrawdown: none,
      peakIndex: null,
      troughIndex: null,
      recoveryIndex: null,
      declinePeriods: none,
      recoveryPeriods: none,
      durationPeriods: none,
      longestUnderwaterPeriods: none,
    };
  }
  const dd = drawdownSeries(returns);
  const at = (i: number): number => dd[i] as number;

  let trough = 0;
  let longest = 0;
  let underwaterFrom: number | null = null;
  for (let i = 1; i < dd.length; i++) {
    if (at(i) < at(trough)) trough = i;
    if (at(i) < 0 && underwaterFrom === null) underwaterFrom = i - 1;
    if (at(i) === 0 && underwaterFrom !== null) {
      longest = Math.max(longest, i - underwaterFrom);
      underwaterFrom = null;
    }
  }
  if (underwaterFrom !== null) longest = Math.max(longest, dd.length - 1 - underwaterFrom);

  if (at(trough) === 0) {
    const none = nullMetric('no_drawdown');
    return {
      maxDrawdown: { value: 0 },
      peakIndex: null,
      troughIndex: null,
      recoveryIndex: null,
      declinePeriods: none,
      recoveryPeriods: none,
      durationPeriods: none,
      longestUnderwaterPeriods: { value: 0 },
    };
  }

  let peak = trough;
  while (at(peak) !== 0) peak--;
  let recovery: number | null = null;
  for (let i = trough + 1; i < dd.length; i++) {
    if (at(i) === 0) {
      recovery = i;
      break;
    }
  }
  const unrecovered = nullMetric('not_recovered');
  return {
    maxDrawdown: metric(at(trough)),
    peakIndex: peak,
    troughIndex: trough,
    recoveryIndex: recovery,
    declinePeriods: { value: trough - peak },
    recoveryPeriods: recovery === null ? unrecovered : { value: recovery - trough },
    durationPeriods: recovery === null ? unrecovered : { value: recovery - peak },
    longestUnderwaterPeriods: { value: longest },
  };
}
