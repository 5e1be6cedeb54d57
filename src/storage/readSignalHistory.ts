import type { AuditEvent } from '../names.ts';
import { toMs } from './epochMs.ts';
import type { Queryable } from './Queryable.ts';

/** One `audit_logs` row of a signal's timeline. */
export interface HistoryEntry {
  /** Epoch ms: market time where the event has one (createdAt, an operation's ts, closedAt). */
  at: number;
  event: AuditEvent;
  details: Record<string, unknown> | null;
  /** Epoch ms, wall time of the write. */
  recordedAt: number;
}

/**
 * A signal's timeline from `audit_logs` (accepted, rejected submissions, operations, closed…),
 * oldest first; of one tenant when `tenant` is given (null: any). Served by the index
 * (signal_id, at).
 */
export async function readSignalHistory(
  db: Queryable,
  id: string,
  tenant: string | null,
  limit = 1000,
): Promise<HistoryEntry[]> {
  const r = await db.query<{
    at: number;
    event: AuditEvent;
    details: Record<string, unknown> | null;
    recorded_at: number;
  }>(
    `SELECT ${toMs('at')} AS at, event, details, ${toMs('recorded_at')} AS recorded_at
     FROM audit_logs WHERE signal_id = $1 AND ($2::text IS NULL OR tenant = $2::text)
     ORDER BY at, id LIMIT $3`,
    [id, tenant, limit],
  );
  return r.rows.map((row) => ({
    at: row.at,
    event: row.event,
    details: row.details,
    recordedAt: row.recorded_at,
  }));
}
