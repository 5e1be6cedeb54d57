import type { Queryable } from './Queryable.ts';
import { tenantCondition } from './pageAuditChain.ts';

/** An `audit_logs` row outside every chain verify-audit walks. */
export interface UnchainedAuditRow {
  id: string;
  /** epoch microseconds */
  atUs: number;
  tenant: string | null;
  /** No chain position or hash (written with the chain trigger disabled)… */
  reason: 'no_chain_columns' | 'no_chain_head';
}

/**
 * The first row (by id) that no chain accounts for: one without chain columns, or one of a
 * tenant that has no `audit_chain_heads` row. Either was written with the chain trigger off.
 * `tenant` undefined searches every tenant.
 */
export async function findUnchainedAuditRow(
  db: Queryable,
  tenant?: string | null,
): Promise<UnchainedAuditRow | null> {
  const where = tenant === undefined ? 'true' : tenantCondition(tenant);
  const res = await db.query<{ id: string; at_us: string; tenant: string | null; reason: string }>(
    `SELECT id::text, (extract(epoch FROM at) * 1000000)::bigint::text AS at_us, tenant,
       CASE WHEN chain_seq IS NULL OR prev_hash IS NULL OR row_hash IS NULL THEN 'no_chain_columns'
            ELSE 'no_chain_head' END AS reason
     FROM audit_logs a
     WHERE ${where}
       AND (chain_seq IS NULL OR prev_hash IS NULL OR row_hash IS NULL
            OR NOT EXISTS (SELECT FROM audit_chain_heads h WHERE h.tenant IS NOT DISTINCT FROM a.tenant))
     ORDER BY id
     LIMIT 1`,
    tenant === undefined ? [] : [tenant],
  );
  const row = res.rows[0];
  if (row === undefined) return null;
  return {
    id: row.id,
    atUs: Number(row.at_us),
    tenant: row.tenant,
    reason: row.reason as UnchainedAuditRow['reason'],
  };
}
