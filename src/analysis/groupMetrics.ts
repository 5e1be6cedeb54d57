/**
 * The metrics of one group over one window, as stored in performance_metrics.metrics (jsonb):
 * the trade-level metrics of src/metrics over its outcomes, the return-series metrics over its
 * daily returns, how the returns were sized, and `nullReasons` for every null. Keys are flat so
 * that SQL reads them directly (`metrics->>'winRate'`). Pure.
 */
import type { NullReason, MetricValue } from '../metrics/metricValue.ts';
import { RETURN_METRIC_NAMES, type ReturnMetrics } from '../metrics/returnMetrics.ts';
import type { TradeMetrics } from '../metrics/tradeMetrics.ts';
import type { DailySeries, SizingOptions } from './dailyReturns.ts';
import type { Json } from './rules/ruleTypes.ts';

/** The trade metrics that are a {@link MetricValue}, in the CLI's order. */
const TRADE_VALUE_KEYS = [
  'winRate',
  'profitFactor',
  'avgWin',
  'avgLoss',
  'payoffRatio',
  'expectancy',
  'expectancyRatio',
  'sqn',
  'holdingMsMean',
  'holdingMsMedian',
  'holdingMsP90',
  'avgR',
  'mfeMean',
  'mfeMedian',
  'maeMean',
  'maeMedian',
  'brierScore',
] as const satisfies readonly (keyof TradeMetrics)[];

/** How the daily series behind the return metrics was built. */
export interface SeriesInfo {
  series: DailySeries;
  sizing: SizingOptions;
  annualization: number;
}

/** The stored metrics object of one (window, group). */
export function metricsJson(
  trades: TradeMetrics,
  returns: ReturnMetrics,
  info: SeriesInfo,
): { [key: string]: Json } {
  const out: { [key: string]: Json } = {
    records: trades.records,
    trades: trades.trades,
    wins: trades.wins,
    losses: trades.losses,
    draws: trades.draws,
  };
  const nullReasons: { [key: string]: NullReason } = {};
  const put = (key: string, m: MetricValue): void => {
    out[key] = m.value;
    if (m.reason !== undefined) nullReasons[key] = m.reason;
  };
  for (const key of TRADE_VALUE_KEYS) put(key, trades[key]);
  out.maxConsecutiveWins = trades.maxConsecutiveWins;
  out.maxConsecutiveLosses = trades.maxConsecutiveLosses;
  out.outcomeMix = trades.outcomeMix.value === null ? null : { ...trades.outcomeMix.value };
  if (trades.outcomeMix.reason !== undefined) nullReasons.outcomeMix = trades.outcomeMix.reason;
  out.calibration = trades.calibration.map((b) => ({ ...b }));
  for (const key of RETURN_METRIC_NAMES) put(key, returns[key]);
  out.days = info.series.returns.length;
  out.sizing = {
    convention: info.sizing.sizing,
    riskFraction: info.sizing.riskFraction,
    annualization: info.annualization,
    fromRMultiple: info.series.fromRMultiple,
    fromNetReturn: info.series.fromNetReturn,
    unsized: info.series.unsized,
  };
  out.nullReasons = nullReasons;
  return out;
}
