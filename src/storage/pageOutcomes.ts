import type { OutcomeCode } from '../../machines/types.ts';
import { fromMs, toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** Filters and position of one page of outcomes. */
export interface OutcomeQuery {
  /** One tenant; null: every tenant (admin). */
  tenant: string | null;
  strategy?: string;
  model?: string;
  modelVersion?: string;
  /** Upper case, as stored. */
  symbol?: string;
  outcome?: OutcomeCode;
  /** Closed at or after (epoch ms). */
  closedFrom?: number;
  /** Closed before (epoch ms). */
  closedTo?: number;
  /** The last row of the previous page: rows strictly after it in (closed_at, signal_id) order. */
  after?: { closedAt: number; signalId: string } | null;
  limit: number;
}

/** One stored outcome with its grouping keys; times in epoch ms. */
export interface OutcomeRecord {
  signalId: string;
  tenant: string;
  symbol: string;
  side: 'long' | 'short';
  strategy: string | null;
  model: string | null;
  modelVersion: string | null;
  timeframe: string | null;
  confidence: number | null;
  signalCreatedAt: number | null;
  outcome: OutcomeCode;
  partial: boolean;
  fillTs: number | null;
  fillPrice: number | null;
  closedAt: number;
  holdingMs: number | null;
  grossReturn: number | null;
  netReturn: number | null;
  rMultiple: number | null;
  pnl: number | null;
  fees: number | null;
  mfe: number | null;
  mae: number | null;
  stale: boolean;
}

/** The SELECT list of {@link OutcomeRecord}, shared with pageLabels. */
export const OUTCOME_RECORD_COLUMNS = `o.signal_id AS "signalId", o.tenant, o.symbol, o.side, o.strategy, o.model,
  o.model_version AS "modelVersion", o.timeframe, o.confidence,
  CASE WHEN o.signal_created_at IS NULL THEN NULL ELSE ${toMs('o.signal_created_at')} END AS "signalCreatedAt",
  o.outcome, o.partial,
  CASE WHEN o.fill_ts IS NULL THEN NULL ELSE ${toMs('o.fill_ts')} END AS "fillTs", o.fill_price AS "fillPrice",
  ${toMs('o.closed_at')} AS "closedAt", o.holding_ms::float8 AS "holdingMs", o.gross_return AS "grossReturn",
  o.net_return AS "netReturn", o.r_multiple AS "rMultiple", o.pnl, o.fees, o.mfe, o.mae, o.stale`;

/**
 * One page of stored outcomes in a stable order, (closed_at, signal_id): a cursor made of a
 * page's last row resumes exactly after it, whatever is written meanwhile (a new outcome closes
 * at its market time and may land before the cursor: it is then not in this walk).
 */
export async function pageOutcomes(db: Queryable, q: OutcomeQuery): Promise<OutcomeRecord[]> {
  const { rows } = await db.query<OutcomeRecord>(
    `SELECT ${OUTCOME_RECORD_COLUMNS}
     FROM signal_outcomes o
     WHERE ($1::text IS NULL OR o.tenant = $1::text)
       AND ($2::text IS NULL OR o.strategy = $2::text)
       AND ($3::text IS NULL OR o.model = $3::text)
       AND ($4::text IS NULL OR o.model_version = $4::text)
       AND ($5::text IS NULL OR o.symbol = $5::text)
       AND ($6::text IS NULL OR o.outcome = $6::text)
       AND ($7::bigint IS NULL OR o.closed_at >= ${fromMs('$7')})
       AND ($8::bigint IS NULL OR o.closed_at < ${fromMs('$8')})
       AND ($9::bigint IS NULL OR (o.closed_at, o.signal_id) > (${fromMs('$9')}, $10::text))
     ORDER BY o.closed_at, o.signal_id
     LIMIT $11`,
    [
      q.tenant,
      q.strategy ?? null,
      q.model ?? null,
      q.modelVersion ?? null,
      q.symbol ?? null,
      q.outcome ?? null,
      q.closedFrom ?? null,
      q.closedTo ?? null,
      q.after?.closedAt ?? null,
      q.after?.signalId ?? null,
      q.limit,
    ],
  );
  return rows;
}
