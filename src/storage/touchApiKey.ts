import type { Queryable } from './Queryable.ts';

/**
 * Sets a key's `last_used_at` to `at` (epoch ms) unless it was set less than `minIntervalMs`
 * before: several web processes may each decide to write, and the row is written once per
 * interval all the same. Returns whether it wrote.
 */
export async function touchApiKey(
  db: Queryable,
  id: string,
  at: number,
  minIntervalMs: number,
): Promise<boolean> {
  const r = await db.query(
    `UPDATE api_keys SET last_used_at = to_timestamp($2::double precision / 1000)
     WHERE id = $1
       AND (last_used_at IS NULL
            OR last_used_at <= to_timestamp($2::double precision / 1000) - make_interval(secs => $3::double precision / 1000))`,
    [id, at, minIntervalMs],
  );
  return r.rowCount === 1;
}
