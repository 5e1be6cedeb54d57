import type { Queryable } from './Queryable.ts';

/** How many rows `signals` holds of each status. */
export async function countSignals(db: Queryable): Promise<{ accepted: number; rejected: number }> {
  const { rows } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::float8 AS n FROM signals GROUP BY status`,
  );
  const n = (status: string): number => rows.find((r) => r.status === status)?.n ?? 0;
  return { accepted: n('accepted'), rejected: n('rejected') };
}
