/**
 * The charts' data (src/analysis/chartData.ts) on hand-made outcomes: the equity curve follows the
 * analyzer's sizing convention and meets its daily series at every midnight, and the other charts
 * count what the window holds, for the key's tenant only.
 */
import { describe, expect, it } from 'vitest';
import { buildChartData } from '../../src/analysis/chartData.ts';
import { computeAnalysis } from '../../src/analysis/computeAnalysis.ts';
import { dailyReturns } from '../../src/analysis/dailyReturns.ts';
import { outcomeColumns, type OutcomeRow } from '../../src/analysis/outcomeColumns.ts';
import { calibrationByDecile } from '../../src/metrics/calibration.ts';
import { DAY_MS } from '../../src/analysis/windows.ts';

const T = (iso: string): number => Date.parse(iso);

interface Spec {
  tenant?: string;
  strategy?: string;
  model?: string;
  version?: string;
  closedAt: string;
  outcome: string;
  netReturn?: number | null;
  r?: number | null;
  holdingMs?: number;
  mfe?: number;
  mae?: number;
  confidence?: number;
  pnl?: number;
  fees?: number;
}

function row(s: Spec): OutcomeRow {
  return [
    s.tenant ?? 't1',
    s.strategy ?? 's1',
    s.model ?? 'm1',
    s.version ?? 'v1',
    'BTCUSDT',
    '1h',
    T(s.closedAt),
    null,
    s.outcome,
    s.netReturn ?? null,
    s.r ?? null,
    s.holdingMs ?? null,
    s.mfe ?? null,
    s.mae ?? null,
    s.confidence ?? null,
    0,
    false,
    null,
    s.pnl ?? null,
    s.fees ?? null,
  ];
}

const END = T('2025-11-25T00:00:00Z');

const ROWS: Spec[] = [
  // Before the 7d window (18th): only in `all`.
  { closedAt: '2025-11-10T10:00:00Z', outcome: 'TP_HIT', netReturn: 0.02, r: 2 },
  // Day 1 of the 7d window: +2 R and −1 R, summed: +1 %.
  {
    closedAt: '2025-11-20T08:00:00Z',
    outcome: 'TP_HIT',
    netReturn: 0.02,
    r: 2,
    holdingMs: 3_600_000,
    mfe: 0.03,
    mae: -0.004,
    confidence: 0.85,
    pnl: 20,
    fees: 1,
  },
  {
    closedAt: '2025-11-20T15:00:00Z',
    outcome: 'SL_HIT',
    netReturn: -0.01,
    r: -1,
    holdingMs: 600_000,
    mfe: 0.002,
    mae: -0.01,
    confidence: 0.62,
    pnl: -10,
    fees: 1,
    strategy: 's2',
    version: 'v2',
  },
  // Never filled: counted in the mix only.
  { closedAt: '2025-11-21T09:00:00Z', outcome: 'EXPIRED' },
  // No stop: sized by its net return, 1 % × 1.5 %.
  {
    closedAt: '2025-11-23T12:00:00Z',
    outcome: 'TIME_EXIT',
    netReturn: 0.015,
    r: null,
    holdingMs: 2 * DAY_MS,
    mfe: 0.02,
    mae: -0.005,
    confidence: 0.3,
  },
  // Another tenant, same day: never drawn for t1.
  { tenant: 't2', closedAt: '2025-11-20T09:00:00Z', outcome: 'SL_HIT', netReturn: -0.01, r: -1 },
];

const columns = outcomeColumns(ROWS.map(row));

describe('buildChartData', () => {
  it('draws one equity point per sized trade after the start, meeting the daily series at each midnight', () => {
    const data = buildChartData(columns, { window: '7d', end: END, tenant: 't1' });
    const all = data.equity.all;
    expect(data.windowStart).toBe(END - 7 * DAY_MS);
    expect(all.trades).toBe(3);
    expect(all.t).toEqual([
      END - 7 * DAY_MS,
      T('2025-11-20T08:00:00Z'),
      T('2025-11-20T15:00:00Z'),
      T('2025-11-23T12:00:00Z'),
    ]);
    // Intraday: 1 + 0.02, then the day's sum 0.02 − 0.01; the 23rd compounds on the 20th's close.
    expect(all.equity[1]).toBeCloseTo(1.02, 12);
    expect(all.equity[2]).toBeCloseTo(1.01, 12);
    expect(all.equity[3]).toBeCloseTo(1.01 * (1 + 0.01 * 0.015), 12);
    expect(all.drawdown[2]).toBeCloseTo((1.01 - 1.02) / 1.02, 12);

    // The analyzer's daily series compounds to the same final equity.
    const t1Rows = Int32Array.from([1, 2, 3, 4]);
    const daily = dailyReturns(columns, t1Rows, 0, 4, data.windowStart, END);
    const compounded = daily.returns.reduce((e, r) => e * (1 + r), 1);
    expect(all.equity.at(-1)).toBeCloseTo(compounded, 12);
    expect(all.cumReturn).toBeCloseTo(compounded - 1, 12);
  });

  it("reports the analyzer's own max drawdown and currency sums for the group", () => {
    const data = buildChartData(columns, { window: '7d', end: END, tenant: 't1' });
    const { metrics } = computeAnalysis(columns, { ends: [END], windows: ['7d'], groupKinds: ['all'] });
    const stored = metrics.find((m) => m.tenant === 't1')!.metrics;
    expect(data.equity.all.maxDrawdownDaily).toBe(stored.maxDrawdown);
    expect(data.equity.all.pnlSum).toBe(stored.pnlSum);
    expect(data.equity.all.feesSum).toBe(stored.feesSum);
    expect(data.equity.all.currencyTrades).toBe(stored.currencyTrades);
    expect(data.equity.all.pnl.at(-1)).toBe(10);
  });

  it('splits the curves per strategy and per model version', () => {
    const data = buildChartData(columns, { window: '7d', end: END, tenant: 't1' });
    expect(data.equity.strategy.map((s) => [s.label, s.trades])).toEqual([
      ['s1', 2],
      ['s2', 1],
    ]);
    expect(data.equity.model.map((s) => [s.label, s.trades])).toEqual([
      ['m1 v1', 2],
      ['m1 v2', 1],
    ]);
    expect(data.equity.strategy[1]!.equity[1]).toBeCloseTo(0.99, 12);
  });

  it("counts the window's outcomes for the tenant only, in every chart", () => {
    const data = buildChartData(columns, { window: '7d', end: END, tenant: 't1' });
    expect(data.totals).toEqual({ outcomes: 4, trades: 3, unfilled: 1, sized: 3 });
    const mix = Object.fromEntries(data.outcomeMix.map((m) => [m.code, m.count]));
    expect(mix).toMatchObject({ TP_HIT: 1, SL_HIT: 1, TIME_EXIT: 1, EXPIRED: 1, CANCELLED: 0 });
    expect(data.rMultiple.count).toBe(2);
    expect(data.rMultiple.bins.reduce((a, b) => a + b.count, 0)).toBe(2);
    expect(data.rMultiple.mean).toBe(0.5);
    expect(data.holding.bins.reduce((a, b) => a + b.count, 0)).toBe(3);
    expect(data.holding.bins.find((b) => b.label === '1h–4h')!.count).toBe(1);
    expect(data.holding.bins.find((b) => b.label === '5m–15m')!.count).toBe(1);
    expect(data.excursions.points).toEqual([
      [-0.004, 0.03, 2, 0],
      [-0.01, 0.002, -1, 1],
      [-0.005, 0.02, null, 3],
    ]);
  });

  it('calibrates as the analyzer does, with the Brier score', () => {
    const data = buildChartData(columns, { window: '7d', end: END, tenant: 't1' });
    const expected = calibrationByDecile([
      { netReturn: 0.02, confidence: 0.85 },
      { netReturn: -0.01, confidence: 0.62 },
      { netReturn: 0.015, confidence: 0.3 },
    ]);
    expect(data.calibration.buckets).toEqual(expected);
    expect(data.calibration.forecasts).toBe(3);
    expect(data.calibration.brier).toBeCloseTo(((0.85 - 1) ** 2 + 0.62 ** 2 + (0.3 - 1) ** 2) / 3, 12);
  });

  it('starts the all-history window on the day of the first outcome and follows the filter', () => {
    const all = buildChartData(columns, { window: 'all', end: END, tenant: 't1' });
    expect(all.windowStart).toBe(T('2025-11-10T00:00:00Z'));
    expect(all.totals.outcomes).toBe(5);
    const s2 = buildChartData(columns, { window: 'all', end: END, tenant: 't1', filter: { strategy: 's2' } });
    expect(s2.windowStart).toBe(T('2025-11-20T00:00:00Z'));
    expect(s2.totals.outcomes).toBe(1);
    const v2 = buildChartData(columns, {
      window: 'all',
      end: END,
      tenant: 't1',
      filter: { modelVersion: 'v2' },
    });
    expect(v2.equity.all.trades).toBe(1);
    const none = buildChartData(columns, { window: '1d', end: END, tenant: 'nobody' });
    expect(none.totals.outcomes).toBe(0);
    expect(none.equity.all.equity).toEqual([1]);
    expect(JSON.parse(JSON.stringify(none))).toEqual(none);
  });

  it('keeps the scatter within its cap by sampling evenly, saying how many it drew', () => {
    const many = outcomeColumns(
      Array.from({ length: 50 }, (_, k) =>
        row({
          closedAt: new Date(T('2025-11-24T00:00:00Z') + k * 60_000).toISOString(),
          outcome: 'TP_HIT',
          netReturn: 0.01,
          r: 1,
          mfe: 0.01 + k / 1000,
          mae: -0.001,
        }),
      ),
    );
    const data = buildChartData(many, { window: '1d', end: END, tenant: 't1', maxScatterPoints: 10 });
    expect(data.excursions).toMatchObject({ total: 50, shown: 10 });
    expect(data.excursions.points[1]![1]).toBeCloseTo(0.015, 12);
    expect(data.equity.all.equity).toHaveLength(51);
  });

  it('thins a long equity curve to its cap, keeping the start, the end and the deepest drawdown', () => {
    const rs = Array.from({ length: 500 }, (_, k) => (k === 321 ? -8 : Math.sin(k) * 2));
    const many = outcomeColumns(
      rs.map((r, k) =>
        row({
          closedAt: new Date(T('2025-11-20T00:00:00Z') + k * 600_000).toISOString(),
          outcome: r > 0 ? 'TP_HIT' : 'SL_HIT',
          netReturn: r / 100,
          r,
        }),
      ),
    );
    const full = buildChartData(many, { window: '7d', end: END, tenant: 't1', maxEquityPoints: 10_000 })
      .equity.all;
    const thin = buildChartData(many, { window: '7d', end: END, tenant: 't1', maxEquityPoints: 41 }).equity
      .all;
    expect(full).toMatchObject({ trades: 500, thinned: false });
    expect(full.t).toHaveLength(501);
    expect(thin).toMatchObject({ trades: 500, thinned: true });
    expect(thin.t.length).toBeLessThanOrEqual(41);
    expect(thin.t[0]).toBe(full.t[0]);
    expect(thin.t.at(-1)).toBe(full.t.at(-1));
    expect(thin.equity.at(-1)).toBe(full.equity.at(-1));
    expect(Math.min(...thin.drawdown)).toBe(Math.min(...full.drawdown));
    // Every kept point is one of the full curve's, in order.
    const at = new Map(full.t.map((t, i) => [t, i]));
    const positions = thin.t.map((t) => at.get(t)!);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    positions.forEach((p, k) => expect(thin.equity[k]).toBe(full.equity[p]));
  });
});
