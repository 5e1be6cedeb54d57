import type { Queryable } from './Queryable.ts';

/** One `regulatory_reports` row, as exported (CSV, JSON, `GET /v1/reports`). */
export interface RegulatoryReport {
  tenant: string;
  /** UTC day, ISO date. */
  day: string;
  signalsReceived: number;
  signalsAccepted: number;
  signalsRejected: number;
  /** Submissions rejected with each error code (docs/ERRORS.md). */
  rejectedByCode: Record<string, number>;
  closed: number;
  closedByOutcome: Record<string, number>;
  auditRows: number;
  /** The tenant's audit chain at the day's end (position and hash); null before its first row. */
  auditHeadSeq: number | null;
  auditHeadHash: string | null;
  generatedAt: string;
}

export interface ReportFilter {
  /** null: every tenant. */
  tenant: string | null;
  /** First and last day, ISO dates, inclusive; null: unbounded. */
  from: string | null;
  to: string | null;
}

/** Where a page starts: after this (day, tenant). */
export interface ReportCursor {
  day: string;
  tenant: string;
}

/** A page of reports in (day, tenant) order, after `after`. */
export async function pageRegulatoryReports(
  db: Queryable,
  filter: ReportFilter,
  after: ReportCursor | null,
  limit: number,
): Promise<RegulatoryReport[]> {
  const res = await db.query<{
    tenant: string;
    day: string;
    signals_received: number;
    signals_accepted: number;
    signals_rejected: number;
    rejected_by_code: Record<string, number>;
    closed: number;
    closed_by_outcome: Record<string, number>;
    audit_rows: number;
    audit_head_seq: string | null;
    audit_head_hash: string | null;
    generated_at: Date;
  }>(
    `SELECT tenant, to_char(day, 'YYYY-MM-DD') AS day, signals_received, signals_accepted, signals_rejected,
       rejected_by_code, closed, closed_by_outcome, audit_rows, audit_head_seq::text, audit_head_hash, generated_at
     FROM regulatory_reports r
     WHERE ($1::text IS NULL OR tenant = $1) AND ($2::date IS NULL OR day >= $2::date)
       AND ($3::date IS NULL OR day <= $3::date)
       AND ($4::date IS NULL OR (day, tenant) > ($4::date, $5::text))
     ORDER BY r.day, r.tenant
     LIMIT $6`,
    [filter.tenant, filter.from, filter.to, after?.day ?? null, after?.tenant ?? null, limit],
  );
  return res.rows.map((r) => ({
    tenant: r.tenant,
    day: r.day,
    signalsReceived: r.signals_received,
    signalsAccepted: r.signals_accepted,
    signalsRejected: r.signals_rejected,
    rejectedByCode: r.rejected_by_code,
    closed: r.closed,
    closedByOutcome: r.closed_by_outcome,
    auditRows: r.audit_rows,
    auditHeadSeq: r.audit_head_seq === null ? null : Number(r.audit_head_seq),
    auditHeadHash: r.audit_head_hash,
    generatedAt: r.generated_at.toISOString(),
  }));
}

/** Every report matching `filter`, a page at a time. */
export async function* readRegulatoryReports(
  db: Queryable,
  filter: ReportFilter,
  pageSize = 1000,
): AsyncGenerator<RegulatoryReport> {
  let after: ReportCursor | null = null;
  for (;;) {
    const rows = await pageRegulatoryReports(db, filter, after, pageSize);
    yield* rows;
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1]!;
    after = { day: last.day, tenant: last.tenant };
  }
}
