import type { Queryable } from './Queryable.ts';

/** An accepted signal as the intake needs it before forwarding an operation. */
export interface AcceptedSignal {
  symbol: string;
  tenant: string;
  /** Its shard registration has been added: operations wait for this. */
  forwarded: boolean;
  /** Its outcome is committed (closed_signals). */
  closed: boolean;
}

/** The accepted signal with this id, or null. */
export async function findAccepted(db: Queryable, id: string): Promise<AcceptedSignal | null> {
  const r = await db.query<AcceptedSignal>(
    `SELECT s.symbol, s.tenant, s.forwarded_at IS NOT NULL AS forwarded,
            EXISTS (SELECT 1 FROM closed_signals c WHERE c.signal_id = s.id) AS closed
     FROM signals s WHERE s.id = $1 AND s.status = 'accepted'`,
    [id],
  );
  return r.rows[0] ?? null;
}
