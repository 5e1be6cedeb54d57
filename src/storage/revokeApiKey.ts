import type { Queryable } from './Queryable.ts';

/**
 * Revokes an API key (the row stays). Returns when it was revoked, epoch ms (the earlier time
 * if it already was), or null when no key has this id.
 */
export async function revokeApiKey(
  db: Queryable,
  id: string,
): Promise<{ revokedAt: number; already: boolean } | null> {
  const r = await db.query<{ revoked_at: Date; already: boolean }>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
     RETURNING revoked_at, revoked_at < now() AS already`,
    [id],
  );
  const row = r.rows[0];
  return row === undefined ? null : { revokedAt: row.revoked_at.getTime(), already: row.already };
}
