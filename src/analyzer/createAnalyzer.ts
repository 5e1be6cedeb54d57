/**
 * The analyzer, the shell around the pure analysis: loads outcomes (src/storage), computes
 * metrics and insights (src/analysis/computeAnalysis.ts) and stores them in one transaction.
 * Used by the analyze worker, the CLI and the benchmark.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { inTransaction } from '../storage/inTransaction.ts';
import {
  analysisSteps,
  ANALYSIS_DEFAULTS,
  type InsightRow,
  type MetricsRow,
} from '../analysis/computeAnalysis.ts';
import { DEFAULT_SIZING, type SizingOptions } from '../analysis/dailyReturns.ts';
import { GROUP_KINDS, type GroupKind } from '../analysis/groups.ts';
import { loadOutcomes } from '../storage/loadOutcomes.ts';
import { storeInsights } from '../storage/storeInsights.ts';
import { storeMetrics } from '../storage/storeMetrics.ts';
import { DAY_MS, WINDOW_NAMES, windowEnds, type WindowName } from '../analysis/windows.ts';

/** Defaults of {@link CreateAnalyzerOptions}. */
export const ANALYZER_DEFAULTS = {
  ...ANALYSIS_DEFAULTS,
  /** A run within this time after a UTC midnight also recomputes the day that just ended. */
  settleMs: 2 * 3_600_000,
  /** The analysis hands the event loop back at least this often (BullMQ lock renewal, I/O). */
  sliceMs: 50,
};

export interface CreateAnalyzerOptions {
  pool: pg.Pool;
  log: Logger;
  /** Wall clock (epoch ms); the analysis time when a request names none. */
  now: () => number;
  /** @defaultValue 90 */
  baselineDays?: number;
  /** @defaultValue 100 */
  rollingCount?: number;
  /** @defaultValue equal risk, 1 % of equity per signal */
  sizing?: SizingOptions;
  /** @defaultValue 2 h */
  settleMs?: number;
}

/** What to analyze; everything is optional. */
export interface AnalyzeRequest {
  /** One window; all of them when left out. */
  window?: WindowName;
  /** One group kind; all of them when left out. */
  groupKind?: GroupKind;
  /** The analysis time (epoch ms): its UTC day's windows are computed. @defaultValue now() */
  at?: number;
  /** One tenant; every tenant when left out. */
  tenant?: string;
}

/** What an analysis did, for logs, the job's return value and the CLI. */
export interface AnalyzeSummary {
  at: string;
  windowEnds: string[];
  windows: WindowName[];
  groupKinds: GroupKind[];
  tenant: string | null;
  /** Outcomes read from PostgreSQL. */
  outcomes: number;
  /** performance_metrics rows written (inserted or updated). */
  metricsRows: number;
  insights: { raised: number; refreshed: number; bySeverity: Record<string, number> };
  timings: { loadMs: number; computeMs: number; storeMs: number; totalMs: number };
}

export interface Analyzer {
  analyze(request?: AnalyzeRequest): Promise<AnalyzeSummary>;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createAnalyzer(options: CreateAnalyzerOptions): Analyzer {
  const { pool, log, now } = options;
  const baselineDays = options.baselineDays ?? ANALYZER_DEFAULTS.baselineDays;
  const rollingCount = options.rollingCount ?? ANALYZER_DEFAULTS.rollingCount;
  const sizing = options.sizing ?? DEFAULT_SIZING;
  const settleMs = options.settleMs ?? ANALYZER_DEFAULTS.settleMs;

  return {
    async analyze(request: AnalyzeRequest = {}): Promise<AnalyzeSummary> {
      const started = performance.now();
      const at = request.at ?? now();
      const windows: WindowName[] = request.window ? [request.window] : [...WINDOW_NAMES];
      const groupKinds: GroupKind[] = request.groupKind ? [request.groupKind] : [...GROUP_KINDS];
      const ends = windowEnds(at, settleMs);
      const runLog = log.child({
        at: new Date(at).toISOString(),
        windows,
        groupKinds,
        tenant: request.tenant,
      });

      // Calendar windows need only their days plus the baseline before them; all-time and rolling
      // windows read the whole history.
      const needsAll = windows.some((w) => w === 'all' || w === 'rolling');
      const longest = Math.max(...windows.map((w) => (w === '30d' ? 30 : w === '7d' ? 7 : 1)));
      const since = needsAll ? undefined : ends[0]! - (longest + baselineDays) * DAY_MS;
      const columns = await loadOutcomes(pool, {
        end: ends[ends.length - 1]!,
        ...(since === undefined ? {} : { since }),
        ...(request.tenant === undefined ? {} : { tenant: request.tenant }),
      });
      const loaded = performance.now();

      const metrics: MetricsRow[] = [];
      const insights: InsightRow[] = [];
      let slice = performance.now();
      for (const step of analysisSteps(columns, {
        ends,
        windows,
        groupKinds,
        baselineDays,
        rollingCount,
        sizing,
      })) {
        metrics.push(step.metrics);
        insights.push(...step.insights);
        if (performance.now() - slice > ANALYZER_DEFAULTS.sliceMs) {
          await yieldToEventLoop();
          slice = performance.now();
        }
      }
      const computed = performance.now();

      const computedAt = new Date(now());
      const { metricsRows, stored } = await inTransaction(pool, async (client) => ({
        metricsRows: await storeMetrics(client, metrics, computedAt),
        stored: await storeInsights(client, insights, computedAt),
      }));
      const done = performance.now();

      const bySeverity: Record<string, number> = {};
      for (const i of insights) bySeverity[i.severity] = (bySeverity[i.severity] ?? 0) + 1;
      const summary: AnalyzeSummary = {
        at: new Date(at).toISOString(),
        windowEnds: ends.map((e) => new Date(e).toISOString()),
        windows,
        groupKinds,
        tenant: request.tenant ?? null,
        outcomes: columns.length,
        metricsRows,
        insights: { ...stored, bySeverity },
        timings: {
          loadMs: Math.round(loaded - started),
          computeMs: Math.round(computed - loaded),
          storeMs: Math.round(done - computed),
          totalMs: Math.round(done - started),
        },
      };
      runLog.info(summary, 'analysis stored');
      return summary;
    },
  };
}
