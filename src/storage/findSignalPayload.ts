import { toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** An accepted signal's stored payload and when the intake stored it. */
export interface StoredSignalPayload {
  tenant: string;
  symbol: string;
  payload: Record<string, unknown>;
  /** Epoch ms (wall time of the intake's insert). */
  receivedAt: number;
}

/** The accepted signal with this id, of `tenant` when given (null: any), or null. */
export async function findSignalPayload(
  db: Queryable,
  id: string,
  tenant: string | null,
): Promise<StoredSignalPayload | null> {
  const r = await db.query<StoredSignalPayload>(
    `SELECT tenant, symbol, payload, ${toMs('received_at')} AS "receivedAt"
       FROM signals WHERE id = $1 AND status = 'accepted' AND ($2::text IS NULL OR tenant = $2::text)`,
    [id, tenant],
  );
  return r.rows[0] ?? null;
}
