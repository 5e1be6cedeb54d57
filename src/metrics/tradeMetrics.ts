/**
 * Trade-level metrics over per-signal results, following freqtrade's definitions
 * (freqtrade/freqtrade `freqtrade/data/metrics.py`, `freqtrade/optimize/optimize_reports/
 * optimize_reports.py`) where it has one. Where freqtrade answers a sentinel (0, -100,
 * 100) for an undefined value we answer null with a reason, and where the issue decides
 * differently (a zero result breaks both streaks) the function says so.
 *
 * Which records count: every metric except the outcome mix works on the filled trades
 * only (`isFilled`): EXPIRED, CANCELLED and INVALID_AT_FILL never entered a position and
 * have no PnL, holding time or excursion of their own. The outcome mix counts every record
 * that carries an outcome. A trade's result is `pnl` when given, else `netReturn`
 * (`tradeResult`): win > 0, loss < 0, draw = 0.
 */
import type { OutcomeCode } from '../../machines/types.ts';
import { confidenceMetricsOf, forecastsOf, type CalibrationBucket } from './calibration.ts';
import { metric, nullMetric, type MetricValue, type NullReason } from './metricValue.ts';
import { mean, median, percentile, sampleStd } from './stats.ts';
import { filledTrades, OUTCOME_CODES, tradeResult, type TradeRecord } from './tradeRecord.ts';

/**
 * The results of the filled trades, in order, with their wins and losses tallied in one pass.
 * The sums add the same values in the same order as summing the filtered lists would, so every
 * metric is the same to the last bit; `tradeMetrics` builds this once for all of them.
 */
interface Results {
  values: ArrayLike<number>;
  wins: number;
  losses: number;
  draws: number;
  /** Σ of the wins, in order. */
  winSum: number;
  /** Σ of the losses (≤ 0), in order. */
  lossSum: number;
}

function resultsOf(filled: readonly TradeRecord[]): Results {
  return tallyResults(filled.map(tradeResult));
}

/** The wins, losses, draws and their sums of the results `values`, in order. */
function tallyResults(values: ArrayLike<number>): Results {
  let wins = 0;
  let losses = 0;
  let draws = 0;
  let winSum = 0;
  let lossSum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v > 0) {
      wins++;
      winSum += v;
    } else if (v < 0) {
      losses++;
      lossSum += v;
    } else if (v === 0) draws++;
  }
  return { values, wins, losses, draws, winSum, lossSum };
}

function results(records: readonly TradeRecord[]): Results {
  return resultsOf(filledTrades(records));
}

function winRateOf(r: Results): MetricValue {
  if (r.values.length === 0) return nullMetric('no_trades');
  return metric(r.wins / r.values.length);
}

function profitFactorOf(r: Results): MetricValue {
  if (r.values.length === 0) return nullMetric('no_trades');
  if (r.losses === 0) return nullMetric('no_losses');
  return metric(r.winSum / Math.abs(r.lossSum));
}

function avgWinOf(r: Results): MetricValue {
  if (r.values.length === 0) return nullMetric('no_trades');
  return r.wins === 0 ? nullMetric('no_wins') : metric(r.winSum / r.wins);
}

function avgLossOf(r: Results): MetricValue {
  if (r.values.length === 0) return nullMetric('no_trades');
  return r.losses === 0 ? nullMetric('no_losses') : metric(Math.abs(r.lossSum) / r.losses);
}

/** freqtrade's pieces of `calculate_expectancy`: average win (0 without wins), average loss, win rate. */
function payoffParts(r: Results): { averageWin: number; averageLoss: number; rate: number } {
  return {
    averageWin: r.wins > 0 ? r.winSum / r.wins : 0,
    averageLoss: r.losses > 0 ? Math.abs(r.lossSum) / r.losses : 0,
    rate: r.wins / r.values.length,
  };
}

function payoffRatioOf(r: Results): MetricValue {
  if (r.values.length === 0) return nullMetric('no_trades');
  const { averageWin, averageLoss } = payoffParts(r);
  if (averageLoss === 0) return nullMetric('no_losses');
  return metric(averageWin / averageLoss);
}

function expectancyOf(r: Results): MetricValue {
  if (r.values.length === 0) return nullMetric('no_trades');
  return metric(mean(r.values));
}

function expectancyRatioOf(r: Results): MetricValue {
  if (r.values.length === 0) return nullMetric('no_trades');
  const { averageWin, averageLoss, rate } = payoffParts(r);
  if (averageLoss === 0) return nullMetric('no_losses');
  return metric((1 + averageWin / averageLoss) * rate - 1);
}

function sqnOf({ values }: Results): MetricValue {
  if (values.length === 0) return nullMetric('no_trades');
  if (values.length < 2) return nullMetric('too_few_trades');
  const sd = sampleStd(values);
  if (sd === 0) return nullMetric('zero_deviation');
  return metric((Math.sqrt(values.length) * mean(values)) / sd);
}

/**
 * Share of filled trades that won: `wins / trades`. A draw (result 0) counts in the
 * denominator and is no win, as freqtrade's `winrate`.
 *
 * Null: `no_trades`.
 */
export function winRate(records: readonly TradeRecord[]): MetricValue {
  return winRateOf(results(records));
}

/**
 * Gross profit over gross loss: `Σ wins / |Σ losses|`, as freqtrade's `profit_factor`.
 *
 * Null: `no_trades`; `no_losses` without a losing trade (freqtrade answers 0).
 */
export function profitFactor(records: readonly TradeRecord[]): MetricValue {
  return profitFactorOf(results(records));
}

/**
 * Mean result of the winning trades.
 *
 * Null: `no_trades`; `no_wins`.
 */
export function avgWin(records: readonly TradeRecord[]): MetricValue {
  return avgWinOf(results(records));
}

/**
 * Mean result of the losing trades as a positive magnitude, `|Σ losses| / losses`, as
 * freqtrade's `average_loss` in `calculate_expectancy`.
 *
 * Null: `no_trades`; `no_losses`.
 */
export function avgLoss(records: readonly TradeRecord[]): MetricValue {
  return avgLossOf(results(records));
}

/**
 * Payoff (risk/reward) ratio: `avgWin / avgLoss`, freqtrade's `risk_reward_ratio`; with
 * losses but no wins the average win is 0, so the ratio is 0.
 *
 * Null: `no_trades`; `no_losses`.
 */
export function payoffRatio(records: readonly TradeRecord[]): MetricValue {
  return payoffRatioOf(results(records));
}

/**
 * Expectancy: the mean result per filled trade, `Σ results / trades`. Equal to freqtrade's
 * `winrate · average_win − loserate · average_loss` (draws add 0 to both forms).
 *
 * Null: `no_trades` (freqtrade answers 0).
 */
export function expectancy(records: readonly TradeRecord[]): MetricValue {
  return expectancyOf(results(records));
}

/**
 * Expectancy ratio: `(1 + payoffRatio) · winRate − 1`, freqtrade's `expectancy_ratio`: the
 * expected result per trade in units of the average loss.
 *
 * Null: `no_trades`; `no_losses` (freqtrade answers 100).
 */
export function expectancyRatio(records: readonly TradeRecord[]): MetricValue {
  return expectancyRatioOf(results(records));
}

/**
 * Van Tharp's System Quality Number: `√n · mean(results) / std(results)` with the sample
 * standard deviation (ddof 1), as freqtrade's `calculate_sqn` (which divides every result by
 * the starting balance first, a scale that cancels out, and rounds to 4 places; we do not round).
 *
 * Null: `no_trades`; `too_few_trades` under 2 (freqtrade answers -100);
 * `zero_deviation` when every result is the same.
 */
export function sqn(records: readonly TradeRecord[]): MetricValue {
  return sqnOf(results(records));
}

/** Longest run of consecutive results of one sign, in record order; a zero result ends every run. */
function longestRun(values: ArrayLike<number>, sign: 1 | -1): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < values.length; i++) {
    run = Math.sign(values[i]!) === sign ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

/**
 * Longest run of consecutive winning trades, in the order given (pass them in close order).
 * A draw breaks the run. freqtrade's `calc_streak` counts a draw as a loss instead. 0 without trades.
 */
export function maxConsecutiveWins(records: readonly TradeRecord[]): number {
  return longestRun(results(records).values, 1);
}

/**
 * Longest run of consecutive losing trades, in the order given. A draw breaks the run
 * (freqtrade's `calc_streak` would extend it). 0 without trades.
 */
export function maxConsecutiveLosses(records: readonly TradeRecord[]): number {
  return longestRun(results(records).values, -1);
}

/** Mean and median of one quantity. */
export interface Summary {
  mean: MetricValue;
  median: MetricValue;
}

/** Mean, median and 90th percentile of one quantity. */
export interface SummaryWithP90 extends Summary {
  p90: MetricValue;
}

function summarize(values: ArrayLike<number>, reason: NullReason): SummaryWithP90 {
  if (values.length === 0) {
    const none = nullMetric(reason);
    return { mean: none, median: none, p90: none };
  }
  return {
    mean: metric(mean(values)),
    median: metric(median(values)),
    p90: metric(percentile(values, 90)),
  };
}

/** The finite values `pick` finds among the filled trades `filled`, in order. */
function present(
  filled: readonly TradeRecord[],
  pick: (t: TradeRecord) => number | null | undefined,
): number[] {
  const out: number[] = [];
  for (const t of filled) {
    const v = pick(t);
    if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/**
 * Holding time of the filled trades that carry `holdingMs`: mean, median and 90th percentile
 * in milliseconds, percentiles linearly interpolated (numpy's default).
 *
 * Null: `no_holding_times`.
 */
export function holdingTimeStats(records: readonly TradeRecord[]): SummaryWithP90 {
  return holdingOf(filledTrades(records));
}

function holdingOf(filled: readonly TradeRecord[]): SummaryWithP90 {
  return summarize(
    present(filled, (t) => t.holdingMs),
    'no_holding_times',
  );
}

/**
 * Average R: the mean `rMultiple` of the filled trades that have one (a null `rMultiple`,
 * no stop at the fill, is left out).
 *
 * Null: `no_r_multiples`.
 */
export function avgR(records: readonly TradeRecord[]): MetricValue {
  return avgROf(filledTrades(records));
}

function avgROf(filled: readonly TradeRecord[]): MetricValue {
  return avgRFrom(present(filled, (t) => t.rMultiple));
}

function avgRFrom(rs: ArrayLike<number>): MetricValue {
  return rs.length === 0 ? nullMetric('no_r_multiples') : metric(mean(rs));
}

/**
 * Maximum favourable (`mfe`, ≥ 0) and adverse (`mae`, ≤ 0) excursion of the filled trades
 * that carry them: mean and median of each.
 *
 * Null: `no_excursions`.
 */
export function excursionStats(records: readonly TradeRecord[]): { mfe: Summary; mae: Summary } {
  return excursionsOf(filledTrades(records));
}

function excursionsOf(filled: readonly TradeRecord[]): { mfe: Summary; mae: Summary } {
  return excursionsFrom(
    present(filled, (t) => t.mfe),
    present(filled, (t) => t.mae),
  );
}

function excursionsFrom(mfes: ArrayLike<number>, maes: ArrayLike<number>): { mfe: Summary; mae: Summary } {
  const mfe = summarize(mfes, 'no_excursions');
  const mae = summarize(maes, 'no_excursions');
  return { mfe: { mean: mfe.mean, median: mfe.median }, mae: { mean: mae.mean, median: mae.median } };
}

/** Share of records per outcome code. */
export type OutcomeMix = Record<OutcomeCode, number>;

/**
 * Outcome mix: for each outcome code, its share of the records that carry an outcome,
 * unfilled ones (EXPIRED, CANCELLED, INVALID_AT_FILL) included. Every code is present
 * (0 when absent); the shares sum to 1.
 *
 * Null: `no_outcomes` when no record carries an outcome.
 */
export function outcomeMix(records: readonly TradeRecord[]): MetricValue<OutcomeMix> {
  const counts = Object.fromEntries(OUTCOME_CODES.map((code) => [code, 0])) as OutcomeMix;
  let total = 0;
  for (const t of records) {
    if (t.outcome === undefined) continue;
    counts[t.outcome] += 1;
    total += 1;
  }
  if (total === 0) return nullMetric('no_outcomes');
  const shares = {} as OutcomeMix;
  for (const code of OUTCOME_CODES) shares[code] = counts[code] / total;
  return { value: shares };
}

/** Every trade-level metric for one list of records. */
export interface TradeMetrics {
  /** Records given, filled or not. */
  records: number;
  /** Filled trades among them. */
  trades: number;
  /** Filled trades with a result > 0. */
  wins: number;
  /** Filled trades with a result < 0. */
  losses: number;
  /** Filled trades with a result of exactly 0. */
  draws: number;
  winRate: MetricValue;
  profitFactor: MetricValue;
  avgWin: MetricValue;
  avgLoss: MetricValue;
  payoffRatio: MetricValue;
  expectancy: MetricValue;
  expectancyRatio: MetricValue;
  sqn: MetricValue;
  maxConsecutiveWins: number;
  maxConsecutiveLosses: number;
  holdingMsMean: MetricValue;
  holdingMsMedian: MetricValue;
  holdingMsP90: MetricValue;
  outcomeMix: MetricValue<OutcomeMix>;
  avgR: MetricValue;
  mfeMean: MetricValue;
  mfeMedian: MetricValue;
  maeMean: MetricValue;
  maeMedian: MetricValue;
  brierScore: MetricValue;
  calibration: CalibrationBucket[];
}

/**
 * What the trade-level metrics are computed from, the filled trades already picked out, each
 * list in close order: their results (`pnl` or `netReturn`), and the finite values of each
 * optional field among them. The analyzer fills these from its columns without building a
 * record per trade (src/analysis/columnTradeMetrics.ts); {@link tradeMetrics} from records.
 */
export interface TradeParts {
  /** Records given, filled or not. */
  records: number;
  results: ArrayLike<number>;
  holdingMs: ArrayLike<number>;
  rMultiples: ArrayLike<number>;
  mfes: ArrayLike<number>;
  maes: ArrayLike<number>;
  /** The confidences of the filled trades that carry one, and whether each of those won (1) or not (0). */
  confidences: ArrayLike<number>;
  won: ArrayLike<number>;
  outcomeMix: MetricValue<OutcomeMix>;
}

/** Every trade-level metric from {@link TradeParts}: the same figures as {@link tradeMetrics}, to the bit. */
export function tradeMetricsOfParts(parts: TradeParts): TradeMetrics {
  const r = tallyResults(parts.results);
  const holding = summarize(parts.holdingMs, 'no_holding_times');
  const excursions = excursionsFrom(parts.mfes, parts.maes);
  const confidence = confidenceMetricsOf(parts.confidences, parts.won);
  return {
    records: parts.records,
    trades: r.values.length,
    wins: r.wins,
    losses: r.losses,
    draws: r.draws,
    winRate: winRateOf(r),
    profitFactor: profitFactorOf(r),
    avgWin: avgWinOf(r),
    avgLoss: avgLossOf(r),
    payoffRatio: payoffRatioOf(r),
    expectancy: expectancyOf(r),
    expectancyRatio: expectancyRatioOf(r),
    sqn: sqnOf(r),
    maxConsecutiveWins: longestRun(r.values, 1),
    maxConsecutiveLosses: longestRun(r.values, -1),
    holdingMsMean: holding.mean,
    holdingMsMedian: holding.median,
    holdingMsP90: holding.p90,
    outcomeMix: parts.outcomeMix,
    avgR: avgRFrom(parts.rMultiples),
    mfeMean: excursions.mfe.mean,
    mfeMedian: excursions.mfe.median,
    maeMean: excursions.mae.mean,
    maeMedian: excursions.mae.median,
    brierScore: confidence.brierScore,
    calibration: confidence.calibration,
  };
}

/** Every trade-level metric for `records`, in the order given (pass them in close order). */
export function tradeMetrics(records: readonly TradeRecord[]): TradeMetrics {
  // One filter for every metric: the analyzer calls this for every group and window, on up to
  // all of a tenant's outcomes.
  const filled = filledTrades(records);
  const { confidences, won } = forecastsOf(filled);
  return tradeMetricsOfParts({
    records: records.length,
    results: filled.map(tradeResult),
    holdingMs: present(filled, (t) => t.holdingMs),
    rMultiples: present(filled, (t) => t.rMultiple),
    mfes: present(filled, (t) => t.mfe),
    maes: present(filled, (t) => t.mae),
    confidences,
    won,
    outcomeMix: outcomeMix(records),
  });
}
