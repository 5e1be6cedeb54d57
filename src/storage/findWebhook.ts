import type { Queryable } from './Queryable.ts';

/** What a delivery needs of its webhook. */
export interface WebhookTarget {
  id: string;
  tenant: string;
  url: string;
  secret: string;
  deleted: boolean;
}

/** The webhook with this id (deleted ones too, flagged), or null; `tenant` null reaches any tenant's. */
export async function findWebhook(
  db: Queryable,
  id: string,
  tenant: string | null = null,
): Promise<WebhookTarget | null> {
  const r = await db.query<WebhookTarget>(
    `SELECT id, tenant, url, secret, deleted_at IS NOT NULL AS deleted FROM webhooks
     WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)`,
    [id, tenant],
  );
  return r.rows[0] ?? null;
}
