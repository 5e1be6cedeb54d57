import type pg from 'pg';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { inTransaction } from './inTransaction.ts';

export type { Queryable } from './inTransaction.ts';
import type { Queryable } from './inTransaction.ts';

/**
 * Stores an accepted signal and its `accepted` audit row, once per id. Returns the signal as
 * first accepted (a second submission of the id is a no-op, whatever it carries), whether
 * this call stored it, and whether it was a duplicate submission (stored as rejected).
 */
export async function recordAccepted(
  pool: pg.Pool,
  signal: NormalizedSignal,
  payload: unknown,
  jobId: string | null,
  /**
   * Runs inside the transaction, before COMMIT, with the signal as stored: whoever can read
   * the row afterwards (the signal-ops worker) finds this already done.
   */
  beforeCommit: (stored: NormalizedSignal) => Promise<void> = async () => {},
): Promise<{ signal: NormalizedSignal; inserted: boolean; duplicate: boolean }> {
  return inTransaction(pool, async (client) => {
    const result = await storeAccepted(client, signal, payload, jobId);
    await beforeCommit(result.signal);
    return result;
  });
}

async function storeAccepted(
  client: pg.PoolClient,
  signal: NormalizedSignal,
  payload: unknown,
  jobId: string | null,
): Promise<{ signal: NormalizedSignal; inserted: boolean; duplicate: boolean }> {
  {
    const inserted = await client.query(
      `INSERT INTO signals (id, status, tenant, symbol, side, strategy, model, model_version, timeframe,
                            confidence, created_at, payload, normalized, job_id)
       VALUES ($1, 'accepted', $2, $3, $4, $5, $6, $7, $8, $9, to_timestamp($10::double precision / 1000), $11, $12, $13)
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
         VALUES (to_timestamp($1::double precision / 1000), $2, $3, 'accepted', $4)`,
        [signal.createdAt, signal.id, signal.tenant, JSON.stringify({ jobId })],
      );
      return { signal, inserted: true, duplicate: false };
    }
    const existing = (
      await client.query<{ normalized: NormalizedSignal; job_id: string | null }>(
        `SELECT normalized, job_id FROM signals WHERE id = $1 AND status = 'accepted'`,
        [signal.id],
      )
    ).rows[0]!;
    // The same job again is BullMQ retrying it: nothing to record. Another submission of the id
    // is a no-op for tracking, but it is stored (as replay reports it), never dropped silently.
    const duplicate = existing.job_id !== jobId;
    if (duplicate) {
      const errors = [
        `id: ${signal.id} was already accepted (job ${existing.job_id ?? '?'}); this submission is ignored`,
      ];
      await client.query(
        `INSERT INTO signals (id, status, tenant, payload, errors, job_id) VALUES ($1, 'rejected', $2, $3, $4, $5)`,
        [signal.id, signal.tenant, JSON.stringify(payload), JSON.stringify(errors), jobId],
      );
      await client.query(
        `INSERT INTO audit_logs (at, signal_id, tenant, event, details) VALUES (now(), $1, $2, 'rejected', $3)`,
        [signal.id, signal.tenant, JSON.stringify({ errors, jobId })],
      );
    }
    return { signal: existing.normalized, inserted: false, duplicate };
  }
}

/** Stores a rejected payload with every reason, and its `rejected` audit row. */
export async function recordRejected(
  pool: pg.Pool,
  payload: unknown,
  id: string | null,
  errors: string[],
  jobId: string | null,
): Promise<void> {
  const tenant =
    typeof payload === 'object' &&
    payload !== null &&
    typeof (payload as { tenant?: unknown }).tenant === 'string'
      ? (payload as { tenant: string }).tenant
      : null;
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO signals (id, status, tenant, payload, errors, job_id) VALUES ($1, 'rejected', $2, $3, $4, $5)`,
      [id, tenant, JSON.stringify(payload ?? null), JSON.stringify(errors), jobId],
    );
    await client.query(
      `INSERT INTO audit_logs (at, signal_id, tenant, event, details) VALUES (now(), $1, $2, 'rejected', $3)`,
      [id, tenant, JSON.stringify({ errors, jobId })],
    );
  });
}

/** The accepted signal with this id (its symbol and tenant), or null. */
export async function findAccepted(
  db: Queryable,
  id: string,
): Promise<{ symbol: string; tenant: string } | null> {
  const r = await db.query<{ symbol: string; tenant: string }>(
    `SELECT symbol, tenant FROM signals WHERE id = $1 AND status = 'accepted'`,
    [id],
  );
  return r.rows[0] ?? null;
}

/** Stores an operation rejected before it reached its shard (bad shape, unknown signal). */
export async function recordRejectedOperation(
  db: Queryable,
  op: unknown,
  id: string | null,
  errors: string[],
  jobId: string | null,
): Promise<void> {
  await db.query(
    `INSERT INTO audit_logs (at, signal_id, event, details) VALUES (now(), $1, 'op_rejected', $2)`,
    [id, JSON.stringify({ op, errors, jobId })],
  );
}
