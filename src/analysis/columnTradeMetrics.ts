/**
 * The trade-level metrics of some rows of {@link OutcomeColumns}, read straight from the
 * columns: no trade record per outcome, no list per metric. The analyzer computes them for
 * every window end × window × group; building a record object per outcome (a million of them)
 * and a list per metric for each of those cost about half of its compute time, much of it in
 * garbage collection.
 *
 * The figures are those of `tradeMetrics` over the same trades as records, to the bit: the
 * same values reach `tradeMetricsOfParts` in the same order (test/unit/analyzer.columnTradeMetrics.test.ts).
 * Pure.
 */
import type { MetricValue } from '../metrics/metricValue.ts';
import { tradeMetricsOfParts, type OutcomeMix, type TradeMetrics } from '../metrics/tradeMetrics.ts';
import { UNFILLED_OUTCOME_INDICES, type OutcomeColumns } from './outcomeColumns.ts';

/** 1 for an outcome index that is a trade (filled), 0 for EXPIRED, CANCELLED, INVALID_AT_FILL. */
const FILLED = new Uint8Array(256).map((_, k) => (UNFILLED_OUTCOME_INDICES.has(k) ? 0 : 1));

/**
 * Reusable buffers for {@link columnTradeMetrics}, grown to the largest group seen, so that a
 * whole analysis allocates them a few times instead of per group and window. Not shared
 * between concurrent calls (the analysis is synchronous between its yields).
 */
export class TradeMetricsBuffers {
  private size = 0;
  results = new Float64Array(0);
  holdingMs = new Float64Array(0);
  rMultiples = new Float64Array(0);
  mfes = new Float64Array(0);
  maes = new Float64Array(0);
  confidences = new Float64Array(0);
  won = new Float64Array(0);

  /** Makes room for `n` trades. */
  reserve(n: number): void {
    if (n <= this.size) return;
    const size = Math.max(n, this.size * 2);
    this.size = size;
    this.results = new Float64Array(size);
    this.holdingMs = new Float64Array(size);
    this.rMultiples = new Float64Array(size);
    this.mfes = new Float64Array(size);
    this.maes = new Float64Array(size);
    this.confidences = new Float64Array(size);
    this.won = new Float64Array(size);
  }
}

/**
 * The trade metrics of the filled outcomes with a net return among `rows[lo..hi)` (close order),
 * as `tradeMetrics` of their records would give them; `records` is `hi - lo` and the outcome mix
 * is the one given (the caller counts it from the columns, unfilled outcomes included).
 */
export function columnTradeMetrics(
  c: OutcomeColumns,
  rows: Int32Array,
  lo: number,
  hi: number,
  outcomeMix: MetricValue<OutcomeMix>,
  buffers: TradeMetricsBuffers,
): TradeMetrics {
  buffers.reserve(hi - lo);
  const { results, holdingMs, rMultiples, mfes, maes, confidences, won } = buffers;
  const { outcome, netReturn } = c;
  let n = 0;
  let nHolding = 0;
  let nR = 0;
  let nMfe = 0;
  let nMae = 0;
  let nConfidence = 0;
  for (let p = lo; p < hi; p++) {
    const i = rows[p]!;
    const v = netReturn[i]!;
    if (FILLED[outcome[i]!] === 0 || !Number.isFinite(v)) continue;
    // The record's result is its net return (the analyzer's records carry no pnl).
    results[n++] = v;
    const h = c.holdingMs[i]!;
    if (Number.isFinite(h)) holdingMs[nHolding++] = h;
    const r = c.rMultiple[i]!;
    if (Number.isFinite(r)) rMultiples[nR++] = r;
    const mfe = c.mfe[i]!;
    if (Number.isFinite(mfe)) mfes[nMfe++] = mfe;
    const mae = c.mae[i]!;
    if (Number.isFinite(mae)) maes[nMae++] = mae;
    const confidence = c.confidence[i]!;
    if (Number.isFinite(confidence)) {
      confidences[nConfidence] = confidence;
      won[nConfidence++] = v > 0 ? 1 : 0;
    }
  }
  return tradeMetricsOfParts({
    records: hi - lo,
    results: results.subarray(0, n),
    holdingMs: holdingMs.subarray(0, nHolding),
    rMultiples: rMultiples.subarray(0, nR),
    mfes: mfes.subarray(0, nMfe),
    maes: maes.subarray(0, nMae),
    confidences: confidences.subarray(0, nConfidence),
    won: won.subarray(0, nConfidence),
    outcomeMix,
  });
}
