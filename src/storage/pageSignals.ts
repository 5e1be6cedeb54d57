import type { Queryable } from './Queryable.ts';

/** One row of `signals`, as the export needs it. */
export interface SignalRow {
  seq: number;
  id: string | null;
  status: 'accepted' | 'rejected';
  symbol: string | null;
  errors: string[] | null;
}

/**
 * Up to `limit` rows of `signals` after `afterSeq`, in received order; of one tenant when
 * `tenant` is given (a rejected payload counts as the tenant it named, if any).
 */
export async function pageSignals(
  db: Queryable,
  afterSeq: number,
  limit: number,
  tenant: string | null = null,
): Promise<SignalRow[]> {
  const r = await db.query<SignalRow>(
    `SELECT seq::float8 AS seq, id, status, symbol, errors FROM signals
     WHERE seq > $1 AND ($3::text IS NULL OR tenant = $3::text) ORDER BY seq LIMIT $2`,
    [afterSeq, limit, tenant],
  );
  return r.rows;
}
