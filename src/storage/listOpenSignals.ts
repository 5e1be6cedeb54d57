import { toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** An accepted signal whose outcome is not committed yet, as the dashboard lists it. */
export interface OpenSignal {
  id: string;
  symbol: string;
  side: 'long' | 'short';
  strategy: string | null;
  model: string | null;
  modelVersion: string | null;
  confidence: number | null;
  /** Epoch ms. */
  createdAt: number;
}

/**
 * A tenant's accepted signals without a committed outcome (no closed_signals row), newest first:
 * open or pending on their shards, or closed moments ago and still in an outbox. Served by
 * signals_tenant_created_idx.
 */
export async function listOpenSignals(db: Queryable, tenant: string, limit: number): Promise<OpenSignal[]> {
  const r = await db.query<OpenSignal>(
    `SELECT s.id, s.symbol, s.side, s.strategy, s.model, s.model_version AS "modelVersion", s.confidence,
            ${toMs('s.created_at')} AS "createdAt"
       FROM signals s
      WHERE s.status = 'accepted' AND s.tenant = $1
        AND NOT EXISTS (SELECT 1 FROM closed_signals c WHERE c.signal_id = s.id)
      ORDER BY s.created_at DESC, s.id
      LIMIT $2`,
    [tenant, limit],
  );
  return r.rows;
}
