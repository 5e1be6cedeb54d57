import type { Queryable } from './Queryable.ts';

/** Records that these signals' shard registrations have been added (operations may now follow them). */
export async function markForwarded(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query({
    // Named: parsed and planned once a connection, as the intake's other statement a batch.
    name: 'outcome-tracker:mark-forwarded',
    text: `UPDATE signals SET forwarded_at = now()
           WHERE id = ANY($1::text[]) AND status = 'accepted' AND forwarded_at IS NULL`,
    values: [ids],
  });
}
