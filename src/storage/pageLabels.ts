import { fromMs } from './epochMs.ts';
import { OUTCOME_RECORD_COLUMNS, type OutcomeRecord } from './pageOutcomes.ts';
import type { Queryable } from './Queryable.ts';

/** Which closed signals to label, and where a page starts. */
export interface LabelQuery {
  /** One tenant; null: every tenant (admin). */
  tenant: string | null;
  model?: string;
  modelVersion?: string;
  /** Rows strictly after this one in (closed_at, signal_id) order. */
  after?: { closedAt: number; signalId: string } | null;
  limit: number;
}

/** A stored outcome with the signal's free-form `meta`, for labelling. */
export interface LabelSource extends OutcomeRecord {
  meta: Record<string, unknown> | null;
}

/**
 * One page of closed signals joined with the `meta` their accepted payload carried, in the
 * stable order (closed_at, signal_id).
 */
export async function pageLabels(db: Queryable, q: LabelQuery): Promise<LabelSource[]> {
  const { rows } = await db.query<LabelSource>(
    `SELECT ${OUTCOME_RECORD_COLUMNS}, s.normalized -> 'meta' AS meta
     FROM signal_outcomes o
     JOIN signals s ON s.id = o.signal_id AND s.status = 'accepted'
     WHERE ($1::text IS NULL OR o.tenant = $1::text)
       AND ($2::text IS NULL OR o.model = $2::text)
       AND ($3::text IS NULL OR o.model_version = $3::text)
       AND ($4::bigint IS NULL OR (o.closed_at, o.signal_id) > (${fromMs('$4')}, $5::text))
     ORDER BY o.closed_at, o.signal_id
     LIMIT $6`,
    [
      q.tenant,
      q.model ?? null,
      q.modelVersion ?? null,
      q.after?.closedAt ?? null,
      q.after?.signalId ?? null,
      q.limit,
    ],
  );
  return rows;
}
