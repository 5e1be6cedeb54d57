import type { Queryable } from './Queryable.ts';

/** One row of `signals`, as the export needs it. */
export interface SignalRow {
  seq: number;
  id: string | null;
  status: 'accepted' | 'rejected';
  symbol: string | null;
  errors: string[] | null;
}

/** Up to `limit` rows of `signals` after `afterSeq`, in received order. */
export async function pageSignals(db: Queryable, afterSeq: number, limit: number): Promise<SignalRow[]> {
  const r = await db.query<SignalRow>(
    `SELECT seq::float8 AS seq, id, status, symbol, errors FROM signals WHERE seq > $1 ORDER BY seq LIMIT $2`,
    [afterSeq, limit],
  );
  return r.rows;
}
