import type { Queryable } from './Queryable.ts';

/** Which of `ids` have an accepted row, each with its tenant (one query for a whole batch). */
export async function findAcceptedIds(db: Queryable, ids: readonly string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (ids.length === 0) return found;
  const r = await db.query<{ id: string; tenant: string }>(
    `SELECT id, tenant FROM signals WHERE id = ANY($1::text[]) AND status = 'accepted'`,
    [ids],
  );
  for (const row of r.rows) found.set(row.id, row.tenant);
  return found;
}
