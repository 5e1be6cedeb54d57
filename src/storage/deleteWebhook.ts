import type { Queryable } from './Queryable.ts';

/**
 * Marks a webhook deleted (its attempts stay readable); `tenant` null reaches any tenant's.
 * Returns whether there was such a webhook, not deleted yet.
 */
export async function deleteWebhook(db: Queryable, id: string, tenant: string | null): Promise<boolean> {
  const r = await db.query(
    `UPDATE webhooks SET deleted_at = now()
     WHERE id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR tenant = $2)`,
    [id, tenant],
  );
  return (r.rowCount ?? 0) > 0;
}
