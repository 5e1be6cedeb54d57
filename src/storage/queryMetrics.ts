/**
 * Reads stored performance_metrics rows: what the HTTP API and dashboards show. By default the
 * latest window end of each group; with `history`, every window end (a group's trend).
 */
import { fromMs, toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** Which rows to read. */
export interface MetricsQuery {
  /** One tenant; null: every tenant (an admin's view). */
  tenant: string | null;
  window: string;
  groupKind: string;
  /** One group; every group of the kind when left out. */
  groupKey?: string;
  /** Every window end instead of each group's latest. @defaultValue false */
  history?: boolean;
  /** Window ends before this time only (epoch ms), e.g. the finished days. */
  endBefore?: number;
  /** @defaultValue 1000 */
  limit?: number;
}

/** One stored row, times in ISO 8601. */
export interface StoredMetrics {
  tenant: string;
  window: string;
  windowStart: string;
  windowEnd: string;
  groupKind: string;
  groupKey: string;
  groupValues: Record<string, string | null>;
  sampleCount: number;
  computedAt: string;
  metrics: Record<string, unknown>;
}

interface Row {
  tenant: string;
  window_name: string;
  window_start: number;
  window_end: number;
  group_kind: string;
  group_key: string;
  group_values: Record<string, string | null>;
  sample_count: number;
  computed_at: number;
  metrics: Record<string, unknown>;
}

const COLUMNS = `tenant, window_name, ${toMs('window_start')} AS window_start, ${toMs('window_end')} AS window_end,
  group_kind, group_key, group_values, sample_count, ${toMs('computed_at')} AS computed_at, metrics`;

/**
 * The rows, ordered by group key then window end (newest first). Served by the index
 * (tenant, group_kind, group_key, window_end).
 */
export async function queryMetrics(db: Queryable, q: MetricsQuery): Promise<StoredMetrics[]> {
  const params = [q.tenant, q.window, q.groupKind, q.groupKey ?? null, q.endBefore ?? null, q.limit ?? 1000];
  const where = `($1::text IS NULL OR tenant = $1::text) AND window_name = $2 AND group_kind = $3
    AND ($4::text IS NULL OR group_key = $4::text) AND ($5::bigint IS NULL OR window_end < ${fromMs('$5')})`;
  const sql = q.history
    ? `SELECT ${COLUMNS} FROM performance_metrics WHERE ${where} ORDER BY group_key, window_end DESC LIMIT $6`
    : `SELECT DISTINCT ON (tenant, group_key) ${COLUMNS} FROM performance_metrics WHERE ${where}
       ORDER BY tenant, group_key, window_end DESC LIMIT $6`;
  const { rows } = await db.query<Row>(sql, params);
  return rows.map((r) => ({
    tenant: r.tenant,
    window: r.window_name,
    windowStart: new Date(r.window_start).toISOString(),
    windowEnd: new Date(r.window_end).toISOString(),
    groupKind: r.group_kind,
    groupKey: r.group_key,
    groupValues: r.group_values,
    sampleCount: r.sample_count,
    computedAt: new Date(r.computed_at).toISOString(),
    metrics: r.metrics,
  }));
}
