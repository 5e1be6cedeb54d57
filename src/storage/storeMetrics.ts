/**
 * Upserts performance_metrics rows: one per (tenant, window name, window end, group kind, group
 * key). Re-analysing a window replaces its row, unless the stored row was computed later than
 * this one (a slow run must not overwrite a newer result).
 */
import type { MetricsRow } from '../analysis/computeAnalysis.ts';
import { fromMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** Rows per INSERT statement. */
const BATCH = 500;

const UPSERT_METRICS = `
  INSERT INTO performance_metrics
    (tenant, window_name, window_start, window_end, group_kind, group_key, group_values, sample_count, metrics, computed_at)
  SELECT r.tenant, r.window_name, ${fromMs('r.window_start')}, ${fromMs('r.window_end')}, r.group_kind, r.group_key,
         r.group_values, r.sample_count, r.metrics, ${fromMs('$2')}
  FROM jsonb_to_recordset($1::jsonb) AS r(
    tenant text, window_name text, window_start bigint, window_end bigint,
    group_kind text, group_key text, group_values jsonb, sample_count integer, metrics jsonb)
  ON CONFLICT ON CONSTRAINT performance_metrics_window_group_key DO UPDATE SET
    window_start = EXCLUDED.window_start,
    group_values = EXCLUDED.group_values,
    sample_count = EXCLUDED.sample_count,
    metrics = EXCLUDED.metrics,
    computed_at = EXCLUDED.computed_at
  WHERE performance_metrics.computed_at <= EXCLUDED.computed_at`;

function rowKey(r: MetricsRow): string {
  return `${r.tenant}\u0000${r.windowName}\u0000${r.windowEnd}\u0000${r.groupKind}\u0000${r.groupKey}`;
}

/**
 * Writes `rows` with `computedAt`; returns how many rows were inserted or updated. Rows go in
 * key order, so two analyses writing the same rows lock them in the same order (no deadlock).
 */
export async function storeMetrics(
  db: Queryable,
  rows: readonly MetricsRow[],
  computedAt: Date,
): Promise<number> {
  const sorted = [...rows].sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : rowKey(a) > rowKey(b) ? 1 : 0));
  let written = 0;
  for (let i = 0; i < sorted.length; i += BATCH) {
    const batch = sorted.slice(i, i + BATCH).map((r) => ({
      tenant: r.tenant,
      window_name: r.windowName,
      window_start: r.windowStart,
      window_end: r.windowEnd,
      group_kind: r.groupKind,
      group_key: r.groupKey,
      group_values: r.groupValues,
      sample_count: r.sampleCount,
      metrics: r.metrics,
    }));
    const result = await db.query(UPSERT_METRICS, [JSON.stringify(batch), computedAt.getTime()]);
    written += result.rowCount ?? 0;
  }
  return written;
}
