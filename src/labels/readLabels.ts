import type { Queryable } from '../storage/Queryable.ts';
import { pageLabels, type LabelQuery } from '../storage/pageLabels.ts';
import { labelOf, type LabelRow } from './labelOf.ts';

/**
 * Every closed signal matching `query` (a model, a model version, a tenant) as label rows, in
 * (closed_at, signal_id) order, read `pageSize` at a time: for `GET /v1/labels` and the
 * `labels` command, which stream them.
 */
export async function* readLabels(
  db: Queryable,
  query: Omit<LabelQuery, 'after' | 'limit'>,
  pageSize = 2000,
): AsyncGenerator<LabelRow> {
  let after: LabelQuery['after'] = null;
  for (;;) {
    const rows = await pageLabels(db, { ...query, after, limit: pageSize });
    for (const row of rows) yield labelOf(row);
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1]!;
    after = { closedAt: last.closedAt, signalId: last.signalId };
  }
}
