/**
 * Windows, groups, daily returns and the whole pure analysis on a small data set whose every
 * figure is worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { analyzeJobId, analyzeJobSchema } from '../../src/analyzer/analyzeJob.ts';
import { computeAnalysis, insightDedupKey, type MetricsRow } from '../../src/analysis/computeAnalysis.ts';
import { dailyReturns, tradeContribution } from '../../src/analysis/dailyReturns.ts';
import { groupRows, lowerBound } from '../../src/analysis/groups.ts';
import { modelGroupKey, outcomeColumns, type OutcomeRow } from '../../src/analysis/outcomeColumns.ts';
import { sampleFromColumns } from '../../src/analysis/tradeSample.ts';
import { ceilDay, DAY_MS, floorDay, windowEnds } from '../../src/analysis/windows.ts';

const T = (iso: string): number => Date.parse(iso);

interface RowSpec {
  tenant?: string;
  strategy?: string | null;
  model?: string | null;
  modelVersion?: string | null;
  symbol?: string;
  timeframe?: string | null;
  closedAt: string;
  createdAt?: string;
  outcome: string;
  netReturn?: number | null;
  rMultiple?: number | null;
  holdingMs?: number | null;
  confidence?: number | null;
  maxTpLevel?: number;
  continuedAfterTp1?: boolean;
  closeStopKind?: string | null;
}

function row(s: RowSpec): OutcomeRow {
  return [
    s.tenant ?? 't1',
    s.strategy === undefined ? 's1' : s.strategy,
    s.model === undefined ? 'm1' : s.model,
    s.modelVersion === undefined ? 'v1' : s.modelVersion,
    s.symbol ?? 'AAA',
    s.timeframe === undefined ? '1h' : s.timeframe,
    T(s.closedAt),
    s.createdAt ? T(s.createdAt) : null,
    s.outcome,
    s.netReturn ?? null,
    s.rMultiple ?? null,
    s.holdingMs ?? null,
    null,
    null,
    s.confidence ?? null,
    s.maxTpLevel ?? 0,
    s.continuedAfterTp1 ?? false,
    s.closeStopKind ?? null,
  ];
}

// The data set. Window end: 2025-03-10T00:00Z.
const ROWS: OutcomeRow[] = [
  row({ closedAt: '2025-02-20T08:00:00Z', outcome: 'EXPIRED' }), // 0: t1 s1 m1/v1 AAA, never filled
  row({
    closedAt: '2025-03-05T09:00:00Z',
    outcome: 'TP_HIT',
    strategy: 's2',
    model: 'm2',
    modelVersion: null,
    timeframe: null,
    netReturn: 0.015,
  }), // 1: no R
  row({
    closedAt: '2025-03-09T01:00:00Z',
    outcome: 'TIME_EXIT',
    strategy: null,
    model: null,
    symbol: 'CCC',
    netReturn: 0.001,
    rMultiple: 0.1,
  }), // 2
  row({
    tenant: 't2',
    closedAt: '2025-03-09T05:00:00Z',
    outcome: 'SL_HIT',
    netReturn: -0.005,
    rMultiple: -0.5,
  }), // 3
  row({
    closedAt: '2025-03-09T10:00:00Z',
    outcome: 'TP_HIT',
    netReturn: 0.02,
    rMultiple: 2,
    confidence: 0.7,
  }), // 4
  row({
    closedAt: '2025-03-09T11:00:00Z',
    outcome: 'SL_HIT',
    symbol: 'BBB',
    netReturn: -0.01,
    rMultiple: -1,
    confidence: 0.6,
    closeStopKind: 'initial',
  }), // 5
  row({ closedAt: '2025-03-10T00:00:00Z', outcome: 'TP_HIT', netReturn: 0.5, rMultiple: 50 }), // 6: at the end, excluded
];
const END = T('2025-03-10T00:00:00Z');

describe('windows', () => {
  it('aligns window ends to UTC midnights', () => {
    expect(floorDay(T('2025-03-09T12:34:56Z'))).toBe(T('2025-03-09T00:00:00Z'));
    expect(ceilDay(T('2025-03-09T12:34:56Z'))).toBe(END);
    expect(ceilDay(END)).toBe(END);
  });

  it('computes the running day, and also the day before within the settle period after midnight', () => {
    const settle = 2 * 3_600_000;
    expect(windowEnds(T('2025-03-09T12:00:00Z'), settle)).toEqual([END]);
    // At midnight exactly the day that just ended is the running one: nothing to settle.
    expect(windowEnds(END, settle)).toEqual([END]);
    expect(windowEnds(END + 3_600_000, settle)).toEqual([END, END + DAY_MS]);
    expect(windowEnds(END + settle, settle)).toEqual([END + DAY_MS]);
  });
});

describe('outcomeColumns and groups', () => {
  const columns = outcomeColumns(ROWS);

  it('encodes keys, keeps close order per tenant and marks missing numbers NaN', () => {
    expect(columns.length).toBe(7);
    expect(columns.tenants).toEqual(['t1', 't2']);
    expect(columns.keys.model.names).toEqual([modelGroupKey('m1', 'v1'), modelGroupKey('m2', null)]);
    expect(columns.keys.model.values[1]).toEqual({ model: 'm2', modelVersion: null });
    expect(columns.keys.strategy.ids[2]).toBe(-1);
    expect(Number.isNaN(columns.netReturn[0]!)).toBe(true);
  });

  it('sorts rows that arrive out of close order', () => {
    const shuffled = outcomeColumns([ROWS[5]!, ROWS[1]!, ROWS[4]!]);
    expect([...shuffled.closedAt]).toEqual([
      T('2025-03-05T09:00:00Z'),
      T('2025-03-09T10:00:00Z'),
      T('2025-03-09T11:00:00Z'),
    ]);
    expect(shuffled.keys.symbol.names[shuffled.keys.symbol.ids[2]!]).toBe('BBB');
  });

  it('groups per tenant, leaving out outcomes without the key', () => {
    const strategies = groupRows(columns, 'strategy').map((g) => [g.tenant, g.key, [...g.rows]]);
    expect(strategies).toEqual([
      ['t1', 's1', [0, 4, 5, 6]],
      ['t1', 's2', [1]],
      ['t2', 's1', [3]],
    ]);
    expect(groupRows(columns, 'all').map((g) => [g.tenant, g.key, g.rows.length])).toEqual([
      ['t1', 'all', 6],
      ['t2', 'all', 1],
    ]);
    expect(groupRows(columns, 'timeframe').map((g) => g.rows.length)).toEqual([5, 1]); // row 1 has none
  });

  it('finds window bounds by binary search', () => {
    const [all] = groupRows(columns, 'all');
    expect(lowerBound(all!.rows, columns.closedAt, T('2025-03-09T00:00:00Z'))).toBe(2);
    expect(lowerBound(all!.rows, columns.closedAt, END)).toBe(5);
    expect(lowerBound(all!.rows, columns.closedAt, END + 1)).toBe(6);
  });

  it('samples only filled trades with a result', () => {
    const [all] = groupRows(columns, 'all');
    const s = sampleFromColumns(columns, all!.rows, 0, 5);
    expect(s.n).toBe(4); // the EXPIRED row is left out
    expect([...s.result]).toEqual([0.015, 0.001, 0.02, -0.01]);
    expect(s.closeStopKind[3]).toBe(1);
  });
});

describe('daily returns', () => {
  const columns = outcomeColumns(ROWS);
  const [all] = groupRows(columns, 'all');

  it('adds f · R per trade, f · netReturn without an R, on the day it closed', () => {
    // 7 days from 03-03: 03-05 (day 2): 0.01 · 0.015 = 0.00015 (no R);
    // 03-09 (day 6): 0.01 · (0.1 + 2 − 1) = 0.011. The EXPIRED row (02-20) is outside and unfilled.
    const s = dailyReturns(columns, all!.rows, 0, 5, END - 7 * DAY_MS, END);
    expect(s.returns.map((r) => Number(r.toFixed(12)))).toEqual([0, 0, 0.00015, 0, 0, 0, 0.011]);
    expect(s).toMatchObject({ fromRMultiple: 3, fromNetReturn: 1, unsized: 0 });
  });

  it('sizes by notional under equal_notional', () => {
    const s = dailyReturns(columns, all!.rows, 0, 5, END - DAY_MS, END, {
      sizing: 'equal_notional',
      riskFraction: 0.02,
    });
    // 0.02 · (0.001 + 0.02 − 0.01) = 0.00022.
    expect(s.returns[0]).toBeCloseTo(0.00022, 15);
    expect(s.fromNetReturn).toBe(3);
  });

  it('leaves out a trade with neither R nor net return', () => {
    expect(tradeContribution(NaN, NaN, { sizing: 'equal_risk', riskFraction: 0.01 })).toBeNaN();
    expect(tradeContribution(1.5, 0.03, { sizing: 'equal_risk', riskFraction: 0.01 })).toBe(0.015);
  });
});

describe('computeAnalysis', () => {
  const { metrics, insights } = computeAnalysis(outcomeColumns(ROWS), { ends: [END] });
  const find = (tenant: string, window: string, kind: string, key: string): MetricsRow | undefined =>
    metrics.find(
      (m) => m.tenant === tenant && m.windowName === window && m.groupKind === kind && m.groupKey === key,
    );

  it('computes the 1d window of all signals by hand', () => {
    const m = find('t1', '1d', 'all', 'all')!;
    expect(m).toMatchObject({ windowStart: END - DAY_MS, windowEnd: END, sampleCount: 3, groupValues: {} });
    // 03-09: +0.001, +0.02, −0.01: 2 wins of 3; expectancy 0.011/3; one day of 0.011.
    expect(m.metrics).toMatchObject({ records: 3, trades: 3, wins: 2, losses: 1, days: 1 });
    expect(m.metrics.winRate).toBeCloseTo(2 / 3, 12);
    expect(m.metrics.expectancy).toBeCloseTo(0.011 / 3, 12);
    expect(m.metrics.cumReturn).toBeCloseTo(0.011, 12);
    expect(m.metrics.sharpe).toBeNull();
    expect(m.metrics.nullReasons).toMatchObject({ sharpe: 'too_few_returns' });
    expect(m.metrics.sizing).toEqual({
      convention: 'equal_risk',
      riskFraction: 0.01,
      annualization: 365,
      fromRMultiple: 3,
      fromNetReturn: 0,
      unsized: 0,
    });
  });

  it('computes the 7d series and the 30d window with an unfilled outcome', () => {
    // (1 + 0.00015)(1 + 0.011) − 1 = 0.01115165.
    expect(find('t1', '7d', 'all', 'all')!.metrics.cumReturn).toBeCloseTo(0.01115165, 12);
    const m30 = find('t1', '30d', 'all', 'all')!;
    expect(m30).toMatchObject({ sampleCount: 5, windowStart: END - 30 * DAY_MS });
    expect(m30.metrics).toMatchObject({ records: 5, trades: 4, days: 30 });
    expect(m30.metrics.outcomeMix).toMatchObject({ EXPIRED: 0.2, TP_HIT: 0.4, SL_HIT: 0.2, TIME_EXIT: 0.2 });
  });

  it('starts all-time and rolling windows on the day of their first outcome', () => {
    const all = find('t1', 'all', 'all', 'all')!;
    expect(all).toMatchObject({ windowStart: T('2025-02-20T00:00:00Z'), sampleCount: 5 });
    expect(all.metrics.days).toBe(18);
    expect(find('t1', 'rolling', 'all', 'all')).toMatchObject({
      windowStart: T('2025-02-20T00:00:00Z'),
      sampleCount: 5,
    });
    const rolling = computeAnalysis(outcomeColumns(ROWS), {
      ends: [END],
      windows: ['rolling'],
      rollingCount: 2,
    });
    expect(rolling.metrics.find((m) => m.tenant === 't1' && m.groupKind === 'all')).toMatchObject({
      windowStart: T('2025-03-09T00:00:00Z'),
      sampleCount: 2,
    });
  });

  it('skips groups without outcomes in a window but keeps every tenant’s all group', () => {
    expect(find('t1', '1d', 'strategy', 's2')).toBeUndefined();
    expect(find('t1', '7d', 'strategy', 's2')).toMatchObject({
      sampleCount: 1,
      groupValues: { strategy: 's2' },
    });
    expect(find('t1', '1d', 'model', modelGroupKey('m1', 'v1'))).toMatchObject({
      sampleCount: 2,
      groupValues: { model: 'm1', modelVersion: 'v1' },
    });
    const none = computeAnalysis(outcomeColumns(ROWS), {
      ends: [END - 20 * DAY_MS],
      windows: ['1d'],
      groupKinds: ['all'],
    });
    expect(none.metrics.map((m) => [m.tenant, m.sampleCount])).toEqual([
      ['t1', 0],
      ['t2', 0],
    ]);
    expect(none.metrics[0]!.metrics.nullReasons).toMatchObject({
      winRate: 'no_trades',
      outcomeMix: 'no_outcomes',
    });
  });

  it('emits one row per (window, group) and nothing past the window end', () => {
    const keys = metrics.map((m) => `${m.tenant}|${m.windowName}|${m.groupKind}|${m.groupKey}`);
    expect(new Set(keys).size).toBe(keys.length);
    // Row 6 closes exactly at the end (exclusive): its +50 R never shows.
    expect(
      metrics.every((m) => (m.metrics.avgR as number | null) === null || (m.metrics.avgR as number) < 3),
    ).toBe(true);
    expect(insights).toEqual([]); // far too few trades for any rule
  });

  it('builds stable dedup keys', () => {
    expect(insightDedupKey('losing_symbol', 'strategy', 's1', 'AAA')).toBe('losing_symbol|strategy|s1|AAA');
    expect(insightDedupKey('brier_rising', 'all', 'all')).toBe('brier_rising|all|all');
  });

  it('raises insights with their group and window', () => {
    // 60 stops hit after 1 min on 03-09 for strategy s9: stops_too_tight on all, strategy and model groups.
    const rows = Array.from({ length: 60 }, (_, i) =>
      row({
        strategy: 's9',
        closedAt: new Date(T('2025-03-09T00:00:00Z') + i * 60_000).toISOString(),
        outcome: 'SL_HIT',
        netReturn: -0.01,
        rMultiple: -1,
        holdingMs: 60_000,
        closeStopKind: 'initial',
      }),
    );
    const found = computeAnalysis(outcomeColumns(rows), { ends: [END], windows: ['1d'] }).insights;
    expect(found.map((i) => i.dedupKey).sort()).toEqual([
      'stops_too_tight|all|all',
      `stops_too_tight|model|${modelGroupKey('m1', 'v1')}`,
      'stops_too_tight|strategy|s9',
    ]);
    expect(found[0]).toMatchObject({
      tenant: 't1',
      windowName: '1d',
      windowStart: END - DAY_MS,
      windowEnd: END,
      severity: 'warning',
    });
  });
});

describe('analyze jobs', () => {
  it('derive the job id from window, group kind and slot, without colons', () => {
    expect(analyzeJobId('7d', 'strategy', new Date('2025-11-24T12:15:00.000Z'))).toBe(
      'analyze-7d-strategy-20251124T121500Z',
    );
  });

  it('accept only known windows and group kinds', () => {
    expect(
      analyzeJobSchema.safeParse({ window: '7d', groupKind: 'model', at: '2025-11-24T12:15:00Z' }).success,
    ).toBe(true);
    expect(analyzeJobSchema.safeParse({}).success).toBe(true);
    expect(analyzeJobSchema.safeParse({ window: '2d' }).success).toBe(false);
    expect(analyzeJobSchema.safeParse({ groupKind: 'side' }).success).toBe(false);
    expect(analyzeJobSchema.safeParse({ windw: '7d' }).success).toBe(false);
  });
});

describe('computeAnalysis: v1.2 return-table outcomes and currency sums', () => {
  const withMoney = (r: OutcomeRow, pnl: number | null, fees: number | null): OutcomeRow => {
    const out: OutcomeRow = [...r];
    out[18] = pnl;
    out[19] = fees;
    return out;
  };
  const rows: OutcomeRow[] = [
    withMoney(row({ closedAt: '2025-03-09T01:00:00Z', outcome: 'ROI_EXIT', netReturn: 0.01 }), 12.5, 0.75),
    withMoney(row({ closedAt: '2025-03-09T02:00:00Z', outcome: 'SL_HIT', netReturn: -0.02 }), -40, 1.25),
    row({ closedAt: '2025-03-09T03:00:00Z', outcome: 'TP_HIT', netReturn: 0.03 }), // no notional
  ];
  const { metrics } = computeAnalysis(outcomeColumns(rows), { ends: [END] });
  const all = metrics.find((m) => m.tenant === 't1' && m.windowName === '1d' && m.groupKind === 'all')!;

  it('counts ROI_EXIT in the outcome mix', () => {
    // hand: 1 of 3 each.
    expect(all.metrics.outcomeMix).toMatchObject({ ROI_EXIT: 1 / 3, SL_HIT: 1 / 3, TP_HIT: 1 / 3 });
  });

  it('sums pnl and fees over the outcomes that carry them', () => {
    // hand: 12.5 − 40 = −27.5; 0.75 + 1.25 = 2; two of the three carry them.
    expect(all.metrics).toMatchObject({ pnlSum: -27.5, feesSum: 2, currencyTrades: 2 });
  });

  it('gives null sums where no outcome carries them', () => {
    const none = computeAnalysis(outcomeColumns(ROWS), { ends: [END] }).metrics[0]!;
    expect(none.metrics).toMatchObject({ pnlSum: null, feesSum: null, currencyTrades: 0 });
  });
});
