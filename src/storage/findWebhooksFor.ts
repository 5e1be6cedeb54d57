import type { Queryable } from './Queryable.ts';

/** The ids of the webhooks (not deleted) of `tenant` that want events of `type`. */
export async function findWebhooksFor(db: Queryable, tenant: string, type: string): Promise<string[]> {
  const r = await db.query<{ id: string }>(
    `SELECT id FROM webhooks
     WHERE tenant = $1 AND deleted_at IS NULL AND (cardinality(event_types) = 0 OR $2 = ANY(event_types))
     ORDER BY id`,
    [tenant, type],
  );
  return r.rows.map((row) => row.id);
}
