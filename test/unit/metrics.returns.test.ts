/**
 * Return-series metrics against empyrical's published test suite.
 *
 * Fixtures: stefan-jansen/empyrical-reloaded `tests/conftest.py` (`input_data`), the same
 * series quantopian/empyrical declares on `TestStats` in `empyrical/tests/test_stats.py`.
 * Expected values: stefan-jansen/empyrical-reloaded `tests/test_stats.py`, test named on each
 * case; empyrical asserts with `assert_almost_equal(..., DECIMAL_PLACES = 8)` unless noted.
 * A case where empyrical expects nan or inf expects null here, with the reason. Values
 * marked "hand" are worked out in the comment, never taken from running this code.
 */
import { describe, expect, it } from 'vitest';
import { drawdownDetails, drawdownSeries } from '../../src/metrics/drawdown.ts';
import type { MetricValue, NullReason } from '../../src/metrics/metricValue.ts';
import {
  annualReturn,
  annualVolatility,
  calmar,
  cumReturn,
  downsideRisk,
  maxDrawdown,
  omega,
  RETURN_METRIC_NAMES,
  returnMetrics,
  sharpe,
  sortino,
  tailRatio,
  valueAtRisk,
} from '../../src/metrics/returnMetrics.ts';
import { mean, median, percentile, sampleStd } from '../../src/metrics/stats.ts';

const pct = (xs: number[]): number[] => xs.map((x) => x / 100);

// empyrical-reloaded tests/conftest.py input_data
const simpleBenchmark = pct([0, 1, 0, 1, 0, 1, 0, 1, 0]);
const positiveReturns = pct([1, 2, 1, 1, 1, 1, 1, 1, 1]);
const negativeReturns = pct([0, -6, -7, -1, -9, -2, -6, -8, -5]);
const allNegativeReturns = pct([-2, -6, -7, -1, -9, -2, -6, -8, -5]);
const mixedReturns = pct([Number.NaN, 1, 10, -4, 2, 3, 2, 1, -10]);
const weeklyReturns = pct([0, 1, 10, -4, 2, 3, 2, 1, -10]); // freq 'W': annualization 52
const monthlyReturns = pct([0, 1, 10, -4, 2, 3, 2, 1, -10]); // freq 'ME': annualization 12
const oneReturn = pct([1]);
const uduReturns = pct([10, -10, 10]);
const emptyReturns: number[] = [];
const flatLine1 = pct([1, 1, 1, 1, 1, 1, 1, 1, 1]);
const flatLine1Tz: number[] = Array.from({ length: 1000 }, () => 0.01); // np.linspace(0.01, 0.01, num=1000)
const flatLineYearly = pct([3, 3, 3]); // freq 'YE': annualization 1
const dfOne = [
  -0.00171614, 0.01322056, 0.03063862, -0.01422057, -0.00489779, 0.01268925, -0.03357711, 0.01797036,
];
const dfTwo = [
  0.01846232, 0.00793951, -0.01448395, 0.00422537, -0.00339611, 0.03756813, 0.0151531, 0.03549769,
];

const DAILY = 252;
const WEEKLY = 52;
const MONTHLY = 12;
const YEARLY = 1;
const DECIMAL_PLACES = 8;

const value = (expected: number, digits = DECIMAL_PLACES): MetricValue => ({
  value: expect.closeTo(expected, digits) as unknown as number,
});
const nothing = (reason: NullReason): MetricValue => ({ value: null, reason });

describe('stats helpers', () => {
  it('uses the sample standard deviation (ddof 1) and exactly 0 for a constant series', () => {
    // hand: [1, 2, 3, 4] has squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; 5 / 3 → √(5/3).
    expect(sampleStd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 15);
    expect(sampleStd(flatLine1Tz)).toBe(0);
    expect(sampleStd([1])).toBeNaN();
  });

  it('interpolates percentiles linearly between ranks, as numpy.percentile', () => {
    // empyrical-reloaded tests/test_stats.py test_value_at_risk: np.percentile([1, 2], 30) = 1.3,
    // np.percentile([1, 81, 82, 83, 84, 85], 10) = 41, (…, 30) = 81.5.
    expect(percentile([1, 2], 30)).toBeCloseTo(1.3, 12);
    expect(percentile([85, 1, 84, 81, 83, 82], 10)).toBeCloseTo(41, 12);
    expect(percentile([1, 81, 82, 83, 84, 85], 30)).toBeCloseTo(81.5, 12);
    expect(median([3, 1, 2, 10])).toBe(2.5);
    expect(mean([])).toBeNaN();
  });
});

describe('sharpe (empyrical sharpe_ratio)', () => {
  // empyrical-reloaded tests/test_stats.py test_sharpe_ratio
  it.each([
    ['empty_returns', emptyReturns, nothing('no_returns')],
    ['one_return', oneReturn, nothing('too_few_returns')],
    ['mixed_returns', mixedReturns, value(1.7238613961706866)],
    ['positive_returns', positiveReturns, value(52.915026221291804)],
    ['negative_returns', negativeReturns, value(-24.406808633910085)],
    // empyrical expects np.inf: the deviation is zero.
    ['flat_line_1', flatLine1, nothing('zero_deviation')],
  ])('%s with riskFree 0', (_name, returns, expected) => {
    expect(sharpe(returns, { riskFree: 0, annualization: DAILY })).toEqual(expected);
  });

  it('subtracts a per-period riskFree before the mean and the deviation', () => {
    // hand: sharpe is invariant when returns and riskFree shift together
    // (empyrical-reloaded tests/test_stats.py test_sharpe_translation_same states the property).
    const shifted = mixedReturns.map((r) => r + 0.005);
    expect(sharpe(shifted, { riskFree: 0.005 })).toEqual(value(1.7238613961706866));
  });
});

describe('sortino (empyrical sortino_ratio)', () => {
  // empyrical-reloaded tests/test_stats.py test_sortino
  it.each([
    ['empty_returns', emptyReturns, 0, DAILY, nothing('no_returns')],
    ['one_return', oneReturn, 0, DAILY, nothing('too_few_returns')],
    ['mixed_returns', mixedReturns, 0, DAILY, value(2.605531251673693)],
    // required_return = flat_line_1, a constant 0.01 per period.
    ['mixed_returns, required flat_line_1', mixedReturns, 0.01, DAILY, value(-1.3934779588919977)],
    // empyrical expects np.inf: nothing below the required return.
    ['positive_returns', positiveReturns, 0, DAILY, nothing('no_downside')],
    ['negative_returns', negativeReturns, 0, DAILY, value(-13.532743075043401)],
    ['simple_benchmark', simpleBenchmark, 0, DAILY, nothing('no_downside')],
    ['weekly_returns', weeklyReturns, 0, WEEKLY, value(1.1158901056866439)],
    ['monthly_returns', monthlyReturns, 0, MONTHLY, value(0.53605626741889756)],
    ['df_simple.one', dfOne, 0, DAILY, value(3.0639640966566306)],
    ['df_simple.two', dfTwo, 0, DAILY, value(38.090963117002495)],
    ['df_week.one', dfOne, 0, WEEKLY, value(1.3918264112070571)],
    ['df_week.two', dfTwo, 0, WEEKLY, value(17.303077589064618)],
    ['df_month.one', dfOne, 0, MONTHLY, value(0.6686117809312383)],
    ['df_month.two', dfTwo, 0, MONTHLY, value(8.3121296084492844)],
  ])('%s', (_name, returns, requiredReturn, annualization, expected) => {
    expect(sortino(returns, { requiredReturn, annualization })).toEqual(expected);
  });
});

describe('downsideRisk (empyrical downside_risk)', () => {
  // empyrical-reloaded tests/test_stats.py test_downside_risk
  it.each([
    ['empty_returns', emptyReturns, 0, DAILY, nothing('no_returns')],
    ['one_return', oneReturn, 0, DAILY, value(0)],
    ['mixed_returns', mixedReturns, 0, DAILY, value(0.60448325038829653)],
    ['mixed_returns, required 0.1', mixedReturns, 0.1, DAILY, value(1.7161730681956295)],
    ['weekly_returns', weeklyReturns, 0, WEEKLY, value(0.25888650451930134)],
    ['weekly_returns, required 0.1', weeklyReturns, 0.1, WEEKLY, value(0.7733045971672482)],
    ['monthly_returns', monthlyReturns, 0, MONTHLY, value(0.1243650540411842)],
    ['monthly_returns, required 0.1', monthlyReturns, 0.1, MONTHLY, value(0.37148351242013422)],
    ['df_simple.one', dfOne, 0, DAILY, value(0.20671788246185202)],
    ['df_simple.two', dfTwo, 0, DAILY, value(0.083495680595704475)],
    ['df_week.one', dfOne, 0, WEEKLY, value(0.093902996054410062)],
    ['df_week.two', dfTwo, 0, WEEKLY, value(0.037928477556776516)],
    ['df_month.one', dfOne, 0, MONTHLY, value(0.045109540184877193)],
    ['df_month.two', dfTwo, 0, MONTHLY, value(0.018220251263412916)],
  ])('%s', (_name, returns, requiredReturn, annualization, expected) => {
    expect(downsideRisk(returns, { requiredReturn, annualization })).toEqual(expected);
  });
});

describe('maxDrawdown (empyrical max_drawdown)', () => {
  // empyrical-reloaded tests/test_stats.py test_max_drawdown
  it.each([
    ['empty_returns', emptyReturns, nothing('no_returns')],
    ['one_return', oneReturn, value(0)],
    ['simple_benchmark', simpleBenchmark, value(0)],
    ['mixed_returns', mixedReturns, value(-0.1)],
    ['positive_returns', positiveReturns, value(-0.0)],
    ['negative_returns', negativeReturns, value(-0.3659073)],
    // The starting equity is the first peak: the first period's -2% is already drawdown.
    ['all_negative_returns', allNegativeReturns, value(-0.378589157)],
    ['udu_returns', uduReturns, value(-0.1)],
  ])('%s', (_name, returns, expected) => {
    expect(maxDrawdown(returns)).toEqual(expected);
  });
});

describe('annualReturn (empyrical annual_return / cagr)', () => {
  // empyrical-reloaded tests/test_stats.py test_annual_ret
  it.each([
    // 9 periods, the leading nan included: years = 9 / 252.
    ['mixed_returns', mixedReturns, DAILY, value(1.9135925373194231)],
    ['weekly_returns', weeklyReturns, WEEKLY, value(0.24690830513998208)],
    ['monthly_returns', monthlyReturns, MONTHLY, value(0.052242061386048144)],
  ])('test_annual_ret %s', (_name, returns, annualization, expected) => {
    expect(annualReturn(returns, { annualization })).toEqual(expected);
  });

  // empyrical-reloaded tests/test_stats.py test_cagr
  it.each([
    ['empty_returns', emptyReturns, DAILY, nothing('no_returns')],
    ['one_return', oneReturn, DAILY, value(11.274002099240244)],
    ['mixed_returns', mixedReturns, DAILY, value(1.9135925373194231)],
    ['flat_line_1_tz', flatLine1Tz, DAILY, value(11.274002099240256)],
    ['flat_line_yearly', flatLineYearly, YEARLY, value(0.03)],
  ])('test_cagr %s', (_name, returns, annualization, expected) => {
    expect(annualReturn(returns, { annualization })).toEqual(expected);
  });

  it('is null when the equity ends negative, where a fractional power has no real value', () => {
    // hand: Π(1 + r) = 1 − 1.5 = −0.5, and (−0.5)^(252/5) has no real value.
    expect(annualReturn([-1.5, 0, 0, 0, 0])).toEqual(nothing('non_finite'));
  });
});

describe('annualVolatility (empyrical annual_volatility)', () => {
  // empyrical-reloaded tests/test_stats.py test_annual_volatility
  it.each([
    ['flat_line_1_tz', flatLine1Tz, DAILY, value(0)],
    ['mixed_returns', mixedReturns, DAILY, value(0.9136465399704637)],
    ['weekly_returns', weeklyReturns, WEEKLY, value(0.38851569394870583)],
    ['monthly_returns', monthlyReturns, MONTHLY, value(0.18663690238892558)],
  ])('%s', (_name, returns, annualization, expected) => {
    expect(annualVolatility(returns, { annualization })).toEqual(expected);
  });

  it('needs two periods', () => {
    // empyrical annual_volatility: `if len(returns) < 2: return np.nan`.
    expect(annualVolatility(oneReturn)).toEqual(nothing('too_few_returns'));
  });
});

describe('calmar (empyrical calmar_ratio)', () => {
  // empyrical-reloaded tests/test_stats.py test_calmar
  it.each([
    ['empty_returns', emptyReturns, DAILY, nothing('no_returns')],
    ['one_return', oneReturn, DAILY, nothing('no_drawdown')],
    ['mixed_returns', mixedReturns, DAILY, value(19.135925373194233)],
    ['weekly_returns', weeklyReturns, WEEKLY, value(2.4690830513998208)],
    ['monthly_returns', monthlyReturns, MONTHLY, value(0.52242061386048144)],
  ])('%s', (_name, returns, annualization, expected) => {
    expect(calmar(returns, { annualization })).toEqual(expected);
  });
});

describe('omega (empyrical omega_ratio)', () => {
  // empyrical-reloaded tests/test_stats.py test_omega; requiredReturn is annual, annualization 252.
  it.each([
    ['empty_returns', emptyReturns, 0, 0, nothing('no_returns')],
    ['one_return', oneReturn, 0, 0, nothing('too_few_returns')],
    ['mixed_returns, required 10', mixedReturns, 0, 10, value(0.83354263497557934)],
    ['mixed_returns, required -10', mixedReturns, 0, -10, nothing('required_return_too_low')],
    // risk_free = flat_line_1, a constant 0.01 per period.
    ['mixed_returns, riskFree flat_line_1', mixedReturns, 0.01, 0, value(0.8125)],
    ['positive_returns, riskFree 0.01', positiveReturns, 0.01, 0, nothing('no_downside')],
    ['positive_returns, riskFree 0.011', positiveReturns, 0.011, 0, value(1.125)],
    ['positive_returns, riskFree 0.02', positiveReturns, 0.02, 0, value(0)],
    ['negative_returns, riskFree 0.01', negativeReturns, 0.01, 0, value(0)],
  ])('%s', (_name, returns, riskFree, requiredReturn, expected) => {
    expect(omega(returns, { riskFree, requiredReturn, annualization: DAILY })).toEqual(expected);
  });

  it('takes requiredReturn per period as it is when annualization is 1', () => {
    // hand: threshold 0.02 on positive_returns leaves d = [-0.01, 0, -0.01 × 7]: no gain, loss 0.08 → 0.
    // empyrical omega_ratio: `if annualization == 1: return_threshold = required_return`.
    expect(omega(positiveReturns, { requiredReturn: 0.02, annualization: 1 })).toEqual(value(0));
  });
});

describe('tailRatio (empyrical tail_ratio)', () => {
  // empyrical-reloaded tests/test_stats.py test_tail_ratio (asserted there to 1 decimal place)
  it.each([
    ['empty_returns', emptyReturns, nothing('no_returns')],
    ['one_return', oneReturn, value(1, 1)],
    ['mixed_returns', mixedReturns, value(0.9473684210526313, 1)],
  ])('%s', (_name, returns, expected) => {
    expect(tailRatio(returns)).toEqual(expected);
  });

  it('skips the missing period and interpolates linearly', () => {
    // hand: mixed_returns without its nan, sorted: [-0.10, -0.04, 0.01, 0.01, 0.02, 0.02, 0.03, 0.10].
    // p95 at rank 0.95·7 = 6.65 → 0.03 + 0.65·0.07 = 0.0755; p5 at 0.35 → -0.10 + 0.35·0.06 = -0.079.
    // (The published 0.947… = 0.072/0.076 is the same series with the nan read as 0, within its 1-place tolerance.)
    expect(tailRatio(mixedReturns)).toEqual(value(0.0755 / 0.079, 12));
  });

  it('is null when the 5th percentile is 0', () => {
    // hand: simple_benchmark's p5 lies between two zeros; empyrical would divide by 0 (inf).
    expect(tailRatio(simpleBenchmark)).toEqual(nothing('zero_left_tail'));
  });
});

describe('valueAtRisk (empyrical value_at_risk)', () => {
  // empyrical-reloaded tests/test_stats.py test_value_at_risk (assert_almost_equal, 7 places)
  it.each([
    [[1, 2], 0, 1],
    [[1, 2], 0.3, 1.3],
    [[1, 2], 1, 2],
    [[1, 81, 82, 83, 84, 85], 0.1, 41],
    [[1, 81, 82, 83, 84, 85], 0.2, 81],
    [[1, 81, 82, 83, 84, 85], 0.3, 81.5],
  ])('%j at cutoff %d', (returns, cutoff, expected) => {
    expect(valueAtRisk(returns, { cutoff })).toEqual(value(expected, 7));
  });

  it('defaults the cutoff to 0.05 and skips missing periods', () => {
    // hand: as in the tail-ratio case, p5 of mixed_returns without its nan is -0.079.
    expect(valueAtRisk(mixedReturns)).toEqual(value(-0.079, 12));
    expect(valueAtRisk(emptyReturns)).toEqual(nothing('no_returns'));
  });
});

describe('cumReturn (empyrical cum_returns_final)', () => {
  // empyrical-reloaded tests/test_stats.py test_cum_returns_final (asserted there to 4 places)
  it.each([
    ['empty_returns', emptyReturns, nothing('no_returns')],
    ['one_return', oneReturn, value(0.01, 4)],
    ['mixed_returns', mixedReturns, value(0.03893, 4)],
    ['negative_returns', negativeReturns, value(-0.3659, 4)],
  ])('%s', (_name, returns, expected) => {
    expect(cumReturn(returns)).toEqual(expected);
  });
});

describe('drawdown series, duration and recovery', () => {
  it('compounds from a starting equity of 1, which is the first peak', () => {
    // empyrical-reloaded tests/test_stats.py test_cum_returns, mixed_returns with starting value 0:
    // [0.0, 0.01, 0.111, 0.066559, 0.08789, 0.12052, 0.14293, 0.15436, 0.03893]; the drawdown at the
    // -4% period is (1.066559 − 1.111)/1.111 = −0.04 (hand).
    const dd = drawdownSeries(mixedReturns);
    expect(dd).toHaveLength(10);
    expect(dd[0]).toBe(0);
    expect(dd[4]).toBeCloseTo(-0.04, 12);
    expect(dd[9]).toBeCloseTo(-0.1, 12);
  });

  it('finds peak, trough and an unrecovered end (udu_returns)', () => {
    // hand: equity 1, 1.1, 0.99, 1.089 → peak at point 1, trough at 2, 1.089 < 1.1 never recovers;
    // under water from point 1 to the end (point 3): 2 periods.
    expect(drawdownDetails(uduReturns)).toEqual({
      maxDrawdown: value(-0.1),
      peakIndex: 1,
      troughIndex: 2,
      recoveryIndex: null,
      declinePeriods: { value: 1 },
      recoveryPeriods: nothing('not_recovered'),
      durationPeriods: nothing('not_recovered'),
      longestUnderwaterPeriods: { value: 2 },
    });
  });

  it('measures recovery and duration of a recovered drawdown', () => {
    // hand: equity 1, 1.1, 0.55, 0.825, 1.2375, 1.36125 → peak 1, trough 2 (−50%), back above 1.1 at 4.
    expect(drawdownDetails([0.1, -0.5, 0.5, 0.5, 0.1])).toEqual({
      maxDrawdown: value(-0.5),
      peakIndex: 1,
      troughIndex: 2,
      recoveryIndex: 4,
      declinePeriods: { value: 1 },
      recoveryPeriods: { value: 2 },
      durationPeriods: { value: 3 },
      longestUnderwaterPeriods: { value: 3 },
    });
  });

  it('counts a first-period loss from the starting equity', () => {
    // hand: equity 1, 0.9, 1.08 → peak is the start (point 0), recovered at point 2.
    const details = drawdownDetails([-0.1, 0.2]);
    expect(details.peakIndex).toBe(0);
    expect(details.durationPeriods).toEqual({ value: 2 });
  });

  it('keeps the longest stretch under water even when it is not the deepest (mixed_returns)', () => {
    // hand: from the cum_returns above, −4% at point 4 is under 1.111 (point 3) until 1.12052 at point 6:
    // 3 periods; the deepest, −10% from point 8 at point 9, is still open: 1 period.
    const details = drawdownDetails(mixedReturns);
    expect(details).toMatchObject({ peakIndex: 8, troughIndex: 9, recoveryIndex: null });
    expect(details.longestUnderwaterPeriods).toEqual({ value: 3 });
  });

  it('reports no drawdown for a rising series and no returns for an empty one', () => {
    expect(drawdownDetails(positiveReturns)).toMatchObject({
      maxDrawdown: { value: 0 },
      peakIndex: null,
      durationPeriods: nothing('no_drawdown'),
      longestUnderwaterPeriods: { value: 0 },
    });
    expect(drawdownDetails(emptyReturns).maxDrawdown).toEqual(nothing('no_returns'));
  });
});

describe('returnMetrics', () => {
  it('computes every metric with the options each one takes', () => {
    const all = returnMetrics(weeklyReturns, { annualization: WEEKLY, requiredReturn: 0.1 });
    expect(Object.keys(all)).toEqual([...RETURN_METRIC_NAMES]);
    // empyrical-reloaded tests/test_stats.py test_downside_risk (weekly_returns, 0.1, WEEKLY)
    expect(all.downsideRisk).toEqual(value(0.7733045971672482));
    // test_annual_volatility / test_calmar (weekly_returns, WEEKLY)
    expect(all.annualVolatility).toEqual(value(0.38851569394870583));
    expect(all.calmar).toEqual(value(2.4690830513998208));
  });

  it('rejects parameters outside their domain', () => {
    expect(() => sharpe(mixedReturns, { annualization: 0 })).toThrow(RangeError);
    expect(() => valueAtRisk(mixedReturns, { cutoff: 1.5 })).toThrow(RangeError);
  });
});
