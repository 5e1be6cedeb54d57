/**
 * The analyzer reads the trade metrics straight from its columns (columnTradeMetrics), without a
 * record per outcome. Every figure must be the one the definitions give, written here the plain
 * way (filter, map, sort, sum per metric over records), to the last bit, for any rows: unfilled
 * outcomes, missing (NaN) fields, draws, ties, buffers reused from a larger group before.
 * Likewise the insight rules' samples, taken as views of one sample per group: the same as
 * copying each range's filled trades out of the columns.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { columnTradeMetrics, TradeMetricsBuffers } from '../../src/analysis/columnTradeMetrics.ts';
import { outcomeColumns, type OutcomeRow } from '../../src/analysis/outcomeColumns.ts';
import { groupSample, sampleFromColumns, sampleOfRange } from '../../src/analysis/tradeSample.ts';
import { metric, nullMetric, type MetricValue } from '../../src/metrics/metricValue.ts';
import { OUTCOME_CODES } from '../../src/metrics/tradeRecord.ts';

const UNFILLED = new Set(['EXPIRED', 'CANCELLED', 'INVALID_AT_FILL']);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]): number => sum(xs) / xs.length;

/** numpy's linear percentile over a sorted copy. */
function percentile(xs: number[], p: number): number {
  const v = [...xs].sort((a, b) => a - b);
  const index = (p / 100) * (v.length - 1);
  const lo = Math.floor(index);
  const t = index - lo;
  const a = v[lo]!;
  const b = lo + 1 < v.length ? v[lo + 1]! : a;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

function sampleStd(xs: number[]): number {
  if (xs.every((x) => x === xs[0])) return 0;
  const m = mean(xs);
  return Math.sqrt(sum(xs.map((x) => (x - m) * (x - m))) / (xs.length - 1));
}

function summary(xs: number[], reason: Parameters<typeof nullMetric>[0]): MetricValue[] {
  if (xs.length === 0) return [nullMetric(reason), nullMetric(reason), nullMetric(reason)];
  return [metric(mean(xs)), metric(percentile(xs, 50)), metric(percentile(xs, 90))];
}

function longest(values: number[], sign: number): number {
  let best = 0;
  let run = 0;
  for (const v of values) {
    run = Math.sign(v) === sign ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best;
}

function decile(c: number): number {
  let i = Math.min(9, Math.max(0, Math.floor(c * 10)));
  if (i > 0 && c < i / 10) i--;
  else if (i < 9 && c >= (i + 1) / 10) i++;
  return i;
}

interface Trade {
  netReturn: number;
  holdingMs: number;
  rMultiple: number;
  mfe: number;
  mae: number;
  confidence: number;
}

/** Every figure of tradeMetrics as its definition states it. */
function plain(trades: Trade[]): Record<string, unknown> {
  const values = trades.map((t) => t.netReturn);
  const won = values.filter((v) => v > 0);
  const lost = values.filter((v) => v < 0);
  const n = values.length;
  const none = nullMetric('no_trades');
  const avgWin = won.length > 0 ? sum(won) / won.length : 0;
  const avgLoss = lost.length > 0 ? Math.abs(sum(lost)) / lost.length : 0;
  const finite = (pick: (t: Trade) => number): number[] => trades.map(pick).filter(Number.isFinite);
  const [holdingMsMean, holdingMsMedian, holdingMsP90] = summary(
    finite((t) => t.holdingMs),
    'no_holding_times',
  );
  const [mfeMean, mfeMedian] = summary(
    finite((t) => t.mfe),
    'no_excursions',
  );
  const [maeMean, maeMedian] = summary(
    finite((t) => t.mae),
    'no_excursions',
  );
  const rs = finite((t) => t.rMultiple);
  const forecasts = trades
    .filter((t) => Number.isFinite(t.confidence))
    .map((t) => ({ confidence: t.confidence, won: t.netReturn > 0 ? 1 : 0 }));
  const buckets = Array.from({ length: 10 }, (_, i) => forecasts.filter((f) => decile(f.confidence) === i));
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
          : sampleStd(values) === 0
            ? nullMetric('zero_deviation')
            : metric((Math.sqrt(n) * mean(values)) / sampleStd(values)),
    maxConsecutiveWins: longest(values, 1),
    maxConsecutiveLosses: longest(values, -1),
    holdingMsMean,
    holdingMsMedian,
    holdingMsP90,
    avgR: rs.length === 0 ? nullMetric('no_r_multiples') : metric(mean(rs)),
    mfeMean,
    mfeMedian,
    maeMean,
    maeMedian,
    brierScore:
      forecasts.length === 0
        ? nullMetric('no_confidence')
        : metric(mean(forecasts.map((f) => (f.confidence - f.won) ** 2))),
    calibration: buckets.map((b, i) => ({
      lower: i / 10,
      upper: (i + 1) / 10,
      count: b.length,
      meanConfidence: b.length === 0 ? null : mean(b.map((f) => f.confidence)),
      hitRate: b.length === 0 ? null : mean(b.map((f) => f.won)),
    })),
  };
}

const maybe = (x: fc.Arbitrary<number>): fc.Arbitrary<number | null> =>
  fc.oneof(x, fc.constant(null), fc.constant(Number.NaN));
const small = fc.oneof(fc.double({ min: -2, max: 2, noNaN: true }), fc.constantFrom(0, -0, 0.01, -0.01));

const outcomeRow: fc.Arbitrary<OutcomeRow> = fc
  .record({
    closedAt: fc.integer({ min: 0, max: 50 }),
    outcome: fc.constantFrom(...OUTCOME_CODES),
    netReturn: maybe(small),
    rMultiple: maybe(small),
    holdingMs: maybe(fc.integer({ min: 0, max: 10_000 })),
    mfe: maybe(fc.double({ min: 0, max: 1, noNaN: true })),
    mae: maybe(fc.double({ min: -1, max: 0, noNaN: true })),
    confidence: maybe(
      fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.1, 0.3, 0.7, 1)),
    ),
  })
  .map((r): OutcomeRow => [
    't1',
    's1',
    'm1',
    'v1',
    'AAA',
    '1h',
    r.closedAt,
    null,
    r.outcome,
    r.netReturn,
    r.rMultiple,
    r.holdingMs,
    r.mfe,
    r.mae,
    r.confidence,
    0,
    false,
    null,
  ]);

describe('columnTradeMetrics', () => {
  it('gives every trade figure exactly as the plain definitions over records do, buffers reused', () => {
    const buffers = new TradeMetricsBuffers();
    fc.assert(
      fc.property(fc.array(outcomeRow, { maxLength: 80 }), fc.nat(), fc.nat(), (rows, a, b) => {
        const c = outcomeColumns(rows);
        const order = Int32Array.from({ length: c.length }, (_, i) => i);
        const lo = c.length === 0 ? 0 : a % (c.length + 1);
        const hi = c.length === 0 ? 0 : lo + (b % (c.length - lo + 1));
        const trades: Trade[] = [];
        for (let p = lo; p < hi; p++) {
          const i = order[p]!;
          const code = OUTCOME_CODES[c.outcome[i]!]!;
          if (UNFILLED.has(code) || !Number.isFinite(c.netReturn[i]!)) continue;
          trades.push({
            netReturn: c.netReturn[i]!,
            holdingMs: c.holdingMs[i]!,
            rMultiple: c.rMultiple[i]!,
            mfe: c.mfe[i]!,
            mae: c.mae[i]!,
            confidence: c.confidence[i]!,
          });
        }
        const mix = nullMetric('no_outcomes');
        const got = columnTradeMetrics(c, order, lo, hi, mix, buffers) as unknown as Record<string, unknown>;
        expect(got.records).toBe(hi - lo);
        expect(got.outcomeMix).toBe(mix);
        for (const [name, expected] of Object.entries(plain(trades))) {
          expect(got[name], name).toStrictEqual(expected);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('sampleOfRange', () => {
  it('equals sampleFromColumns for every range of a group, empty ranges and unfilled rows included', () => {
    fc.assert(
      fc.property(
        fc.array(outcomeRow, { maxLength: 40 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        (rows, pick) => {
          const c = outcomeColumns(rows);
          // A group: some of the rows, in close order.
          const groupRows = Int32Array.from(
            Array.from({ length: c.length }, (_, i) => i).filter((i) => pick[i] ?? true),
          );
          const g = groupSample(c, groupRows);
          for (let from = 0; from <= groupRows.length; from++) {
            for (let to = from; to <= groupRows.length; to++) {
              expect(sampleOfRange(g, from, to), `${from}..${to}`).toStrictEqual(
                sampleFromColumns(c, groupRows, from, to),
              );
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
