/**
 * How well a signal's `confidence` predicts a win. Only filled trades that carry a
 * confidence take part: a signal that never filled had no chance to win or lose.
 * A win is a result > 0 (see `tradeResult`); a draw counts as not a win.
 */
import { metric, nullMetric, type MetricValue } from './metricValue.ts';
import { mean } from './stats.ts';
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

interface Forecast {
  confidence: number;
  won: 0 | 1;
}

/** The forecasts of the filled trades `filled` that carry a confidence. */
function forecasts(filled: readonly TradeRecord[]): Forecast[] {
  const out: Forecast[] = [];
  for (const t of filled) {
    if (t.confidence === undefined || !Number.isFinite(t.confidence)) continue;
    out.push({ confidence: t.confidence, won: tradeResult(t) > 0 ? 1 : 0 });
  }
  return out;
}

/**
 * Brier score: `mean((confidence − won)²)` over filled trades with a confidence, `won` being
 * 1 for a win and 0 otherwise. 0 is perfect; always predicting 0.5 scores 0.25. The same
 * definition as scikit-learn's `brier_score_loss`.
 *
 * Null: `no_confidence` when no filled trade carries a confidence.
 */
export function brierScore(records: readonly TradeRecord[]): MetricValue {
  return brierOf(forecasts(filledTrades(records)));
}

function brierOf(fs: readonly Forecast[]): MetricValue {
  if (fs.length === 0) return nullMetric('no_confidence');
  return metric(mean(fs.map((f) => (f.confidence - f.won) ** 2)));
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
  return decilesOf(forecasts(filledTrades(records)));
}

/**
 * {@link brierScore} and {@link calibrationByDecile} of trades already known to be filled, from
 * one pass over them (tradeMetrics).
 */
export function confidenceMetrics(filled: readonly TradeRecord[]): {
  brierScore: MetricValue;
  calibration: CalibrationBucket[];
} {
  const fs = forecasts(filled);
  return { brierScore: brierOf(fs), calibration: decilesOf(fs) };
}

function decilesOf(fs: readonly Forecast[]): CalibrationBucket[] {
  const groups: Forecast[][] = Array.from({ length: 10 }, () => []);
  for (const f of fs) groups[decile(f.confidence)]?.push(f);
  return groups.map((group, i) => ({
    lower: i / 10,
    upper: (i + 1) / 10,
    count: group.length,
    meanConfidence: group.length === 0 ? null : mean(group.map((f) => f.confidence)),
    hitRate: group.length === 0 ? null : mean(group.map((f) => f.won)),
  }));
}
