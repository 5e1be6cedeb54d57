import type { Scope } from '../names.ts';
import type { Queryable } from './Queryable.ts';

/** A new key's row: only the hash of the key is stored. */
export interface NewApiKey {
  tenant: string;
  scopes: readonly Scope[];
  hash: Buffer;
  label: string | null;
}

/** Stores a new API key; returns its id and creation time (epoch ms). */
export async function insertApiKey(
  db: Queryable,
  key: NewApiKey,
): Promise<{ id: string; createdAt: number }> {
  const r = await db.query<{ id: string; created_at: Date }>(
    `INSERT INTO api_keys (tenant, scopes, hash, label) VALUES ($1, $2, $3, $4)
     RETURNING id, created_at`,
    [key.tenant, key.scopes, key.hash, key.label],
  );
  const row = r.rows[0]!;
  return { id: row.id, createdAt: row.created_at.getTime() };
}
