/**
 * What the analytics charts draw (docs/DASHBOARD.md), as plain JSON: the dashboard gets it from
 * `GET /v1/charts`, the report file inlines it, and `src/web/dashboard/assets/analytics.js` draws
 * it in both. Built from the analyzer's {@link OutcomeColumns} with the analyzer's own pieces (the
 * sizing convention of dailyReturns.ts, the drawdown of src/metrics/drawdown.ts, the calibration of
 * src/metrics/calibration.ts), so a chart never disagrees with performance_metrics.
 *
 * Equity: every filled trade in the window adds `tradeContribution` (docs/METRICS.md "Daily
 * returns: the position-sizing convention") to its UTC day; days compound. The curve has a point
 * at the window's start (equity 1) and one after each trade, in close order: inside a day the
 * equity is the day's opening equity times (1 + the contributions so far), so at each midnight
 * it equals the analyzer's compounded daily series. `maxDrawdownDaily` is the analyzer's figure
 * (daily points); the drawn drawdown follows the trades and can dip lower inside a day.
 *
 * Pure: no clock (the caller gives the window end), no I/O.
 */
import { brierScore, calibrationByDecile, type CalibrationBucket } from '../metrics/calibration.ts';
import { drawdownSeries } from '../metrics/drawdown.ts';
import { OUTCOME_CODES, type TradeRecord } from '../metrics/tradeRecord.ts';
import { DEFAULT_SIZING, dailyReturns, tradeContribution, type SizingOptions } from './dailyReturns.ts';
import { groupRows, lowerBound, type GroupKind } from './groups.ts';
import { UNFILLED_OUTCOME_INDICES, type GroupValues, type OutcomeColumns } from './outcomeColumns.ts';
import { calendarWindowStart, DAY_MS, floorDay } from './windows.ts';

/** The windows a chart can show (the analyzer's calendar windows and all history). */
export const CHART_WINDOWS = ['1d', '7d', '30d', 'all'] as const;

/** One of {@link CHART_WINDOWS}. */
export type ChartWindow = (typeof CHART_WINDOWS)[number];

/** Whether `name` is a chart window. */
export function isChartWindow(name: string): name is ChartWindow {
  return (CHART_WINDOWS as readonly string[]).includes(name);
}

/** Which outcomes the charts cover. Every filter given must match. */
export interface ChartFilter {
  strategy?: string;
  model?: string;
  modelVersion?: string;
  symbol?: string;
}

/** What {@link buildChartData} draws. */
export interface ChartDataOptions {
  window: ChartWindow;
  /** End of the window (epoch ms, exclusive); the dashboard uses the next UTC midnight, as the analyzer. */
  end: number;
  /** The tenant whose outcomes are drawn; columns holding several tenants are filtered to it. */
  tenant: string;
  filter?: ChartFilter;
  /** @defaultValue equal risk, 1 % (the analyzer's default) */
  sizing?: SizingOptions;
  /** Most MFE/MAE points drawn; beyond it an evenly spaced sample. @defaultValue 5000 */
  maxScatterPoints?: number;
  /** Most equity series per group kind (the ones with the most trades). @defaultValue 12 */
  maxSeries?: number;
  /**
   * Most points per equity curve; a longer curve is thinned ({@link EquitySeries.thinned}).
   * @defaultValue 2000
   */
  maxEquityPoints?: number;
}

/** One equity curve: a group's sized trades in the window. */
export interface EquitySeries {
  kind: GroupKind;
  /** The analyzer's group key (strategy name, `["model","version"]`, `all`). */
  key: string;
  /** For legends: `all signals`, the strategy, `model version`. */
  label: string;
  values: GroupValues;
  /** Outcomes in the window, unfilled ones included. */
  outcomes: number;
  /** Sized trades: the curve has `trades + 1` points unless {@link thinned}. */
  trades: number;
  /**
   * The curve had more than `maxEquityPoints` points and was thinned: the trades split into
   * equal runs, each keeps its deepest-drawdown point and its last point (the start and the end
   * always stay), so the drawn curve keeps every run's low and where it ended.
   */
  thinned: boolean;
  /** Epoch ms of each point: the window's start, then each trade's close. */
  t: number[];
  /** Equity (1 = the start) after each point. */
  equity: number[];
  /** Drawdown from the running peak, a fraction ≤ 0, per point. */
  drawdown: number[];
  /** Cumulative P&L in quote currency per point, over the trades that carry one (0 until the first). */
  pnl: number[];
  /** Deepest drawdown of the daily series, as performance_metrics `maxDrawdown`. */
  maxDrawdownDaily: number;
  /** Compounded return over the window (last equity − 1). */
  cumReturn: number;
  /** Sums in quote currency over the outcomes that carry them; null when none did. */
  pnlSum: number | null;
  feesSum: number | null;
  currencyTrades: number;
  /** Sum of the trades' net returns (fractions, unsized), beside the currency figures. */
  netReturnSum: number;
}

/** One histogram bin: `[lower, upper)`, the last one closed. */
export interface Bin {
  lower: number;
  upper: number;
  label: string;
  count: number;
}

/** Everything the analytics charts draw; JSON-serialisable (no NaN, no Infinity). */
export interface ChartData {
  /** Bumped when a field changes meaning. */
  version: 1;
  tenant: string;
  window: ChartWindow;
  /** Epoch ms; for `all` the UTC day of the first outcome in scope. */
  windowStart: number;
  windowEnd: number;
  filter: ChartFilter;
  sizing: {
    convention: SizingOptions['sizing'];
    riskFraction: number;
    /** The convention in one sentence, for the charts' subtitles. */
    description: string;
  };
  /** Outcomes in scope and window; `trades` = filled ones; `sized` = those on the equity curve. */
  totals: { outcomes: number; trades: number; unfilled: number; sized: number };
  equity: { all: EquitySeries; strategy: EquitySeries[]; model: EquitySeries[] };
  /** Count per outcome code, every code present, in OUTCOME_CODES order. */
  outcomeMix: { code: string; count: number }[];
  rMultiple: { bins: Bin[]; count: number; mean: number | null; median: number | null };
  holding: { bins: Bin[]; count: number; medianMs: number | null };
  /** MFE/MAE per trade: `[mae, mfe, rMultiple | null, outcome code index]`; fractions. */
  excursions: { points: [number, number, number | null, number][]; total: number; shown: number };
  outcomeCodes: readonly string[];
  calibration: {
    buckets: CalibrationBucket[];
    /** Brier score over filled trades with a confidence; null without any. */
    brier: number | null;
    forecasts: number;
  };
}

/** Holding-time bin edges (ms): minutes to weeks, roughly logarithmic. */
const HOLDING_EDGES: readonly [number, string][] = [
  [0, '0'],
  [60_000, '1m'],
  [300_000, '5m'],
  [900_000, '15m'],
  [3_600_000, '1h'],
  [14_400_000, '4h'],
  [43_200_000, '12h'],
  [DAY_MS, '1d'],
  [3 * DAY_MS, '3d'],
  [7 * DAY_MS, '7d'],
];

/** The convention in words, as the charts state it. */
export function sizingDescription(sizing: SizingOptions): string {
  const pct = `${+(sizing.riskFraction * 100).toFixed(4)} %`;
  return sizing.sizing === 'equal_risk'
    ? `Equal risk: each signal risks ${pct} of equity at its initial stop (${pct} × R; without a stop ${pct} × net return); a day's trades are summed, days compound.`
    : `Equal notional: each signal invests ${pct} of equity (${pct} × net return); a day's trades are summed, days compound.`;
}

function label(kind: GroupKind, key: string, values: GroupValues): string {
  if (kind === 'all') return 'all signals';
  if (kind === 'model') return `${values.model ?? ''} ${values.modelVersion ?? '(no version)'}`.trim();
  return key;
}

const finite = (x: number): boolean => Number.isFinite(x);

function median(sorted: number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The row filter: tenant and every filter given. */
function scopeOf(columns: OutcomeColumns, tenant: string, filter: ChartFilter): (i: number) => boolean {
  const tenantId = columns.tenants.indexOf(tenant);
  const strategyId =
    filter.strategy === undefined ? null : columns.keys.strategy.names.indexOf(filter.strategy);
  const symbolId = filter.symbol === undefined ? null : columns.keys.symbol.names.indexOf(filter.symbol);
  const modelIds =
    filter.model === undefined && filter.modelVersion === undefined
      ? null
      : new Set(
          columns.keys.model.values
            .map((v, id) => [v, id] as const)
            .filter(
              ([v]) =>
                (filter.model === undefined || v.model === filter.model) &&
                (filter.modelVersion === undefined || v.modelVersion === filter.modelVersion),
            )
            .map(([, id]) => id),
        );
  return (i) =>
    columns.tenant[i] === tenantId &&
    (strategyId === null || columns.keys.strategy.ids[i] === strategyId) &&
    (symbolId === null || columns.keys.symbol.ids[i] === symbolId) &&
    (modelIds === null || modelIds.has(columns.keys.model.ids[i]!));
}

/** Rows of `rows` in scope whose close time is in [start, end). */
function windowRows(
  columns: OutcomeColumns,
  rows: Int32Array,
  start: number,
  end: number,
  inScope: (i: number) => boolean,
): Int32Array {
  const lo = lowerBound(rows, columns.closedAt, start);
  const hi = lowerBound(rows, columns.closedAt, end);
  const out: number[] = [];
  for (let p = lo; p < hi; p++) if (inScope(rows[p]!)) out.push(rows[p]!);
  return Int32Array.from(out);
}

function equitySeries(
  columns: OutcomeColumns,
  kind: GroupKind,
  key: string,
  values: GroupValues,
  rows: Int32Array,
  start: number,
  end: number,
  sizing: SizingOptions,
  maxPoints: number,
): EquitySeries {
  const t = [start];
  const equity = [1];
  const drawdown = [0];
  const pnlPoints = [0];
  let dayStartEquity = 1;
  let day = -1;
  let dayReturn = 0;
  let peak = 1;
  let pnl = 0;
  let pnlSum = 0;
  let feesSum = 0;
  let currencyTrades = 0;
  let netReturnSum = 0;
  for (const i of rows) {
    if (finite(columns.pnl[i]!)) {
      pnlSum += columns.pnl[i]!;
      feesSum += finite(columns.fees[i]!) ? columns.fees[i]! : 0;
      currencyTrades++;
    }
    if (UNFILLED_OUTCOME_INDICES.has(columns.outcome[i]!)) continue;
    const c = tradeContribution(columns.rMultiple[i]!, columns.netReturn[i]!, sizing);
    if (Number.isNaN(c)) continue;
    const d = Math.floor((columns.closedAt[i]! - start) / DAY_MS);
    if (d !== day) {
      dayStartEquity *= 1 + dayReturn;
      dayReturn = 0;
      day = d;
    }
    dayReturn += c;
    const e = dayStartEquity * (1 + dayReturn);
    if (e > peak) peak = e;
    if (finite(columns.pnl[i]!)) pnl += columns.pnl[i]!;
    if (finite(columns.netReturn[i]!)) netReturnSum += columns.netReturn[i]!;
    t.push(columns.closedAt[i]!);
    equity.push(e);
    drawdown.push((e - peak) / peak);
    pnlPoints.push(pnl);
  }
  const daily = dailyReturns(columns, rows, 0, rows.length, start, end, sizing);
  const dd = drawdownSeries(daily.returns);
  const thinned = t.length > maxPoints;
  const keep = thinned ? thinnedPositions(drawdown, maxPoints) : null;
  const pick = (xs: number[]): number[] => (keep === null ? xs : keep.map((i) => xs[i]!));
  return {
    kind,
    key,
    label: label(kind, key, values),
    values,
    outcomes: rows.length,
    trades: t.length - 1,
    thinned,
    t: pick(t),
    equity: pick(equity),
    drawdown: pick(drawdown),
    pnl: pick(pnlPoints),
    maxDrawdownDaily: dd.reduce((a, b) => Math.min(a, b), 0),
    cumReturn: equity[equity.length - 1]! - 1,
    pnlSum: currencyTrades === 0 ? null : pnlSum,
    feesSum: currencyTrades === 0 ? null : feesSum,
    currencyTrades,
    netReturnSum,
  };
}

/** Positions kept when thinning a curve of `n` points to about `max` (see EquitySeries.thinned). */
function thinnedPositions(drawdown: readonly number[], max: number): number[] {
  const n = drawdown.length;
  const runs = Math.max(1, Math.floor((max - 1) / 2));
  const keep = [0];
  for (let r = 0; r < runs; r++) {
    const from = 1 + Math.floor((r * (n - 1)) / runs);
    const to = 1 + Math.floor(((r + 1) * (n - 1)) / runs); // exclusive
    if (to <= from) continue;
    let low = from;
    for (let i = from + 1; i < to; i++) if (drawdown[i]! < drawdown[low]!) low = i;
    if (low !== to - 1) keep.push(low);
    keep.push(to - 1);
  }
  return keep;
}

function rHistogram(values: number[]): Bin[] {
  if (values.length === 0) return [];
  // Half-R bins over the range, widened (1 R, 2 R, …) so that there are at most 40.
  // A loop, not Math.min(...values): spreading 100 000 arguments overflows the stack.
  let min = values[0]!;
  let max = values[0]!;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let lo = Math.floor(min * 2) / 2;
  let hi = Math.floor(max * 2) / 2 + 0.5;
  let width = 0.5;
  while ((hi - lo) / width > 40) width *= 2;
  lo = Math.floor(lo / width) * width;
  hi = Math.ceil(hi / width) * width;
  if (hi <= lo) hi = lo + width;
  const n = Math.round((hi - lo) / width);
  const bins: Bin[] = Array.from({ length: n }, (_, k) => {
    const lower = lo + k * width;
    return { lower, upper: lower + width, label: `${lower}R`, count: 0 };
  });
  for (const v of values) bins[Math.min(n - 1, Math.floor((v - lo) / width))]!.count++;
  return bins;
}

function holdingHistogram(values: number[]): Bin[] {
  const bins: Bin[] = HOLDING_EDGES.map(([lower, name], k) => {
    const next = HOLDING_EDGES[k + 1];
    return next === undefined
      ? { lower, upper: Number.MAX_SAFE_INTEGER, label: `≥ ${name}`, count: 0 }
      : { lower, upper: next[0], label: `${name}–${next[1]}`, count: 0 };
  });
  for (const v of values) {
    let k = bins.length - 1;
    while (k > 0 && v < bins[k]!.lower) k--;
    bins[k]!.count++;
  }
  return bins;
}

/**
 * Everything the analytics charts draw for one tenant, window and filter. Equity series: the
 * tenant's `all` group, then up to `maxSeries` strategies and model versions with the most
 * trades in the window (each group with at least one outcome in it).
 */
export function buildChartData(columns: OutcomeColumns, options: ChartDataOptions): ChartData {
  const sizing = options.sizing ?? DEFAULT_SIZING;
  const filter = options.filter ?? {};
  const maxScatter = options.maxScatterPoints ?? 5000;
  const maxSeries = options.maxSeries ?? 12;
  const maxPoints = Math.max(3, options.maxEquityPoints ?? 2000);
  const inScope = scopeOf(columns, options.tenant, filter);
  const end = options.end;

  const allGroup = groupRows(columns, 'all').find((g) => g.tenant === options.tenant);
  const allRows = allGroup?.rows ?? new Int32Array(0);
  let start: number;
  if (options.window === 'all') {
    const first = allRows.find((i) => inScope(i) && columns.closedAt[i]! < end);
    start = first === undefined ? end - DAY_MS : floorDay(columns.closedAt[first]!);
  } else start = calendarWindowStart(options.window, end);

  const rows = windowRows(columns, allRows, start, end, inScope);
  const seriesOf = (kind: 'strategy' | 'model'): EquitySeries[] =>
    groupRows(columns, kind)
      .filter((g) => g.tenant === options.tenant)
      .map((g) => ({ g, rows: windowRows(columns, g.rows, start, end, inScope) }))
      .filter((x) => x.rows.length > 0)
      .map((x) => equitySeries(columns, kind, x.g.key, x.g.values, x.rows, start, end, sizing, maxPoints))
      .sort((a, b) => b.trades - a.trades || (a.label < b.label ? -1 : 1))
      .slice(0, maxSeries);
  const all = equitySeries(columns, 'all', 'all', {}, rows, start, end, sizing, maxPoints);

  const mix = new Array<number>(OUTCOME_CODES.length).fill(0);
  const rs: number[] = [];
  const holds: number[] = [];
  const points: [number, number, number | null, number][] = [];
  const records: TradeRecord[] = [];
  let trades = 0;
  for (const i of rows) {
    const code = columns.outcome[i]!;
    mix[code]!++;
    if (UNFILLED_OUTCOME_INDICES.has(code)) continue;
    trades++;
    const r = columns.rMultiple[i]!;
    if (finite(r)) rs.push(r);
    if (finite(columns.holdingMs[i]!)) holds.push(columns.holdingMs[i]!);
    if (finite(columns.mfe[i]!) && finite(columns.mae[i]!))
      points.push([columns.mae[i]!, columns.mfe[i]!, finite(r) ? r : null, code]);
    // As the analyzer's records: the result is the net return (src/analysis/computeAnalysis.ts).
    if (finite(columns.netReturn[i]!))
      records.push({
        netReturn: columns.netReturn[i]!,
        confidence: finite(columns.confidence[i]!) ? columns.confidence[i]! : undefined,
      });
  }
  const shown =
    points.length <= maxScatter
      ? points
      : Array.from({ length: maxScatter }, (_, k) => points[Math.floor((k * points.length) / maxScatter)]!);
  const brier = brierScore(records);
  const sortedR = [...rs].sort((a, b) => a - b);
  const sortedHolds = [...holds].sort((a, b) => a - b);

  return {
    version: 1,
    tenant: options.tenant,
    window: options.window,
    windowStart: start,
    windowEnd: end,
    filter: { ...filter },
    sizing: {
      convention: sizing.sizing,
      riskFraction: sizing.riskFraction,
      description: sizingDescription(sizing),
    },
    totals: { outcomes: rows.length, trades, unfilled: rows.length - trades, sized: all.trades },
    equity: { all, strategy: seriesOf('strategy'), model: seriesOf('model') },
    outcomeMix: OUTCOME_CODES.map((code, k) => ({ code, count: mix[k]! })),
    rMultiple: {
      bins: rHistogram(rs),
      count: rs.length,
      mean: rs.length === 0 ? null : rs.reduce((a, b) => a + b, 0) / rs.length,
      median: median(sortedR),
    },
    holding: { bins: holdingHistogram(holds), count: holds.length, medianMs: median(sortedHolds) },
    excursions: { points: shown, total: points.length, shown: shown.length },
    outcomeCodes: OUTCOME_CODES,
    calibration: {
      buckets: calibrationByDecile(records),
      brier: brier.value,
      forecasts: records.filter((r) => r.confidence !== undefined).length,
    },
  };
}
