import type { Queryable } from './Queryable.ts';

/** How many outcomes `signal_outcomes` holds. */
export async function countOutcomes(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::float8 AS n FROM signal_outcomes');
  return rows[0]!.n;
}
