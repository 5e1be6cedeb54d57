import type { OutcomeCode } from '../../machines/types.ts';
import { toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** A stored outcome with its grouping keys, as the demo's report reads it. */
export interface OutcomeSummary {
  signalId: string;
  outcome: OutcomeCode;
  strategy: string | null;
  model: string | null;
  modelVersion: string | null;
  symbol: string;
  netReturn: number | null;
  rMultiple: number | null;
  holdingMs: number | null;
  /** Epoch ms. */
  closedAt: number;
  stale: boolean;
}

interface Row {
  signal_id: string;
  outcome: OutcomeCode;
  strategy: string | null;
  model: string | null;
  model_version: string | null;
  symbol: string;
  net_return: number | null;
  r_multiple: number | null;
  holding_ms: number | null;
  closed_at: number;
  stale: boolean;
}

/** Every stored outcome, in close order. */
export async function listOutcomes(db: Queryable): Promise<OutcomeSummary[]> {
  const { rows } = await db.query<Row>(
    `SELECT signal_id, outcome, strategy, model, model_version, symbol, net_return, r_multiple,
            holding_ms::float8 AS holding_ms, ${toMs('closed_at')} AS closed_at, stale
       FROM signal_outcomes ORDER BY signal_outcomes.closed_at`,
  );
  return rows.map((r) => ({
    signalId: r.signal_id,
    outcome: r.outcome,
    strategy: r.strategy,
    model: r.model,
    modelVersion: r.model_version,
    symbol: r.symbol,
    netReturn: r.net_return,
    rMultiple: r.r_multiple,
    holdingMs: r.holding_ms,
    closedAt: r.closed_at,
    stale: r.stale,
  }));
}
