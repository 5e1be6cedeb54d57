import type pg from 'pg';
import { trackerError } from '../errors.ts';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { fromMs } from './epochMs.ts';
import { inTransaction } from './inTransaction.ts';
import { insertRejected } from './insertRejected.ts';

/** What {@link recordAccepted} found and did. */
export interface AcceptedRecord {
  /** The signal as first accepted (a second submission of the id is a no-op, whatever it carries). */
  signal: NormalizedSignal;
  /** This call stored it. */
  inserted: boolean;
  /** Another submission of an accepted id: stored as rejected, not tracked again. */
  duplicate: boolean;
  /** Its shard registration was already added (a retried job need not add it again). */
  forwarded: boolean;
  /** Its outcome is already committed (closed_signals): PostgreSQL answers for it now. */
  closed: boolean;
}

/**
 * Stores an accepted signal and its `accepted` audit row, once per id, and commits. The
 * caller registers the signal on its shard only after this returns, then calls
 * markForwarded.
 */
export async function recordAccepted(
  pool: pg.Pool,
  signal: NormalizedSignal,
  payload: unknown,
  jobId: string | null,
): Promise<AcceptedRecord> {
  return inTransaction(pool, (client) => storeAccepted(client, signal, payload, jobId));
}

async function storeAccepted(
  client: pg.PoolClient,
  signal: NormalizedSignal,
  payload: unknown,
  jobId: string | null,
): Promise<AcceptedRecord> {
  const inserted = await client.query(
    `INSERT INTO signals (id, status, tenant, symbol, side, strategy, model, model_version, timeframe,
                          confidence, created_at, payload, normalized, job_id)
     VALUES ($1, 'accepted', $2, $3, $4, $5, $6, $7, $8, $9, ${fromMs('$10')}, $11, $12, $13)
     ON CONFLICT (id) WHERE status = 'accepted' DO NOTHING
     RETURNING id`,
    [
      signal.id,
      signal.tenant,
      signal.symbol,
      signal.side,
      signal.strategy ?? null,
      signal.model ?? null,
      signal.modelVersion ?? null,
      signal.timeframe ?? null,
      signal.confidence ?? null,
      signal.createdAt,
      JSON.stringify(payload),
      JSON.stringify(signal),
      jobId,
    ],
  );
  if (inserted.rowCount === 1) {
    await client.query(
      `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
       VALUES (${fromMs('$1')}, $2, $3, 'accepted', $4)`,
      [signal.createdAt, signal.id, signal.tenant, JSON.stringify({ jobId })],
    );
    return { signal, inserted: true, duplicate: false, forwarded: false, closed: false };
  }
  const existing = (
    await client.query<{
      normalized: NormalizedSignal;
      job_id: string | null;
      forwarded: boolean;
      closed: boolean;
    }>(
      `SELECT s.normalized, s.job_id, s.forwarded_at IS NOT NULL AS forwarded,
              EXISTS (SELECT 1 FROM closed_signals c WHERE c.signal_id = s.id) AS closed
       FROM signals s WHERE s.id = $1 AND s.status = 'accepted'`,
      [signal.id],
    )
  ).rows[0]!;
  // The same job again is BullMQ retrying it: nothing to record. Another submission of the id
  // is a no-op for tracking, but it is stored (as replay reports it), never dropped silently.
  const duplicate = existing.job_id !== jobId;
  if (duplicate) {
    const rejection = trackerError(
      'DUPLICATE_ID',
      `id: ${signal.id} was already accepted (job ${existing.job_id ?? '?'}); this submission is ignored`,
    );
    await insertRejected(client, {
      id: signal.id,
      tenant: signal.tenant,
      payload,
      errors: [rejection.message],
      codes: [rejection.code],
      jobId,
    });
  }
  return {
    signal: existing.normalized,
    inserted: false,
    duplicate,
    forwarded: existing.forwarded,
    closed: existing.closed,
  };
}
