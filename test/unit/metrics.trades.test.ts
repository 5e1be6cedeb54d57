/**
 * Trade-level metrics against freqtrade's published tests (freqtrade/freqtrade
 * `tests/data/test_metrics.py`, `tests/optimize/test_optimize_reports.py`) and, for the
 * forecast metrics, scikit-learn's (`sklearn/metrics/tests/test_classification.py`,
 * `sklearn/tests/test_calibration.py`). Where freqtrade answers a sentinel for an undefined
 * value (0, -100, 100), null with a reason is expected here. Values marked "hand" are
 * worked out in the comment, never taken from running this code.
 */
import { describe, expect, it } from 'vitest';
import { brierScore, calibrationByDecile } from '../../src/metrics/calibration.ts';
import type { MetricValue, NullReason } from '../../src/metrics/metricValue.ts';
import {
  avgLoss,
  avgR,
  avgWin,
  excursionStats,
  expectancy,
  expectancyRatio,
  holdingTimeStats,
  maxConsecutiveLosses,
  maxConsecutiveWins,
  outcomeMix,
  payoffRatio,
  profitFactor,
  sqn,
  tradeMetrics,
  winRate,
} from '../../src/metrics/tradeMetrics.ts';
import { isFilled, type TradeRecord } from '../../src/metrics/tradeRecord.ts';

const value = (expected: number, digits = 10): MetricValue => ({
  value: expect.closeTo(expected, digits) as unknown as number,
});
const nothing = (reason: NullReason): MetricValue => ({ value: null, reason });

/** freqtrade `profit_ratio` series: per-trade net returns. */
const byReturn = (xs: number[]): TradeRecord[] => xs.map((netReturn) => ({ netReturn }));
/** freqtrade `profit_abs` series: money PnL on a 10 000 stake, so the return carries the same sign. */
const byPnl = (xs: number[]): TradeRecord[] => xs.map((pnl) => ({ netReturn: pnl / 10_000, pnl }));

// freqtrade tests/data/test_metrics.py test_calculate_expectancy
const expectancyFixture = byPnl([100, 200, 50, -150, 300, -100, 80, -30]);

describe('winRate', () => {
  it('counts wins over all filled trades', () => {
    // freqtrade tests/optimize/test_optimize_reports.py test_text_table_bt_results:
    // profit_ratio [0.1, 0.2, -0.05] → "Win Draw Loss Win%" = 2 0 1 66.7.
    expect(winRate(byReturn([0.1, 0.2, -0.05]))).toEqual(value(2 / 3));
  });

  it('keeps a zero-PnL trade in the denominator as no win', () => {
    // hand: 1 win of 3 trades; freqtrade's winrate is also wins / len(results).
    expect(winRate(byReturn([0.1, 0, -0.05]))).toEqual(value(1 / 3));
  });

  it('is null without trades', () => {
    // freqtrade generate_trading_stats answers winrate 0 for an empty frame.
    expect(winRate([])).toEqual(nothing('no_trades'));
  });
});

describe('expectancy and expectancyRatio (freqtrade calculate_expectancy)', () => {
  it('match freqtrade test_calculate_expectancy', () => {
    // freqtrade tests/data/test_metrics.py test_calculate_expectancy:
    // expectancy == approx(56.25), expectancy_ratio == approx(0.60267857).
    expect(expectancy(expectancyFixture)).toEqual(value(56.25));
    expect(expectancyRatio(expectancyFixture)).toEqual(value(0.60267857, 7));
  });

  it('are null for no trades, where freqtrade answers (0, 100)', () => {
    // freqtrade test_calculate_expectancy: calculate_expectancy(DataFrame()) == (0.0, 100).
    expect(expectancy([])).toEqual(nothing('no_trades'));
    expect(expectancyRatio([])).toEqual(nothing('no_trades'));
  });

  it('has no ratio without losses', () => {
    // freqtrade keeps expectancy_ratio = 100 when average_loss is 0.
    expect(expectancyRatio(byPnl([10, 20]))).toEqual(nothing('no_losses'));
    expect(expectancy(byPnl([10, 20]))).toEqual(value(15));
  });

  it('treats an all-losing book as a ratio of -1', () => {
    // hand: average_win = 0 (freqtrade's default), win rate 0 → (1 + 0) · 0 − 1 = −1.
    expect(expectancyRatio(byPnl([-10, -20]))).toEqual(value(-1));
  });
});

describe('profitFactor, avgWin, avgLoss, payoffRatio', () => {
  it('follow freqtrade on the test_calculate_expectancy fixture', () => {
    // hand, from the fixture: wins 100+200+50+300+80 = 730 over 5, losses −150−100−30 = −280 over 3.
    // profit_factor = winning_profit / abs(losing_profit) (freqtrade optimize_reports._generate_result_line).
    expect(profitFactor(expectancyFixture)).toEqual(value(730 / 280));
    expect(avgWin(expectancyFixture)).toEqual(value(146));
    // average_loss is a positive magnitude in freqtrade's calculate_expectancy.
    expect(avgLoss(expectancyFixture)).toEqual(value(280 / 3));
    // risk_reward_ratio = average_win / average_loss = 146 / 93.33…
    expect(payoffRatio(expectancyFixture)).toEqual(value(146 / (280 / 3)));
  });

  it('are null where a side is missing, where freqtrade answers 0', () => {
    expect(profitFactor(byPnl([1, 2]))).toEqual(nothing('no_losses'));
    expect(avgLoss(byPnl([1, 2]))).toEqual(nothing('no_losses'));
    expect(payoffRatio(byPnl([1, 2]))).toEqual(nothing('no_losses'));
    expect(avgWin(byPnl([-1, -2]))).toEqual(nothing('no_wins'));
    expect(profitFactor([])).toEqual(nothing('no_trades'));
  });

  it('gives a payoff of 0 with losses and no wins', () => {
    // hand: freqtrade's average_win is 0 without winners, so risk_reward_ratio = 0 / average_loss.
    expect(payoffRatio(byPnl([-1, -2]))).toEqual(value(0));
    expect(profitFactor(byPnl([-1, -2]))).toEqual(value(0));
  });
});

describe('sqn (freqtrade calculate_sqn)', () => {
  // freqtrade tests/data/test_metrics.py test_calculate_sqn_cases (profit_abs, starting_balance 100,
  // pytest.approx(rel=1e-4)); the starting balance divides every trade and cancels out.
  it.each([
    ['Mixed profits/losses', [1.0, -0.5, 2.0, -1.0, 0.5, 1.5, -0.5, 1.0], 1.3229],
    ['All winning trades', [1.0, 0.5, 2.0, 1.5, 0.8], 4.3657],
    ['All losing trades', [-1.0, -0.5, -2.0, -1.5, -0.8], -4.3657],
  ])('%s', (_name, profits, expected) => {
    const result = sqn(byPnl(profits)).value;
    expect(result).not.toBeNull();
    expect(Math.abs((result as number) - expected) / Math.abs(expected)).toBeLessThan(1e-4);
  });

  it('is null for an empty book and a single trade, where freqtrade answers 0 and -100', () => {
    // test_calculate_sqn_cases: ([], 100, 0.0, "Empty dataframe"), ([1.0], 100, -100, "Single trade").
    expect(sqn([])).toEqual(nothing('no_trades'));
    expect(sqn(byPnl([1.0]))).toEqual(nothing('too_few_trades'));
  });

  it('is null when every trade has the same result', () => {
    // hand: the sample deviation of [0.01, 0.01, 0.01] is 0.
    expect(sqn(byReturn([0.01, 0.01, 0.01]))).toEqual(nothing('zero_deviation'));
  });
});

describe('maxConsecutiveWins / maxConsecutiveLosses', () => {
  // freqtrade tests/optimize/test_optimize_reports.py test_calc_streak
  const streakFixture = byReturn([0.05, -0.02, -0.03, -0.05, 0.01, 0.02, 0.03, 0.04, -0.02, -0.03]);

  it('match freqtrade test_calc_streak: 4 wins, 3 losses', () => {
    expect([maxConsecutiveWins(streakFixture), maxConsecutiveLosses(streakFixture)]).toEqual([4, 3]);
  });

  it('match freqtrade test_calc_streak inverted: 3 wins, 4 losses', () => {
    const inverted = streakFixture.map((t) => ({ netReturn: -t.netReturn }));
    expect([maxConsecutiveWins(inverted), maxConsecutiveLosses(inverted)]).toEqual([3, 4]);
  });

  it('are 0 for no trades, as freqtrade test_calc_streak df_empty', () => {
    expect([maxConsecutiveWins([]), maxConsecutiveLosses([])]).toEqual([0, 0]);
  });

  it('end both streaks at a zero result (freqtrade would count it as a loss)', () => {
    // hand: W W 0 W L 0 L → longest win run 2, longest loss run 1;
    // freqtrade's calc_streak reads 0 as "loss" and would report a loss run of 3 (L 0 L).
    const trades = byReturn([0.01, 0.02, 0, 0.03, -0.01, 0, -0.02]);
    expect([maxConsecutiveWins(trades), maxConsecutiveLosses(trades)]).toEqual([2, 1]);
  });
});

describe('which records count', () => {
  const records: TradeRecord[] = [
    { netReturn: 0.02, outcome: 'TP_HIT', holdingMs: 1000 },
    { netReturn: -0.01, outcome: 'SL_HIT', holdingMs: 3000 },
    { netReturn: 0, outcome: 'EXPIRED' },
    { netReturn: 0, outcome: 'CANCELLED' },
    { netReturn: 0, outcome: 'INVALID_AT_FILL', holdingMs: 0 },
    { netReturn: 0.005, outcome: 'TIME_EXIT', holdingMs: 2000 },
    { netReturn: 0.001 },
  ];

  it('treats EXPIRED, CANCELLED and INVALID_AT_FILL as never entered', () => {
    expect(records.map(isFilled)).toEqual([true, true, false, false, false, true, true]);
    // hand: 3 wins (0.02, 0.005, 0.001) of 4 filled trades; the unfilled zeros are no draws.
    expect(winRate(records)).toEqual(value(3 / 4));
    // hand: holding times of the filled trades with one: 1000, 3000, 2000 → mean 2000.
    expect(holdingTimeStats(records).mean).toEqual(value(2000));
  });

  it('still counts them in the outcome mix, over the records that carry an outcome', () => {
    // hand: 6 records carry an outcome, one of each listed code.
    expect(outcomeMix(records)).toEqual({
      value: {
        TP_HIT: 1 / 6,
        SL_HIT: 1 / 6,
        ROI_EXIT: 0,
        TIME_EXIT: 1 / 6,
        MANUAL_EXIT: 0,
        EXPIRED: 1 / 6,
        CANCELLED: 1 / 6,
        INVALID_AT_FILL: 1 / 6,
      },
    });
    expect(outcomeMix(byReturn([0.01]))).toEqual(nothing('no_outcomes'));
  });

  it('reads a trade by its pnl when given', () => {
    // hand: a positive return but a negative PnL (say fees in money) is a loss.
    const trades: TradeRecord[] = [
      { netReturn: 0.001, pnl: -5 },
      { netReturn: 0.02, pnl: 15 },
    ];
    expect(winRate(trades)).toEqual(value(0.5));
    expect(expectancy(trades)).toEqual(value(5));
    expect(profitFactor(trades)).toEqual(value(3));
  });
});

describe('holding time, R and excursions', () => {
  it('summarises holding time with mean, median and linearly interpolated p90', () => {
    // hand: [1000, 2000, 3000, 4000, 10000]: mean 4000, median 3000,
    // p90 at rank 0.9·4 = 3.6 → 4000 + 0.6·6000 = 7600.
    const trades = [1000, 2000, 3000, 4000, 10_000].map((holdingMs) => ({ netReturn: 0.01, holdingMs }));
    expect(holdingTimeStats(trades)).toEqual({ mean: value(4000), median: value(3000), p90: value(7600) });
    expect(holdingTimeStats(byReturn([0.01])).p90).toEqual(nothing('no_holding_times'));
  });

  it('averages R over the trades that have one', () => {
    // hand: [1.5, −1, 2] (the null, no stop at the fill, is left out) → 2.5 / 3.
    const trades: TradeRecord[] = [
      { netReturn: 0.03, rMultiple: 1.5 },
      { netReturn: -0.02, rMultiple: -1 },
      { netReturn: 0.01, rMultiple: null },
      { netReturn: 0.04, rMultiple: 2 },
    ];
    expect(avgR(trades)).toEqual(value(2.5 / 3));
    expect(avgR(byReturn([0.01]))).toEqual(nothing('no_r_multiples'));
  });

  it('summarises MFE and MAE', () => {
    // hand: mfe [0.01, 0.03, 0.02] → mean 0.02, median 0.02; mae [−0.005, −0.02, 0] → mean −0.025/3, median −0.005.
    const trades: TradeRecord[] = [
      { netReturn: 0.005, mfe: 0.01, mae: -0.005 },
      { netReturn: -0.01, mfe: 0.03, mae: -0.02 },
      { netReturn: 0.02, mfe: 0.02, mae: 0 },
    ];
    expect(excursionStats(trades)).toEqual({
      mfe: { mean: value(0.02), median: value(0.02) },
      mae: { mean: value(-0.025 / 3), median: value(-0.005) },
    });
    expect(excursionStats(byReturn([0.01])).mae.mean).toEqual(nothing('no_excursions'));
  });
});

describe('brierScore and calibrationByDecile', () => {
  /** One trade per (label, confidence): label 1 wins (+1%), label 0 loses (−1%). */
  const forecasts = (labels: number[], confidences: number[]): TradeRecord[] =>
    labels.map((label, i) => ({
      netReturn: label === 1 ? 0.01 : -0.01,
      confidence: confidences[i] as number,
    }));

  it('matches scikit-learn test_brier_score_loss', () => {
    // sklearn/metrics/tests/test_classification.py test_brier_score_loss:
    // y_true [0, 1, 1, 0, 1, 1], y_pred [0.1, 0.8, 0.9, 0.3, 1.0, 0.95],
    // true_score = ‖y_true − y_pred‖² / 6 = (0.01 + 0.04 + 0.01 + 0.09 + 0 + 0.0025) / 6 (hand).
    const trades = forecasts([0, 1, 1, 0, 1, 1], [0.1, 0.8, 0.9, 0.3, 1.0, 0.95]);
    expect(brierScore(trades)).toEqual(value(0.1525 / 6));
    // ... and brier_score_loss(y_true, y_true) == 0.
    expect(brierScore(forecasts([0, 1, 1, 0, 1, 1], [0, 1, 1, 0, 1, 1]))).toEqual(value(0));
  });

  it('counts a draw as no win and leaves out unfilled signals and trades without confidence', () => {
    // hand: only the draw (won 0, confidence 0.6) counts → 0.6² = 0.36.
    const trades: TradeRecord[] = [
      { netReturn: 0, confidence: 0.6 },
      { netReturn: 0, outcome: 'EXPIRED', confidence: 0.9 },
      { netReturn: 0.02 },
    ];
    expect(brierScore(trades)).toEqual(value(0.36));
    expect(brierScore(byReturn([0.01]))).toEqual(nothing('no_confidence'));
  });

  it('agrees with scikit-learn test_calibration_curve when deciles are merged into halves', () => {
    // sklearn/tests/test_calibration.py test_calibration_curve: y_true [0, 0, 0, 1, 1, 1],
    // y_pred [0, 0.1, 0.2, 0.8, 0.9, 1.0], n_bins=2 → prob_true [0, 1], prob_pred [0.1, 0.9].
    const buckets = calibrationByDecile(forecasts([0, 0, 0, 1, 1, 1], [0, 0.1, 0.2, 0.8, 0.9, 1.0]));
    expect(buckets.map((b) => b.count)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 1, 2]);
    const half = (from: number, to: number) => {
      const part = buckets.slice(from, to).filter((b) => b.count > 0);
      const n = part.reduce((s, b) => s + b.count, 0);
      return {
        hitRate: part.reduce((s, b) => s + (b.hitRate as number) * b.count, 0) / n,
        meanConfidence: part.reduce((s, b) => s + (b.meanConfidence as number) * b.count, 0) / n,
      };
    };
    expect(half(0, 5)).toEqual({ hitRate: 0, meanConfidence: expect.closeTo(0.1, 12) });
    expect(half(5, 10)).toEqual({ hitRate: 1, meanConfidence: expect.closeTo(0.9, 12) });
    // 1.0 belongs to the last bucket, [0.9, 1.0]; an empty bucket has nulls.
    expect(buckets[9]).toEqual({ lower: 0.9, upper: 1, count: 2, meanConfidence: 0.95, hitRate: 1 });
    expect(buckets[4]).toEqual({ lower: 0.4, upper: 0.5, count: 0, meanConfidence: null, hitRate: null });
  });

  it('puts each decile boundary in the bucket it opens', () => {
    // hand: 0.3 · 10 and 0.7 · 10 round to 3.0000000000000004 and 7.000000000000001 in doubles;
    // each boundary i/10 still lands in bucket i.
    const boundaries = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    const buckets = calibrationByDecile(
      forecasts(
        boundaries.map(() => 1),
        boundaries,
      ),
    );
    expect(buckets.map((b) => b.count)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(buckets.map((b) => b.meanConfidence)).toEqual(boundaries);
  });
});

describe('tradeMetrics', () => {
  it('gathers every metric over one book', () => {
    const m = tradeMetrics([
      ...expectancyFixture,
      { netReturn: 0, outcome: 'EXPIRED' },
      { netReturn: 0, pnl: 0, outcome: 'MANUAL_EXIT' },
    ]);
    // hand: 9 filled trades (the 8 of the fixture and the flat manual exit), 5 wins, 3 losses, 1 draw.
    expect(m).toMatchObject({ records: 10, trades: 9, wins: 5, losses: 3, draws: 1 });
    expect(m.expectancy).toEqual(value(450 / 9));
    expect(m.winRate).toEqual(value(5 / 9));
    expect(m.profitFactor).toEqual(value(730 / 280));
    expect(m.outcomeMix.value).toMatchObject({ EXPIRED: 0.5, MANUAL_EXIT: 0.5 });
    expect(m.calibration).toHaveLength(10);
    expect(m.brierScore).toEqual(nothing('no_confidence'));
  });
});
