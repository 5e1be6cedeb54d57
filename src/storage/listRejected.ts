import type { Queryable } from './Queryable.ts';

/** The first `limit` rejected submissions, in received order, with their reasons. */
export async function listRejected(
  db: Queryable,
  limit: number,
): Promise<{ id: string | null; errors: string[] }[]> {
  const { rows } = await db.query<{ id: string | null; errors: string[] }>(
    `SELECT id, errors FROM signals WHERE status = 'rejected' ORDER BY seq LIMIT $1`,
    [limit],
  );
  return rows;
}
