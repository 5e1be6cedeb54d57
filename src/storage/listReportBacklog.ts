import type { Queryable } from './Queryable.ts';

/** A tenant's place in the daily reports. */
export interface ReportBacklog {
  tenant: string;
  /** The UTC day of the tenant's first audit row. */
  firstDay: string;
  /** The last day reported, null before the first report. */
  lastReported: string | null;
}

/**
 * Every tenant with an audit chain (every tenant the system has seen: each accepted or rejected
 * submission with a tenant writes an audit row), with its first day and last reported day.
 */
export async function listReportBacklog(db: Queryable): Promise<ReportBacklog[]> {
  const res = await db.query<{ tenant: string; first_day: string; last_reported: string | null }>(
    `SELECT h.tenant, to_char(h.first_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS first_day,
       (SELECT to_char(max(r.day), 'YYYY-MM-DD') FROM regulatory_reports r WHERE r.tenant = h.tenant) AS last_reported
     FROM audit_chain_heads h
     WHERE h.tenant IS NOT NULL
     ORDER BY h.tenant`,
  );
  return res.rows.map((r) => ({ tenant: r.tenant, firstDay: r.first_day, lastReported: r.last_reported }));
}
