import { fromMs } from './epochMs.ts';
import { lockTenantAuditChains } from './lockAuditChains.ts';
import type { Queryable } from './Queryable.ts';

/** An outbox entry of a signal PostgreSQL does not know, dropped by the flusher. */
export interface DroppedOrphan {
  /** Its key in `outbox_applied`: the same entry dropped twice (two flushers, a crash) is recorded once. */
  ledgerKey: string;
  signalId: string;
  /** What the audit row keeps: the shard, the entry's outbox key and its content. */
  details: object;
}

/**
 * Records, inside the caller's transaction, one `orphan_dropped` audit row per entry not
 * recorded before (docs/OPERATIONS.md "Flusher"). The rows have no tenant: no tenant owns a
 * signal PostgreSQL does not know, so they go to the chain without tenant.
 * @returns the rows written
 */
export async function recordOrphansDropped(
  db: Queryable,
  at: number,
  orphans: DroppedOrphan[],
): Promise<number> {
  if (orphans.length === 0) return 0;
  await lockTenantAuditChains(db, [null]);
  const claimed = await db.query<{ key: string }>(
    `INSERT INTO outbox_applied (key) SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS x(k, n) ORDER BY x.n
     ON CONFLICT (key) DO NOTHING RETURNING key`,
    [orphans.map((o) => o.ledgerKey).sort()],
  );
  const fresh = new Set(claimed.rows.map((r) => r.key));
  const rows = orphans.filter((o) => fresh.has(o.ledgerKey));
  if (rows.length === 0) return 0;
  await db.query(
    `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
     SELECT ${fromMs('$1::bigint')}, x.signal_id, NULL, 'orphan_dropped', x.details
     FROM jsonb_to_recordset($2::jsonb) AS x(n int, signal_id text, details jsonb)
     ORDER BY x.n`,
    [at, JSON.stringify(rows.map((o, n) => ({ n, signal_id: o.signalId, details: o.details })))],
  );
  return rows.length;
}
