import type { Queryable } from './Queryable.ts';

/**
 * Takes, inside the caller's transaction, the audit chains (docs/STORAGE.md "Audit chain") of
 * `tenants` and of the tenants of `signalIds` (the chain without tenant for ids with no
 * accepted signal), all in one order, held to COMMIT. A transaction that is about to write
 * audit rows for several tenants calls this first: two of them then queue instead of
 * deadlocking, which locking tenant by tenant as rows are inserted could do.
 */
export async function lockAuditChains(
  db: Queryable,
  of: { tenants: readonly (string | null)[]; signalIds: readonly string[] },
): Promise<void> {
  if (of.signalIds.length === 0) return lockTenantAuditChains(db, of.tenants);
  await db.query(
    `SELECT audit_chain_lock($1::text[] || ARRAY(
       SELECT s.tenant FROM unnest($2::text[]) AS x(id)
       LEFT JOIN signals s ON s.id = x.id AND s.status = 'accepted'))`,
    [[...new Set(of.tenants)], [...new Set(of.signalIds)]],
  );
}

/**
 * The same for writes whose tenants are known already (null: the chain without tenant): takes
 * every chain in `tenants` in the one order, held to COMMIT.
 */
export async function lockTenantAuditChains(
  db: Queryable,
  tenants: readonly (string | null)[],
): Promise<void> {
  if (tenants.length === 0) return;
  await db.query('SELECT audit_chain_lock($1::text[])', [[...new Set(tenants)]]);
}
