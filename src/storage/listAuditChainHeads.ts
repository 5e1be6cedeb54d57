import type { Queryable } from './Queryable.ts';
import { tenantCondition } from './pageAuditChain.ts';

/** A tenant's row of `audit_chain_heads`: where its chain ends. */
export interface AuditChainHead {
  tenant: string | null;
  headSeq: number;
  headHash: string;
  /** The last row's `at`, epoch microseconds. */
  headAtUs: number | null;
}

/**
 * Every chain's head (the chain of rows without a tenant first, then by tenant), or the one
 * of `only.tenant` when given.
 */
export async function listAuditChainHeads(
  db: Queryable,
  only?: { tenant: string | null },
): Promise<AuditChainHead[]> {
  const res = await db.query<{
    tenant: string | null;
    head_seq: string;
    head_hash: string;
    head_at_us: string | null;
  }>(
    `SELECT tenant, head_seq::text, head_hash,
       (extract(epoch FROM head_at) * 1000000)::bigint::text AS head_at_us
     FROM audit_chain_heads
     ${only === undefined ? '' : `WHERE ${tenantCondition(only.tenant)}`}
     ORDER BY tenant NULLS FIRST`,
    only === undefined ? [] : [only.tenant],
  );
  return res.rows.map((r) => ({
    tenant: r.tenant,
    headSeq: Number(r.head_seq),
    headHash: r.head_hash,
    headAtUs: r.head_at_us === null ? null : Number(r.head_at_us),
  }));
}
