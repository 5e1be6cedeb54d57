import type { Queryable } from './Queryable.ts';

/** Records that the signal's shard registration has been added (operations may now follow it). */
export async function markForwarded(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE signals SET forwarded_at = now() WHERE id = $1 AND status = 'accepted' AND forwarded_at IS NULL`,
    [id],
  );
}
