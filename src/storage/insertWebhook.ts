import type { Queryable } from './Queryable.ts';
import { type WebhookInfo, webhookInfo, type WebhookRow } from './listWebhooks.ts';

/** A new webhook's row. */
export interface NewWebhook {
  tenant: string;
  url: string;
  /** Empty: every type. */
  eventTypes: readonly string[];
  secret: string;
}

/** Stores a new webhook; returns it as listed (without the secret). */
export async function insertWebhook(db: Queryable, webhook: NewWebhook): Promise<WebhookInfo> {
  const r = await db.query<WebhookRow>(
    `INSERT INTO webhooks (tenant, url, event_types, secret) VALUES ($1, $2, $3, $4)
     RETURNING id, tenant, url, event_types, created_at`,
    [webhook.tenant, webhook.url, webhook.eventTypes, webhook.secret],
  );
  return webhookInfo(r.rows[0]!);
}
