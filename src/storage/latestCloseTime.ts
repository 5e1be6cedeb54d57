import { toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** When the tenant's latest outcome closed (epoch ms), or null without any. */
export async function latestCloseTime(db: Queryable, tenant: string): Promise<number | null> {
  const r = await db.query<{ at: number | null }>(
    `SELECT ${toMs('max(closed_at)')} AS at FROM signal_outcomes WHERE tenant = $1`,
    [tenant],
  );
  return r.rows[0]?.at ?? null;
}
