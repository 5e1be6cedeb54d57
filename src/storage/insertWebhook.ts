import type pg from 'pg';
import { inTransaction } from './inTransaction.ts';
import { type WebhookInfo, webhookInfo, type WebhookRow } from './listWebhooks.ts';

/** A new webhook's row. */
export interface NewWebhook {
  tenant: string;
  url: string;
  /** Empty: every type. */
  eventTypes: readonly string[];
  secret: string;
}

/**
 * Stores a new webhook unless its tenant has `limit` webhooks (not deleted) already; returns it
 * as listed (without the secret), or null when it was over the limit. Creations of one tenant
 * queue on a transaction-scoped advisory lock, so that two at once cannot both take the last place.
 */
export async function insertWebhook(
  pool: pg.Pool,
  webhook: NewWebhook,
  limit = Number.MAX_SAFE_INTEGER,
): Promise<WebhookInfo | null> {
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(${WEBHOOK_LOCK_CLASS}, hashtext($1))`, [webhook.tenant]);
    const r = await client.query<WebhookRow>(
      `INSERT INTO webhooks (tenant, url, event_types, secret)
       SELECT $1, $2, $3, $4
       WHERE (SELECT count(*) FROM webhooks WHERE tenant = $1 AND deleted_at IS NULL) < $5
       RETURNING id, tenant, url, event_types, created_at`,
      [webhook.tenant, webhook.url, webhook.eventTypes, webhook.secret, limit],
    );
    return r.rows[0] === undefined ? null : webhookInfo(r.rows[0]);
  });
}

/** The advisory lock class of webhook creation (the audit chain uses 1764000008). */
const WEBHOOK_LOCK_CLASS = 1764000007;
