import type { Queryable } from './Queryable.ts';
import { MIGRATIONS_TABLE } from './migrate.ts';

/** Names of the migrations applied to the database, in the order applied; none when never migrated. */
export async function listAppliedMigrations(db: Queryable): Promise<string[]> {
  // A database never migrated has no table yet: that is an answer, not an error.
  const table = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    MIGRATIONS_TABLE,
  ]);
  if (!table.rows[0]!.present) return [];
  const applied = await db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
  return applied.rows.map((row) => row.name);
}
