import type { Queryable } from './Queryable.ts';

/** One `audit_logs` row as the chain verifier reads it. */
export interface AuditChainRow {
  id: string;
  /** `at`, epoch microseconds. */
  atUs: number;
  tenant: string | null;
  chainSeq: number;
  /** The predecessor's `at`, epoch microseconds; null for the first row of a chain. */
  prevAtUs: number | null;
  prevHash: string | null;
  rowHash: string | null;
  /** The row's canonical text, the input of its hash after prev_hash. */
  canonical: string;
}

/** Where a page starts: after this (chain_seq, id, at-microseconds). */
export interface AuditChainCursor {
  chainSeq: number;
  id: string;
  atUs: number;
}

const micros = (expr: string): string => `(extract(epoch FROM ${expr}) * 1000000)::bigint`;

/**
 * The canonical text of a row, written out here rather than calling the migration's
 * audit_chain_text(), so that verification trusts no function stored in the database. It must
 * stay the same expression as migrations/1764000000008_audit-chain.sql; the audit-chain tests
 * fail when the two disagree.
 */
export const CANONICAL_SQL =
  `jsonb_build_array(chain_seq, id, ${micros('at')}, ${micros('recorded_at')}, tenant, signal_id, ` +
  `event, details, ${micros('prev_at')})::text`;

/** `tenant = $1`, or `tenant IS NULL` for the chain of rows without one (keeps the index usable). */
export function tenantCondition(tenant: string | null): string {
  return tenant === null ? '($1::text IS NULL AND tenant IS NULL)' : 'tenant = $1';
}

/**
 * One page of a tenant's chain, in chain order: rows with a chain position after `after`
 * (from the start when null), at most `limit`. Keyset pagination on (chain_seq, id, at), so a
 * chain of any length is read in constant memory and a second row at one position is still seen.
 */
export async function pageAuditChain(
  db: Queryable,
  tenant: string | null,
  after: AuditChainCursor | null,
  limit: number,
): Promise<AuditChainRow[]> {
  // Two texts rather than `$2 IS NULL OR …`: that form would keep a generic plan from turning the
  // row comparison into an index bound, and every page would scan the chain from its start.
  const keyset =
    after === null ? '' : `AND (a.chain_seq, a.id, ${micros('a.at')}) > ($3::bigint, $4::bigint, $5::bigint)`;
  const res = await db.query<{
    id: string;
    at_us: string;
    tenant: string | null;
    chain_seq: string;
    prev_at_us: string | null;
    prev_hash: string | null;
    row_hash: string | null;
    canonical: string;
  }>(
    `SELECT id::text, ${micros('at')}::text AS at_us, tenant, chain_seq::text,
       ${micros('prev_at')}::text AS prev_at_us, prev_hash, row_hash, ${CANONICAL_SQL} AS canonical
     FROM audit_logs a
     WHERE ${tenantCondition(tenant)} AND a.chain_seq IS NOT NULL ${keyset}
     -- Qualified: unqualified, ORDER BY would take the text columns of the select list.
     ORDER BY a.chain_seq, a.id, a.at
     LIMIT $2`,
    after === null ? [tenant, limit] : [tenant, limit, after.chainSeq, after.id, after.atUs],
  );
  return res.rows.map((r) => ({
    id: r.id,
    atUs: Number(r.at_us),
    tenant: r.tenant,
    chainSeq: Number(r.chain_seq),
    prevAtUs: r.prev_at_us === null ? null : Number(r.prev_at_us),
    prevHash: r.prev_hash,
    rowHash: r.row_hash,
    canonical: r.canonical,
  }));
}
