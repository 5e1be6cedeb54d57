/**
 * Stores performance_insights rows, deduplicated per window: the unique key is (tenant, window
 * name, window end, dedup key), so the same finding in the same window is one row however often
 * the window is re-analysed. A repeat refreshes the row's severity, evidence and recommendation
 * with the latest numbers and keeps its created_at (when it was first raised).
 */
import type { InsightRow } from '../analysis/computeAnalysis.ts';
import { fromMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

const BATCH = 500;

const UPSERT_INSIGHTS = `
  INSERT INTO performance_insights
    (tenant, rule, severity, window_name, window_start, window_end, group_kind, group_key, group_values,
     evidence, recommendation, dedup_key, created_at)
  SELECT r.tenant, r.rule, r.severity, r.window_name, ${fromMs('r.window_start')}, ${fromMs('r.window_end')},
         r.group_kind, r.group_key, r.group_values, r.evidence, r.recommendation, r.dedup_key, ${fromMs('$2')}
  FROM jsonb_to_recordset($1::jsonb) AS r(
    tenant text, rule text, severity text, window_name text, window_start bigint, window_end bigint,
    group_kind text, group_key text, group_values jsonb, evidence jsonb, recommendation text, dedup_key text)
  ON CONFLICT ON CONSTRAINT performance_insights_dedup_key DO UPDATE SET
    severity = EXCLUDED.severity,
    window_start = EXCLUDED.window_start,
    evidence = EXCLUDED.evidence,
    recommendation = EXCLUDED.recommendation
  RETURNING (xmax = 0) AS inserted`;

/** How many insights were new and how many were already there (and refreshed). */
export interface StoredInsights {
  raised: number;
  refreshed: number;
}

function rowKey(r: InsightRow): string {
  return `${r.tenant}\u0000${r.windowName}\u0000${r.windowEnd}\u0000${r.dedupKey}`;
}

/** Writes `rows`, new ones with `createdAt`; in key order, as storeMetrics does. */
export async function storeInsights(
  db: Queryable,
  rows: readonly InsightRow[],
  createdAt: Date,
): Promise<StoredInsights> {
  const sorted = [...rows].sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : rowKey(a) > rowKey(b) ? 1 : 0));
  const stored: StoredInsights = { raised: 0, refreshed: 0 };
  for (let i = 0; i < sorted.length; i += BATCH) {
    const batch = sorted.slice(i, i + BATCH).map((r) => ({
      tenant: r.tenant,
      rule: r.rule,
      severity: r.severity,
      window_name: r.windowName,
      window_start: r.windowStart,
      window_end: r.windowEnd,
      group_kind: r.groupKind,
      group_key: r.groupKey,
      group_values: r.groupValues,
      evidence: r.evidence,
      recommendation: r.recommendation,
      dedup_key: r.dedupKey,
    }));
    const result = await db.query<{ inserted: boolean }>(UPSERT_INSIGHTS, [
      JSON.stringify(batch),
      createdAt.getTime(),
    ]);
    for (const row of result.rows) {
      if (row.inserted) stored.raised++;
      else stored.refreshed++;
    }
  }
  return stored;
}
