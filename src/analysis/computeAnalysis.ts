/**
 * The analysis itself, pure: outcomes in (columns), performance_metrics and performance_insights
 * rows out, for every requested window end × window × group kind × group. docs/METRICS.md
 * "Periods and grouping" and docs/INSIGHTS.md describe what comes out.
 *
 * {@link analysisSteps} yields one group at a time so that the caller can hand the event loop
 * back between groups (a BullMQ worker must keep renewing its job lock during a long analysis);
 * {@link computeAnalysis} collects everything at once.
 */
import { returnMetrics } from '../metrics/returnMetrics.ts';
import { nullMetric } from '../metrics/metricValue.ts';
import type { OutcomeMix } from '../metrics/tradeMetrics.ts';
import { columnTradeMetrics, TradeMetricsBuffers } from './columnTradeMetrics.ts';
import { DAILY_ANNUALIZATION, DEFAULT_SIZING, dailyReturns, type SizingOptions } from './dailyReturns.ts';
import { metricsJson } from './groupMetrics.ts';
import { GROUP_KINDS, groupRows, lowerBound, type Group, type GroupKind } from './groups.ts';
import { OUTCOME_BY_INDEX, type GroupValues, type OutcomeColumns } from './outcomeColumns.ts';
import { INSIGHT_GROUP_KINDS, INSIGHT_RULES } from './rules/insightRules.ts';
import type { Json, Severity } from './rules/ruleTypes.ts';
import { groupSample, sampleOfRange, type GroupSample } from './tradeSample.ts';
import {
  calendarWindowStart,
  DAY_MS,
  floorDay,
  isCalendarWindow,
  WINDOW_NAMES,
  type WindowName,
} from './windows.ts';

/** Defaults of {@link AnalysisOptions}. */
export const ANALYSIS_DEFAULTS = {
  /** Days before a window's start that form its baseline. */
  baselineDays: 90,
  /** Outcomes in the `rolling` window: the group's latest N. */
  rollingCount: 100,
};

/** What to compute. */
export interface AnalysisOptions {
  /** Window ends (UTC midnights, epoch ms), see `windowEnds`. */
  ends: readonly number[];
  /** @defaultValue every window */
  windows?: readonly WindowName[];
  /** @defaultValue every group kind */
  groupKinds?: readonly GroupKind[];
  /** @defaultValue 90 */
  baselineDays?: number;
  /** @defaultValue 100 */
  rollingCount?: number;
  /** @defaultValue equal risk, 1 % */
  sizing?: SizingOptions;
  /** Rule names to run; @defaultValue all of INSIGHT_RULES */
  rules?: readonly string[];
}

/** One performance_metrics row. Times in epoch ms. */
export interface MetricsRow {
  tenant: string;
  windowName: WindowName;
  windowStart: number;
  windowEnd: number;
  groupKind: GroupKind;
  groupKey: string;
  groupValues: GroupValues;
  /** Outcomes in the window, unfilled ones included. */
  sampleCount: number;
  metrics: { [key: string]: Json };
}

/** One performance_insights row. */
export interface InsightRow {
  tenant: string;
  rule: string;
  severity: Severity;
  windowName: WindowName;
  windowStart: number;
  windowEnd: number;
  groupKind: GroupKind;
  groupKey: string;
  groupValues: GroupValues;
  evidence: { [key: string]: Json };
  recommendation: string;
  /** Stable within a window: rule, group and subject. Unique per (tenant, window name, window end). */
  dedupKey: string;
}

/** The rows of one (window end, window, group). */
export interface AnalysisStep {
  metrics: MetricsRow;
  insights: InsightRow[];
}

/** The insight dedup key: the same finding in the same window always gets the same key. */
export function insightDedupKey(
  rule: string,
  groupKind: GroupKind,
  groupKey: string,
  subject?: string,
): string {
  return subject === undefined
    ? `${rule}|${groupKind}|${groupKey}`
    : `${rule}|${groupKind}|${groupKey}|${subject}`;
}

/** The group in words, for recommendations. */
export function groupLabel(group: Pick<Group, 'kind' | 'key' | 'values'>): string {
  switch (group.kind) {
    case 'all':
      return 'all signals';
    case 'model':
      return `model ${group.values.model} ${group.values.modelVersion ?? '(no version)'}`;
    default:
      return `${group.kind} ${group.key}`;
  }
}

/**
 * The outcome mix of rows[lo..hi): each code's share of the outcomes, as src/metrics
 * `outcomeMix` defines it (every code present, shares summing to 1); null without outcomes.
 */
function outcomeMixOf(columns: OutcomeColumns, rows: Int32Array, lo: number, hi: number): OutcomeMix | null {
  if (hi <= lo) return null;
  const counts = new Array<number>(OUTCOME_BY_INDEX.length).fill(0);
  for (let p = lo; p < hi; p++) counts[columns.outcome[rows[p]!]!]!++;
  const mix = {} as OutcomeMix;
  OUTCOME_BY_INDEX.forEach((code, k) => (mix[code] = counts[k]! / (hi - lo)));
  return mix;
}

/**
 * Sums of pnl and fees in quote currency over rows[lo..hi) that carry them (signals that gave a
 * `notional`, SPEC.md v1.2), with how many did; null sums when none did. Currencies are not
 * converted: a group that mixes quote currencies sums them as they are (docs/METRICS.md).
 */
function currencySums(
  columns: OutcomeColumns,
  rows: Int32Array,
  lo: number,
  hi: number,
): { pnlSum: number | null; feesSum: number | null; currencyTrades: number } {
  let pnl = 0;
  let fees = 0;
  let n = 0;
  for (let p = lo; p < hi; p++) {
    const i = rows[p]!;
    if (!Number.isFinite(columns.pnl[i]!)) continue;
    pnl += columns.pnl[i]!;
    fees += Number.isFinite(columns.fees[i]!) ? columns.fees[i]! : 0;
    n++;
  }
  return n === 0
    ? { pnlSum: null, feesSum: null, currencyTrades: 0 }
    : { pnlSum: pnl, feesSum: fees, currencyTrades: n };
}

interface Bounds {
  /** Positions [lo, hi) of the group's rows inside the window. */
  lo: number;
  hi: number;
  windowStart: number;
  /** Positions [baselineLo, lo) form the baseline; null for the all-time window. */
  baselineLo: number | null;
}

function bounds(
  group: Group,
  closedAt: Float64Array,
  window: WindowName,
  end: number,
  baselineMs: number,
  rollingCount: number,
): Bounds {
  const hi = lowerBound(group.rows, closedAt, end);
  if (isCalendarWindow(window)) {
    const start = calendarWindowStart(window, end);
    const lo = lowerBound(group.rows, closedAt, start);
    return { lo, hi, windowStart: start, baselineLo: lowerBound(group.rows, closedAt, start - baselineMs) };
  }
  const lo = window === 'rolling' ? Math.max(0, hi - rollingCount) : 0;
  // The series of all/rolling starts on the day of their first outcome.
  const windowStart = hi > lo ? floorDay(closedAt[group.rows[lo]!]!) : end - DAY_MS;
  if (window === 'all') return { lo, hi, windowStart, baselineLo: null };
  const anchor = hi > lo ? closedAt[group.rows[lo]!]! : end;
  return { lo, hi, windowStart, baselineLo: lowerBound(group.rows, closedAt, anchor - baselineMs) };
}

/**
 * Yields the rows of every (window end, window, group) in order: group kinds, then ends, then
 * windows, then groups by tenant and key. Groups without an outcome in a window are skipped,
 * except the tenant's `all` group, which always gets its row.
 */
export function* analysisSteps(columns: OutcomeColumns, options: AnalysisOptions): Generator<AnalysisStep> {
  const windows = options.windows ?? WINDOW_NAMES;
  const kinds = options.groupKinds ?? GROUP_KINDS;
  const baselineMs = (options.baselineDays ?? ANALYSIS_DEFAULTS.baselineDays) * DAY_MS;
  const rollingCount = options.rollingCount ?? ANALYSIS_DEFAULTS.rollingCount;
  const sizing = options.sizing ?? DEFAULT_SIZING;
  const ruleNames = options.rules ?? Object.keys(INSIGHT_RULES);
  const buffers = new TradeMetricsBuffers();

  for (const kind of kinds) {
    const groups = groupRows(columns, kind);
    // Each group's filled trades, built at its first insight run and shared by every window
    // end, window and baseline of this kind; let go with the kind.
    const groupSamples = new Map<Group, GroupSample>();
    for (const end of [...options.ends].sort((a, b) => a - b)) {
      for (const window of windows) {
        for (const group of groups) {
          const b = bounds(group, columns.closedAt, window, end, baselineMs, rollingCount);
          if (b.hi === b.lo && kind !== 'all') continue;

          const mix = outcomeMixOf(columns, group.rows, b.lo, b.hi);
          const trades = columnTradeMetrics(
            columns,
            group.rows,
            b.lo,
            b.hi,
            mix === null ? nullMetric('no_outcomes') : { value: mix },
            buffers,
          );
          const series = dailyReturns(columns, group.rows, b.lo, b.hi, b.windowStart, end, sizing);
          const metrics: MetricsRow = {
            tenant: group.tenant,
            windowName: window,
            windowStart: b.windowStart,
            windowEnd: end,
            groupKind: kind,
            groupKey: group.key,
            groupValues: group.values,
            sampleCount: b.hi - b.lo,
            metrics: metricsJson(
              trades,
              returnMetrics(series.returns, { annualization: DAILY_ANNUALIZATION }),
              {
                series,
                sizing,
                annualization: DAILY_ANNUALIZATION,
              },
            ),
          };
          Object.assign(metrics.metrics, currencySums(columns, group.rows, b.lo, b.hi));

          const insights: InsightRow[] = [];
          if (INSIGHT_GROUP_KINDS.has(kind) && b.hi > b.lo) {
            let samples = groupSamples.get(group);
            if (samples === undefined) {
              samples = groupSample(columns, group.rows);
              groupSamples.set(group, samples);
            }
            const input = {
              label: groupLabel(group),
              window: sampleOfRange(samples, b.lo, b.hi),
              baseline: b.baselineLo === null ? null : sampleOfRange(samples, b.baselineLo, b.lo),
            };
            for (const name of ruleNames) {
              const rule = INSIGHT_RULES[name];
              if (rule === undefined) throw new RangeError(`unknown insight rule "${name}"`);
              for (const finding of rule(input)) {
                insights.push({
                  tenant: group.tenant,
                  rule: finding.rule,
                  severity: finding.severity,
                  windowName: window,
                  windowStart: b.windowStart,
                  windowEnd: end,
                  groupKind: kind,
                  groupKey: group.key,
                  groupValues: group.values,
                  evidence: finding.evidence,
                  recommendation: finding.recommendation,
                  dedupKey: insightDedupKey(finding.rule, kind, group.key, finding.subject),
                });
              }
            }
          }
          yield { metrics, insights };
        }
      }
    }
  }
}

/** Every row of {@link analysisSteps} at once. */
export function computeAnalysis(
  columns: OutcomeColumns,
  options: AnalysisOptions,
): { metrics: MetricsRow[]; insights: InsightRow[] } {
  const metrics: MetricsRow[] = [];
  const insights: InsightRow[] = [];
  for (const step of analysisSteps(columns, options)) {
    metrics.push(step.metrics);
    insights.push(...step.insights);
  }
  return { metrics, insights };
}
