import type { Queryable } from './Queryable.ts';

/** A daily regulatory report whose recorded audit head no longer matches the chain. */
export interface ReportAnchorMismatch {
  tenant: string;
  day: string;
  headSeq: number;
  reportedHash: string;
  /** The row now at that position. */
  id: string;
  atUs: number;
  rowHash: string | null;
}

/**
 * The first report (by day) whose `audit_head_hash` differs from the hash of the audit row
 * now at its `audit_head_seq`, of `tenant` or every tenant (undefined). Reports whose row is
 * gone are left out: retention may have dropped it.
 */
export async function findReportAnchorMismatch(
  db: Queryable,
  tenant?: string | null,
): Promise<ReportAnchorMismatch | null> {
  // Reports always have a tenant: asking for the chain without one finds none.
  const where = tenant === undefined ? 'true' : 'r.tenant = $1';
  const res = await db.query<{
    tenant: string;
    day: string;
    head_seq: string;
    reported: string;
    id: string;
    at_us: string;
    row_hash: string | null;
  }>(
    `SELECT r.tenant, to_char(r.day, 'YYYY-MM-DD') AS day, r.audit_head_seq::text AS head_seq,
       r.audit_head_hash AS reported, a.id::text AS id,
       (extract(epoch FROM a.at) * 1000000)::bigint::text AS at_us, a.row_hash
     FROM regulatory_reports r
     JOIN audit_logs a ON a.tenant = r.tenant AND a.chain_seq = r.audit_head_seq
     WHERE ${where} AND r.audit_head_seq IS NOT NULL AND a.row_hash IS DISTINCT FROM r.audit_head_hash
     ORDER BY r.day, r.tenant, a.id
     LIMIT 1`,
    tenant === undefined ? [] : [tenant],
  );
  const row = res.rows[0];
  if (row === undefined) return null;
  return {
    tenant: row.tenant,
    day: row.day,
    headSeq: Number(row.head_seq),
    reportedHash: row.reported,
    id: row.id,
    atUs: Number(row.at_us),
    rowHash: row.row_hash,
  };
}
