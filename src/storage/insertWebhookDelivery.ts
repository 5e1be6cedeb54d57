import type { Queryable } from './Queryable.ts';

/** One attempt of one delivery. */
export interface WebhookAttempt {
  webhookId: string;
  deliveryId: string;
  eventKey: string;
  eventType: string;
  attempt: number;
  /** The receiver's status code; null when there was none (refused, timed out, not sent). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Records one attempt of a webhook delivery, once: recording the same attempt again (an insert
 * retried after its connection dropped, its commit through) changes nothing.
 */
export async function insertWebhookDelivery(db: Queryable, a: WebhookAttempt): Promise<void> {
  await db.query(
    `INSERT INTO webhook_deliveries (webhook_id, delivery_id, event_key, event_type, attempt, status_code, error, duration_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (delivery_id, attempt) DO NOTHING`,
    [a.webhookId, a.deliveryId, a.eventKey, a.eventType, a.attempt, a.statusCode, a.error, a.durationMs],
  );
}
