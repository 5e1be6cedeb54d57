import type pg from 'pg';
import type { OutcomeLine, RejectedLine } from '../../machines/types.ts';
import { avgR, expectancy, profitFactor, winRate } from '../metrics/tradeMetrics.ts';
import type { MetricValue } from '../metrics/metricValue.ts';
import type { TradeRecord } from '../metrics/tradeRecord.ts';
import type { AnalyzeSummary } from '../analyzer/createAnalyzer.ts';
import { countSignals } from '../storage/countSignals.ts';
import { listOutcomes, type OutcomeSummary } from '../storage/listOutcomes.ts';
import { listRejected } from '../storage/listRejected.ts';
import { queryInsights } from '../storage/queryInsights.ts';
import { queryMetrics } from '../storage/queryMetrics.ts';

/** The demo's closing report: everything read back from PostgreSQL, checked against replay. */
export async function printReport(opts: {
  pool: pg.Pool;
  expected: (OutcomeLine | RejectedLine)[];
  liveSeconds: number;
  webUrl: string;
}): Promise<void> {
  const { pool, expected } = opts;
  const out = (s = ''): void => void process.stdout.write(`${s}\n`);
  const rows = await listOutcomes(pool);
  const counts = await countSignals(pool);
  const rejected = await listRejected(pool, 5);

  out(
    `Signals stored: ${counts.accepted} accepted, ${counts.rejected} rejected. Live phase: ${opts.liveSeconds.toFixed(1)} s.`,
  );
  for (const r of rejected) out(`  rejected ${r.id ?? '(no id)'}: ${r.errors.join('; ')}`);

  out();
  out('Outcomes (signal_outcomes):');
  const byOutcome = tally(rows.map((r) => r.outcome ?? '?'));
  table(
    ['outcome', 'signals', 'share'],
    [...byOutcome].map(([k, v]) => [k, String(v), pct(v / rows.length)]),
  );
  const open = expected.filter((l) => l.state !== 'closed' && l.state !== 'rejected');
  out(
    `Still open at the end of the data: ${open.length} (${[...tally(open.map((l) => l.state))].map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}).`,
  );

  out();
  out('By strategy and model (filled trades; returns net of fees):');
  const groups = new Map<string, OutcomeSummary[]>();
  for (const r of rows) {
    const key = `${r.strategy ?? '-'} / ${r.model ?? '-'} ${r.modelVersion ?? ''}`.trim();
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  table(
    ['strategy / model', 'trades', 'win rate', 'profit factor', 'expectancy', 'avg R'],
    [...groups]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, list]) => {
        const trades = list.filter((r) => r.netReturn !== null).map(toTrade);
        return [
          key,
          String(trades.length),
          fmt(winRate(trades), pct),
          fmt(profitFactor(trades), (x) => x.toFixed(2)),
          fmt(expectancy(trades), (x) => `${(x * 1e4).toFixed(1)} bps`),
          fmt(avgR(trades), (x) => x.toFixed(2)),
        ];
      }),
  );

  out();
  const expectedClosed = new Map(
    expected.filter((l): l is OutcomeLine => l.state === 'closed').map((l) => [l.id, l]),
  );
  let same = 0;
  const differ: string[] = [];
  for (const r of rows) {
    const e = expectedClosed.get(r.signalId);
    const ok =
      e !== undefined &&
      e.outcome === r.outcome &&
      e.closedAt === r.closedAt &&
      close(e.netReturn ?? null, r.netReturn) &&
      close(e.rMultiple ?? null, r.rMultiple);
    if (ok) same++;
    else differ.push(r.signalId);
  }
  const missing = [...expectedClosed.keys()].filter((id) => !rows.some((r) => r.signalId === id));
  out(
    `Live vs offline replay of the same signals and ticks: ${same} of ${expectedClosed.size} closed outcomes identical` +
      (differ.length + missing.length === 0
        ? ' (all).'
        : `; differ: ${differ.slice(0, 5).join(', ')}; missing: ${missing.slice(0, 5).join(', ')}`),
  );
  out(
    `Operators: Bull Board at ${opts.webUrl}/admin/queues (sign in with any user name and a key from ` +
      '`npx outcome-tracker api-key create --tenant ops --scopes admin` as the password) ' +
      `and health at ${opts.webUrl}/health while the processes run.`,
  );
}

function toTrade(r: OutcomeSummary): TradeRecord {
  const t: TradeRecord = { netReturn: r.netReturn! };
  if (r.rMultiple !== null) t.rMultiple = r.rMultiple;
  if (r.outcome) t.outcome = r.outcome;
  if (r.holdingMs !== null) t.holdingMs = r.holdingMs;
  return t;
}

function close(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) || Math.abs(a - b) < 1e-15;
}

function tally(xs: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return new Map([...m].sort((a, b) => b[1] - a[1]));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

function fmt(v: MetricValue, f: (x: number) => string): string {
  return v.value === null ? `n/a (${v.reason})` : f(v.value);
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`${line(header)}\n  ${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}

/** The analyzer's stored view: per model version over all time, then its insights. */
export async function printAnalysis(pool: pg.Pool, summary: AnalyzeSummary): Promise<void> {
  const out = (line = ''): void => void process.stdout.write(`${line}\n`);
  out(
    `Analyzed ${summary.outcomes} outcomes in ${summary.timings.totalMs} ms: ${summary.metricsRows} performance_metrics rows, ` +
      `${summary.insights.raised} insights raised.`,
  );
  // The latest window end per model (shortly after midnight the day that just ended is
  // recomputed too, beside today's).
  const rows = await queryMetrics(pool, { tenant: 'default', window: 'all', groupKind: 'model' });
  const num = (x: unknown, f: (v: number) => string): string => (typeof x === 'number' ? f(x) : 'n/a');
  table(
    ['model', 'trades', 'win rate', 'profit factor', 'sharpe (daily)', 'max drawdown', 'brier'],
    rows.map((r) => [
      (JSON.parse(r.groupKey) as string[]).join(' '),
      String(r.metrics.trades ?? 0),
      num(r.metrics.winRate, pct),
      num(r.metrics.profitFactor, (v) => v.toFixed(2)),
      num(r.metrics.sharpe, (v) => v.toFixed(2)),
      num(r.metrics.maxDrawdown, pct),
      num(r.metrics.brierScore, (v) => v.toFixed(3)),
    ]),
  );
  const insights = await queryInsights(pool, { tenant: 'default', window: 'all', limit: 6 });
  out();
  out(
    insights.length === 0
      ? 'No insights: nothing significant in this sample.'
      : 'Insights (performance_insights):',
  );
  for (const i of insights)
    out(`  [${i.severity}] ${i.rule} (${i.groupKind} ${i.groupKey}): ${i.recommendation}`);
}
