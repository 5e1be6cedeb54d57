/**
 * Reads stored performance_insights rows, newest first: what alerting and the dashboard show.
 */
import type { Severity } from '../analysis/rules/ruleTypes.ts';
import { SEVERITIES } from '../analysis/rules/ruleTypes.ts';
import { fromMs, toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** Which insights to read. */
export interface InsightsQuery {
  /** One tenant; null: every tenant (an admin's view). */
  tenant: string | null;
  /** Raised at or after this time (epoch ms). */
  since?: number;
  /** This severity and above. @defaultValue "info" */
  minSeverity?: Severity;
  window?: string;
  groupKind?: string;
  groupKey?: string;
  rule?: string;
  /** @defaultValue 100 */
  limit?: number;
}

/** One stored insight, times in ISO 8601. */
export interface StoredInsight {
  id: number;
  tenant: string;
  rule: string;
  severity: Severity;
  window: string;
  windowStart: string;
  windowEnd: string;
  groupKind: string;
  groupKey: string;
  groupValues: Record<string, string | null>;
  evidence: Record<string, unknown>;
  recommendation: string;
  dedupKey: string;
  createdAt: string;
}

interface Row {
  id: string;
  tenant: string;
  rule: string;
  severity: Severity;
  window_name: string;
  window_start: number;
  window_end: number;
  group_kind: string;
  group_key: string;
  group_values: Record<string, string | null>;
  evidence: Record<string, unknown>;
  recommendation: string;
  dedup_key: string;
  created_at: number;
}

/** The insights, newest first (by created_at, then id). */
export async function queryInsights(db: Queryable, q: InsightsQuery): Promise<StoredInsight[]> {
  const severities = SEVERITIES.slice(SEVERITIES.indexOf(q.minSeverity ?? 'info'));
  const { rows } = await db.query<Row>(
    `SELECT id, tenant, rule, severity, window_name, ${toMs('window_start')} AS window_start,
            ${toMs('window_end')} AS window_end, group_kind, group_key, group_values,
            evidence, recommendation, dedup_key, ${toMs('created_at')} AS created_at
     FROM performance_insights
     WHERE ($1::text IS NULL OR tenant = $1::text) AND severity = ANY($2::text[])
       AND ($3::bigint IS NULL OR created_at >= ${fromMs('$3')})
       AND ($4::text IS NULL OR window_name = $4::text)
       AND ($5::text IS NULL OR group_kind = $5::text)
       AND ($6::text IS NULL OR group_key = $6::text)
       AND ($7::text IS NULL OR rule = $7::text)
     ORDER BY created_at DESC, id DESC
     LIMIT $8`,
    [
      q.tenant,
      severities,
      q.since ?? null,
      q.window ?? null,
      q.groupKind ?? null,
      q.groupKey ?? null,
      q.rule ?? null,
      q.limit ?? 100,
    ],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    tenant: r.tenant,
    rule: r.rule,
    severity: r.severity,
    window: r.window_name,
    windowStart: new Date(r.window_start).toISOString(),
    windowEnd: new Date(r.window_end).toISOString(),
    groupKind: r.group_kind,
    groupKey: r.group_key,
    groupValues: r.group_values,
    evidence: r.evidence,
    recommendation: r.recommendation,
    dedupKey: r.dedup_key,
    createdAt: new Date(r.created_at).toISOString(),
  }));
}
