import type { Queryable } from './Queryable.ts';

/** One attempt as listed. `at` is epoch ms. */
export interface WebhookDeliveryInfo {
  deliveryId: string;
  eventKey: string;
  eventType: string;
  attempt: number;
  at: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** The latest `limit` attempts of a webhook's deliveries, newest first. */
export async function listWebhookDeliveries(
  db: Queryable,
  webhookId: string,
  limit: number,
): Promise<WebhookDeliveryInfo[]> {
  const r = await db.query<{
    delivery_id: string;
    event_key: string;
    event_type: string;
    attempt: number;
    at: Date;
    status_code: number | null;
    error: string | null;
    duration_ms: number;
  }>(
    `SELECT delivery_id, event_key, event_type, attempt, at, status_code, error, duration_ms
     FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2`,
    [webhookId, limit],
  );
  return r.rows.map((row) => ({
    deliveryId: row.delivery_id,
    eventKey: row.event_key,
    eventType: row.event_type,
    attempt: row.attempt,
    at: row.at.getTime(),
    statusCode: row.status_code,
    error: row.error,
    durationMs: row.duration_ms,
  }));
}
