import type { Scope } from '../names.ts';
import type { Queryable } from './Queryable.ts';

/** An API key as listed: never the key, never its hash. Times are epoch ms. */
export interface ApiKeyInfo {
  id: string;
  tenant: string;
  scopes: Scope[];
  label: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Row {
  id: string;
  tenant: string;
  scopes: Scope[];
  label: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** Every API key, or a tenant's, oldest first (revoked ones included). */
export async function listApiKeys(db: Queryable, tenant?: string): Promise<ApiKeyInfo[]> {
  const r = await db.query<Row>(
    `SELECT id, tenant, scopes, label, created_at, last_used_at, revoked_at
     FROM api_keys WHERE $1::text IS NULL OR tenant = $1
     ORDER BY created_at, id`,
    [tenant ?? null],
  );
  return r.rows.map((row) => ({
    id: row.id,
    tenant: row.tenant,
    scopes: row.scopes,
    label: row.label,
    createdAt: row.created_at.getTime(),
    lastUsedAt: row.last_used_at?.getTime() ?? null,
    revokedAt: row.revoked_at?.getTime() ?? null,
  }));
}
