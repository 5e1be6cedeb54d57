/**
 * The report file: the dashboard's analytics (src/analysis/chartData.ts drawn by
 * src/web/dashboard/assets/analytics.js with ECharts) over the closed outcomes in PostgreSQL, as
 * one self-contained HTML file. `outcome-tracker report` and the demo write it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import {
  buildChartData,
  CHART_WINDOWS,
  type ChartData,
  type ChartFilter,
  type ChartWindow,
} from '../../analysis/chartData.ts';
import { DEFAULT_SIZING, type SizingOptions } from '../../analysis/dailyReturns.ts';
import { calendarWindowStart, ceilDay } from '../../analysis/windows.ts';
import { latestCloseTime } from '../../storage/latestCloseTime.ts';
import { loadOutcomes } from '../../storage/loadOutcomes.ts';
import { queryInsights, type StoredInsight } from '../../storage/queryInsights.ts';
import { REPORT_DATA_ID, renderReportHtml } from './reportHtml.ts';

/** The windows a report can cover: the dashboard's. */
export const REPORT_WINDOWS = CHART_WINDOWS;

/** The tenant of signals that name none (SPEC.md), and the report's when none is asked for. */
export const DEFAULT_REPORT_TENANT = 'default';

/** Most insights listed (newest first). */
const MAX_INSIGHTS = 100;

/** Which outcomes a report covers. */
export interface ReportFilters {
  /** @defaultValue {@link DEFAULT_REPORT_TENANT} */
  tenant?: string;
  strategy?: string;
  model?: string;
  modelVersion?: string;
  symbol?: string;
  /** A window ending at the UTC midnight after `anchor`, as the dashboard's selector. @defaultValue 'all' */
  window?: ChartWindow;
  /**
   * Where a window ends: after now, or after the tenant's latest outcome (replayed history), as
   * the dashboard's `anchor`. @defaultValue 'now'
   */
  anchor?: 'now' | 'latest';
  /** Outcomes closed at or after (epoch ms); not with `window`. */
  from?: number;
  /** Outcomes closed before (epoch ms); not with `window`. @defaultValue the next UTC midnight */
  to?: number;
}

/** What the page inlines besides the scripts: the charts' data and the insights table's rows. */
export interface ReportData {
  charts: ChartData;
  insights: StoredInsight[];
}

/** The report of `filters` as it was at `now`: its data and the whole HTML page. */
export async function buildReport(opts: {
  pool: pg.Pool;
  filters: ReportFilters;
  /** Epoch ms: the window's end is the next UTC midnight. */
  now: number;
  /** The analyzer's sizing convention (ANALYZE_SIZING, ANALYZE_RISK_FRACTION). */
  sizing?: SizingOptions;
}): Promise<{ html: string; data: ReportData }> {
  const { filters } = opts;
  const tenant = filters.tenant ?? DEFAULT_REPORT_TENANT;
  const window: ChartWindow = filters.window ?? 'all';
  const at =
    filters.anchor === 'latest' ? ((await latestCloseTime(opts.pool, tenant)) ?? opts.now) : opts.now;
  // As GET /v1/charts: the UTC midnight after `at`.
  const end = filters.to ?? ceilDay(at + 1);
  const since = window === 'all' ? filters.from : calendarWindowStart(window, end);
  const filter: ChartFilter = {
    ...(filters.strategy === undefined ? {} : { strategy: filters.strategy }),
    ...(filters.model === undefined ? {} : { model: filters.model }),
    ...(filters.modelVersion === undefined ? {} : { modelVersion: filters.modelVersion }),
    ...(filters.symbol === undefined ? {} : { symbol: filters.symbol }),
  };
  const columns = await loadOutcomes(opts.pool, { end, tenant, ...(since === undefined ? {} : { since }) });
  const charts = buildChartData(columns, {
    window,
    end,
    tenant,
    filter,
    sizing: opts.sizing ?? DEFAULT_SIZING,
  });
  const insights = await queryInsights(opts.pool, { tenant, limit: MAX_INSIGHTS });
  const data: ReportData = { charts, insights };

  const [echarts, analytics, css] = await Promise.all([
    readFile(echartsPath(), 'utf8'),
    readFile(ANALYTICS_JS, 'utf8'),
    readFile(DASHBOARD_CSS, 'utf8'),
  ]);
  if (/^\s*import[\s{*'"]/m.test(analytics))
    throw new Error(
      `${ANALYTICS_JS} imports other modules: a report can only inline a module without imports`,
    );
  const html = renderReportHtml({
    title: 'outcome-tracker report',
    scope: scopeLines(filters, tenant, window, opts.now, insights.length),
    data,
    scripts: [echarts],
    module: `${analytics}\n${startReport}`,
    css: `${css}\n${REPORT_CSS}`,
    body:
      '<p class="report-tools"><button type="button" id="theme" aria-pressed="false">Dark theme</button></p>' +
      '<div id="analytics"></div>',
  });
  return { html, data };
}

/** Writes the report of `filters` to `out`; returns its absolute path and how many outcomes it covers. */
export async function writeReport(opts: {
  pool: pg.Pool;
  filters: ReportFilters;
  out: string;
  now: number;
  sizing?: SizingOptions;
}): Promise<{ path: string; outcomes: number }> {
  const { html, data } = await buildReport(opts);
  const path = resolve(opts.out);
  try {
    await writeFile(path, html);
  } catch (err) {
    throw new Error(`cannot write --out ${opts.out}: ${(err as Error).message}`);
  }
  return { path, outcomes: data.charts.totals.outcomes };
}

const ANALYTICS_JS = fileURLToPath(new URL('../dashboard/assets/analytics.js', import.meta.url));
/** The dashboard's look, so that the report reads as the dashboard does (light and dark). */
const DASHBOARD_CSS = fileURLToPath(new URL('../dashboard/assets/dashboard.css', import.meta.url));

/** ECharts' self-contained browser build, from the installed package (no CDN). */
function echartsPath(): string {
  // The package's `require` entry is dist/echarts.js; its minified twin sits beside it.
  return join(dirname(createRequire(import.meta.url).resolve('echarts')), 'echarts.min.js');
}

/**
 * Run after the analytics module's code, in the same module: draws the page in the reader's
 * colour scheme, and again in the other one from the theme button (as the dashboard's).
 */
const startReport = `
const reportData = JSON.parse(document.getElementById(${JSON.stringify(REPORT_DATA_ID)}).textContent);
const container = document.getElementById('analytics');
const button = document.getElementById('theme');
let drawn = null;
function draw(theme) {
  document.documentElement.dataset.theme = theme;
  button.setAttribute('aria-pressed', String(theme === 'dark'));
  button.textContent = theme === 'dark' ? 'Light theme' : 'Dark theme';
  drawn?.dispose();
  drawn = renderAnalytics(container, reportData.charts, {
    echarts: window.echarts,
    theme,
    insights: reportData.insights,
  });
}
draw(window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
button.addEventListener('click', () => draw(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'));
window.addEventListener('resize', () => drawn.resize());
document.documentElement.setAttribute('data-report', 'drawn');
`;

function scopeLines(
  filters: ReportFilters,
  tenant: string,
  window: ChartWindow,
  now: number,
  insights: number,
): string[] {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const period =
    filters.from !== undefined || filters.to !== undefined
      ? `closed ${filters.from === undefined ? 'from the first outcome' : `from ${iso(filters.from)}`} to ${
          filters.to === undefined ? 'now' : `before ${iso(filters.to)}`
        }`
      : `window ${window}${filters.anchor === 'latest' ? " ending after the tenant's latest outcome" : ''}`;
  const chosen = [
    filters.strategy === undefined ? null : `strategy ${filters.strategy}`,
    filters.model === undefined ? null : `model ${filters.model}`,
    filters.modelVersion === undefined ? null : `model version ${filters.modelVersion}`,
    filters.symbol === undefined ? null : `symbol ${filters.symbol}`,
  ].filter((x) => x !== null);
  return [
    `Tenant ${tenant}; ${chosen.length === 0 ? 'every strategy and model' : chosen.join(', ')}; ${period}.`,
    `Made ${iso(now)} from PostgreSQL. Insights: the tenant's ${insights} newest, whatever their group.`,
  ];
}

/** The report's own additions to the dashboard's CSS: its heading lines and the theme button. */
const REPORT_CSS = `
.report-scope { margin: 0.1rem 0; color: var(--muted); }
.report-tools { margin: 0.8rem 0 0; }
.report-tools button { font: inherit; padding: 0.3rem 0.8rem; }
`;
