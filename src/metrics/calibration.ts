/**
 * How well a signal's `confidence` predicts a win. Only filled trades that carry a
 * confidence take part: a signal that never filled had no chance to win or lose.
 * A win is a result > 0 (see `tradeResult`); a draw counts as not a win.
 */
import { metric, nullMetric, type MetricValue } from './metricValue.ts';
import { filledTrades, tradeResult, type TradeRecord } from './tradeRecord.ts';

/** One confidence decile. */
export interface CalibrationBucket {
  /** Inclusive lower bound of the bucket's confidence range. */
  lower: number;
  /** Upper bound: exclusive, except for the last bucket, which includes 1.0. */
  upper: number;
  /** Trades whose confidence falls in the bucket. */
  count: number;
  /** Mean confidence of those trades; null when the bucket is empty. */
  meanConfidence: number | null;
  /** Share of those trades that won; null when the bucket is empty. */
  hitRate: number | null;
}

/** The forecasts of some filled trades: the confidences, and whether each trade won (1) or not (0). */
export interface Forecasts {
  confidences: number[];
  won: number[];
}

/** The forecasts of the filled trades `filled` that carry a confidence, in order. */
export function forecastsOf(filled: readonly TradeRecord[]): Forecasts {
  const confidences: number[] = [];
  const won: number[] = [];
  for (const t of filled) {
    if (t.confidence === undefined || !Number.isFinite(t.confidence)) continue;
    confidences.push(t.confidence);
    won.push(tradeResult(t) > 0 ? 1 : 0);
  }
  return { confidences, won };
}

/**
 * Brier score: `mean((confidence − won)²)` over filled trades with a confidence, `won` being
 * 1 for a win and 0 otherwise. 0 is perfect; always predicting 0.5 scores 0.25. The same
 * definition as scikit-learn's `brier_score_loss`.
 *
 * Null: `no_confidence` when no filled trade carries a confidence.
 */
export function brierScore(records: readonly TradeRecord[]): MetricValue {
  const f = forecastsOf(filledTrades(records));
  return brierOf(f.confidences, f.won);
}

function brierOf(confidences: ArrayLike<number>, won: ArrayLike<number>): MetricValue {
  const n = confidences.length;
  if (n === 0) return nullMetric('no_confidence');
  // mean() of the squared errors, summed in order as it would.
  let total = 0;
  for (let i = 0; i < n; i++) total += (confidences[i]! - won[i]!) ** 2;
  return metric(total / n);
}

/** Decile index of a confidence in [0, 1]: [0, 0.1) → 0, …, [0.9, 1.0] → 9. */
function decile(confidence: number): number {
  let i = Math.min(9, Math.max(0, Math.floor(confidence * 10)));
  // The product can round across a bound; the bounds themselves are i/10 as doubles.
  if (i > 0 && confidence < i / 10) i--;
  else if (i < 9 && confidence >= (i + 1) / 10) i++;
  return i;
}

/**
 * Calibration by confidence decile: ten buckets [0, 0.1), [0.1, 0.2), …, [0.9, 1.0], each
 * with its trade count, mean confidence and realised hit rate, over filled trades with a
 * confidence. Always ten buckets; an empty one has nulls for its mean and hit rate.
 * Confidences are expected in [0, 1]; out-of-range values are clamped to the end buckets.
 */
export function calibrationByDecile(records: readonly TradeRecord[]): CalibrationBucket[] {
  const f = forecastsOf(filledTrades(records));
  return decilesOf(f.confidences, f.won);
}

/**
 * {@link brierScore} and {@link calibrationByDecile} of trades already known to be filled, from
 * one pass over them (tradeMetrics).
 */
export function confidenceMetrics(filled: readonly TradeRecord[]): {
  brierScore: MetricValue;
  calibration: CalibrationBucket[];
} {
  const f = forecastsOf(filled);
  return confidenceMetricsOf(f.confidences, f.won);
}

/** {@link confidenceMetrics} of forecasts already picked out ({@link forecastsOf}). */
export function confidenceMetricsOf(
  confidences: ArrayLike<number>,
  won: ArrayLike<number>,
): { brierScore: MetricValue; calibration: CalibrationBucket[] } {
  return { brierScore: brierOf(confidences, won), calibration: decilesOf(confidences, won) };
}

function decilesOf(confidences: ArrayLike<number>, won: ArrayLike<number>): CalibrationBucket[] {
  // Each bucket's sums add its forecasts in order, as mean() over the bucket's list would.
  const count = new Array<number>(10).fill(0);
  const confidenceSum = new Array<number>(10).fill(0);
  const wonSum = new Array<number>(10).fill(0);
  for (let k = 0; k < confidences.length; k++) {
    const i = decile(confidences[k]!);
    count[i]!++;
    confidenceSum[i]! += confidences[k]!;
    wonSum[i]! += won[k]!;
  }
  return count.map((c, i) => ({
    lower: i / 10,
    upper: (i + 1) / 10,
    count: c,
    meanConfidence: c === 0 ? null : confidenceSum[i]! / c,
    hitRate: c === 0 ? null : wonSum[i]! / c,
  }));
}
