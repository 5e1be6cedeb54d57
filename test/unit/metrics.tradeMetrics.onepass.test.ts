/**
 * tradeMetrics computes every metric from one filter and one tally of the results (the analyzer
 * calls it for every group and window). Its figures must be those of the definitions, written
 * here the plain way (filter, map, sum per metric), to the last bit, for any records: unfilled
 * outcomes, draws, missing and non-finite fields, pnl given or not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { metric, nullMetric, type MetricValue } from '../../src/metrics/metricValue.ts';
import { mean, sampleStd } from '../../src/metrics/stats.ts';
import { tradeMetrics } from '../../src/metrics/tradeMetrics.ts';
import { OUTCOME_CODES, type TradeRecord } from '../../src/metrics/tradeRecord.ts';

const UNFILLED = new Set(['EXPIRED', 'CANCELLED', 'INVALID_AT_FILL']);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** The PnL metrics as their definitions state them, one filter and map each. */
function plain(records: TradeRecord[]): Record<string, MetricValue | number> {
  const filled = records.filter((r) => r.outcome === undefined || !UNFILLED.has(r.outcome));
  const values = filled.map((r) => r.pnl ?? r.netReturn);
  const won = values.filter((v) => v > 0);
  const lost = values.filter((v) => v < 0);
  const n = values.length;
  const none = nullMetric('no_trades');
  const avgWin = won.length > 0 ? sum(won) / won.length : 0;
  const avgLoss = lost.length > 0 ? Math.abs(sum(lost)) / lost.length : 0;
  const sd = n >= 2 ? sampleStd(values) : Number.NaN;
  return {
    trades: n,
    wins: won.length,
    losses: lost.length,
    draws: values.filter((v) => v === 0).length,
    winRate: n === 0 ? none : metric(won.length / n),
    profitFactor:
      n === 0 ? none : lost.length === 0 ? nullMetric('no_losses') : metric(sum(won) / Math.abs(sum(lost))),
    avgWin: n === 0 ? none : won.length === 0 ? nullMetric('no_wins') : metric(mean(won)),
    avgLoss: n === 0 ? none : lost.length === 0 ? nullMetric('no_losses') : metric(avgLoss),
    payoffRatio: n === 0 ? none : avgLoss === 0 ? nullMetric('no_losses') : metric(avgWin / avgLoss),
    expectancy: n === 0 ? none : metric(mean(values)),
    expectancyRatio:
      n === 0
        ? none
        : avgLoss === 0
          ? nullMetric('no_losses')
          : metric((1 + avgWin / avgLoss) * (won.length / n) - 1),
    sqn:
      n === 0
        ? none
        : n < 2
          ? nullMetric('too_few_trades')
          : sd === 0
            ? nullMetric('zero_deviation')
            : metric((Math.sqrt(n) * mean(values)) / sd),
  };
}

const value = fc.oneof(
  fc.double({ min: -2, max: 2, noNaN: true }),
  fc.constantFrom(0, 0.01, -0.01, Number.NaN),
);
const record: fc.Arbitrary<TradeRecord> = fc.record(
  {
    netReturn: value,
    pnl: value,
    outcome: fc.constantFrom(...OUTCOME_CODES),
    holdingMs: fc.double({ min: 0, max: 1e7 }),
    rMultiple: fc.oneof(value, fc.constant(null)),
    mfe: fc.double({ min: 0, max: 1, noNaN: true }),
    mae: fc.double({ min: -1, max: 0, noNaN: true }),
    confidence: fc.double({ min: 0, max: 1, noNaN: true }),
  },
  { requiredKeys: ['netReturn'] },
);

describe('tradeMetrics in one pass', () => {
  it('gives every PnL figure exactly as the plain definitions do', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), (records) => {
        const got = tradeMetrics(records) as unknown as Record<string, unknown>;
        const want = plain(records);
        for (const [name, expected] of Object.entries(want)) expect(got[name], name).toStrictEqual(expected);
      }),
      { numRuns: 400 },
    );
  });
});
