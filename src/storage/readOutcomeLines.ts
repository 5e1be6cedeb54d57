import type { Leg, OutcomeCode, OutcomeLine } from '../../machines/types.ts';
import { toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

interface OutcomeRow {
  signal_id: string;
  closed_at: number;
  outcome: OutcomeCode;
  partial: boolean;
  fill_ts: number | null;
  fill_price: number | null;
  holding_ms: number | null;
  gross_return: number | null;
  net_return: number | null;
  r_multiple: number | null;
  /** NULL: the signal gave no notional. */
  pnl: number | null;
  fees: number | null;
  mfe: number | null;
  mae: number | null;
  stale: boolean;
  legs: Leg[];
}

/** The stored outcomes of `ids`, as replay would print them (SPEC.md "Replay output"). */
export async function readOutcomeLines(db: Queryable, ids: string[]): Promise<Map<string, OutcomeLine>> {
  const lines = new Map<string, OutcomeLine>();
  if (ids.length === 0) return lines;
  const r = await db.query<OutcomeRow>(
    `SELECT signal_id, ${toMs('closed_at')} AS closed_at, outcome, partial,
       CASE WHEN fill_ts IS NULL THEN NULL ELSE ${toMs('fill_ts')} END AS fill_ts, fill_price,
       holding_ms::float8 AS holding_ms, gross_return, net_return, r_multiple, pnl, fees, mfe, mae, stale, legs
     FROM signal_outcomes WHERE signal_id = ANY($1::text[])`,
    [ids],
  );
  for (const row of r.rows) lines.set(row.signal_id, outcomeLineFromRow(row));
  return lines;
}

/**
 * Rebuilds the OutcomeLine that was stored, with the keys `outcomeLine()` gives each kind of
 * outcome, in SPEC order. jsonb keeps no key order, so legs are rebuilt key by key too.
 */
function outcomeLineFromRow(r: OutcomeRow): OutcomeLine {
  const head = { id: r.signal_id, state: 'closed' as const, outcome: r.outcome };
  if (r.fill_ts === null || r.fill_price === null) {
    const line: OutcomeLine = { ...head, legs: [], closedAt: r.closed_at };
    if (r.stale) line.stale = true;
    return line;
  }
  const fill = { ts: r.fill_ts, price: r.fill_price };
  if (r.outcome === 'INVALID_AT_FILL')
    return { ...head, fill, legs: [], closedAt: r.closed_at, holdingMs: r.holding_ms ?? 0 };
  const line: OutcomeLine = {
    ...head,
    partial: r.partial,
    fill,
    legs: r.legs.map(legInOrder),
    grossReturn: r.gross_return!,
    netReturn: r.net_return!,
    rMultiple: r.r_multiple,
    ...(r.pnl === null ? {} : { pnl: r.pnl }),
    ...(r.fees === null ? {} : { fees: r.fees }),
    mfe: r.mfe!,
    mae: r.mae!,
    closedAt: r.closed_at,
    holdingMs: r.holding_ms!,
  };
  if (r.stale) line.stale = true;
  return line;
}

function legInOrder(leg: Leg): Leg {
  const out: Leg = { reason: leg.reason } as Leg;
  if (leg.level !== undefined) out.level = leg.level;
  if (leg.stopKind !== undefined) out.stopKind = leg.stopKind;
  out.price = leg.price;
  out.fraction = leg.fraction;
  out.ts = leg.ts;
  return out;
}
