import type { Scope } from '../names.ts';
import type { Queryable } from './Queryable.ts';

/** What a request needs to know about the key it presents. */
export interface StoredApiKey {
  id: string;
  tenant: string;
  scopes: Scope[];
  hash: Buffer;
  revoked: boolean;
  /** Epoch ms, or null when never used. */
  lastUsedAt: number | null;
}

interface Row {
  id: string;
  tenant: string;
  scopes: Scope[];
  hash: Buffer;
  revoked: boolean;
  last_used_at: Date | null;
}

/** The key whose SHA-256 is `hash`, revoked or not, or null. */
export async function findApiKey(db: Queryable, hash: Buffer): Promise<StoredApiKey | null> {
  const r = await db.query<Row>(
    `SELECT id, tenant, scopes, hash, revoked_at IS NOT NULL AS revoked, last_used_at
     FROM api_keys WHERE hash = $1`,
    [hash],
  );
  const row = r.rows[0];
  if (row === undefined) return null;
  return {
    id: row.id,
    tenant: row.tenant,
    scopes: row.scopes,
    hash: row.hash,
    revoked: row.revoked,
    lastUsedAt: row.last_used_at?.getTime() ?? null,
  };
}
