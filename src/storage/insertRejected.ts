import type { Queryable } from './Queryable.ts';

/** A rejected submission as its `signals` row and `rejected` audit row hold it. */
export interface RejectedRow {
  id: string | null;
  tenant: string | null;
  /** The payload, in a form that can be stored (see storableJson). */
  payload: unknown;
  errors: unknown;
  /** The errors' codes, one per message (docs/ERRORS.md), kept in the audit row. */
  codes: readonly string[];
  jobId: string | null;
}

/**
 * Writes a rejected `signals` row and its `rejected` audit row, on `db` inside the caller's
 * transaction (both or neither). Used by recordRejected and, for a second submission of an
 * accepted id, by recordAccepted.
 */
export async function insertRejected(db: Queryable, row: RejectedRow): Promise<void> {
  await db.query(
    `INSERT INTO signals (id, status, tenant, payload, errors, job_id) VALUES ($1, 'rejected', $2, $3, $4, $5)`,
    [row.id, row.tenant, JSON.stringify(row.payload), JSON.stringify(row.errors), row.jobId],
  );
  await db.query(
    `INSERT INTO audit_logs (at, signal_id, tenant, event, details) VALUES (now(), $1, $2, 'rejected', $3)`,
    [row.id, row.tenant, JSON.stringify({ errors: row.errors, codes: row.codes, jobId: row.jobId })],
  );
}
