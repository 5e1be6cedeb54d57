import type { Queryable } from './Queryable.ts';

/** A webhook as listed: never its secret. Times are epoch ms. */
export interface WebhookInfo {
  id: string;
  tenant: string;
  url: string;
  /** Empty: every type. */
  eventTypes: string[];
  createdAt: number;
}

export interface WebhookRow {
  id: string;
  tenant: string;
  url: string;
  event_types: string[];
  created_at: Date;
}

export function webhookInfo(row: WebhookRow): WebhookInfo {
  return {
    id: row.id,
    tenant: row.tenant,
    url: row.url,
    eventTypes: row.event_types,
    createdAt: row.created_at.getTime(),
  };
}

/** The webhooks not deleted, of one tenant or (null) of all, oldest first. */
export async function listWebhooks(db: Queryable, tenant: string | null): Promise<WebhookInfo[]> {
  const r = await db.query<WebhookRow>(
    `SELECT id, tenant, url, event_types, created_at FROM webhooks
     WHERE deleted_at IS NULL AND ($1::text IS NULL OR tenant = $1)
     ORDER BY created_at, id`,
    [tenant],
  );
  return r.rows.map(webhookInfo);
}
