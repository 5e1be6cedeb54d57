import type { Queryable } from './Queryable.ts';

/** What an event says about its signal beyond its id (docs/API.md "Live stream"). */
export interface SignalLabels {
  tenant: string;
  symbol: string;
  strategy: string | null;
  model: string | null;
}

/**
 * The tenant, symbol, strategy and model of each accepted signal among `ids` (the shards keep
 * only what evaluation needs; the events carry these). Ids with no accepted row are absent.
 */
export async function findSignalLabels(
  db: Queryable,
  ids: readonly string[],
): Promise<Map<string, SignalLabels>> {
  const out = new Map<string, SignalLabels>();
  if (ids.length === 0) return out;
  const r = await db.query<SignalLabels & { id: string }>(
    `SELECT id, tenant, symbol, strategy, model FROM signals WHERE status = 'accepted' AND id = ANY($1::text[])`,
    [[...new Set(ids)]],
  );
  for (const { id, ...labels } of r.rows) out.set(id, labels);
  return out;
}
