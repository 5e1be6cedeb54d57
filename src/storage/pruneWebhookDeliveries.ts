import type { Queryable } from './Queryable.ts';
import { fromMs } from './epochMs.ts';

/** Rows one DELETE removes at most: a large backlog goes in short statements, not one long lock. */
const PRUNE_BATCH = 10_000;

/**
 * Deletes the webhook delivery attempts recorded before `beforeMs` (epoch ms), in batches of
 * {@link PRUNE_BATCH} oldest first (index `(at)`); answers how many went. Deleted webhooks'
 * attempts age out the same way.
 */
export async function pruneWebhookDeliveries(db: Queryable, beforeMs: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const result = await db.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE at < ${fromMs('$1')} ORDER BY at LIMIT $2)`,
      [beforeMs, PRUNE_BATCH],
    );
    deleted += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < PRUNE_BATCH) return deleted;
  }
}
