import type pg from 'pg';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { codesOf, messagesOf, trackerError, type TrackerError } from '../errors.ts';
import { abbreviate, storableJson } from '../validation/checkStorable.ts';
import { inTransaction } from './inTransaction.ts';

export type { Queryable } from './inTransaction.ts';
import type { Queryable } from './inTransaction.ts';

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
 * {@link markForwarded}.
 */
export async function recordAccepted(
  pool: pg.Pool,
  signal: NormalizedSignal,
  payload: unknown,
  jobId: string | null,
): Promise<AcceptedRecord> {
  return inTransaction(pool, (client) => storeAccepted(client, signal, payload, jobId));
}

/** Records that the signal's shard registration has been added (operations may now follow it). */
export async function markForwarded(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE signals SET forwarded_at = now() WHERE id = $1 AND status = 'accepted' AND forwarded_at IS NULL`,
    [id],
  );
}

async function storeAccepted(
  client: pg.PoolClient,
  signal: NormalizedSignal,
  payload: unknown,
  jobId: string | null,
): Promise<AcceptedRecord> {
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
      const errors = [rejection.message];
      await client.query(
        `INSERT INTO signals (id, status, tenant, payload, errors, job_id) VALUES ($1, 'rejected', $2, $3, $4, $5)`,
        [signal.id, signal.tenant, JSON.stringify(payload), JSON.stringify(errors), jobId],
      );
      await client.query(
        `INSERT INTO audit_logs (at, signal_id, tenant, event, details) VALUES (now(), $1, $2, 'rejected', $3)`,
        [signal.id, signal.tenant, JSON.stringify({ errors, codes: [rejection.code], jobId })],
      );
    }
    return {
      signal: existing.normalized,
      inserted: false,
      duplicate,
      forwarded: existing.forwarded,
      closed: existing.closed,
    };
  }
}

/** Largest payload stored with a rejection as it came; a larger one is kept as its size and head. */
const STORED_PAYLOAD_BYTES = 256 * 1024;

/** An id as a bounded column holds it: a 1 MB id fits no index. */
function storedId(id: string | null): string | null {
  return id === null ? null : (storableJson(abbreviate(id, 200), STORED_PAYLOAD_BYTES) as string);
}

/**
 * Stores a rejected payload with every reason, and its `rejected` audit row. Whatever the
 * payload holds (NUL characters, 100,000 levels of nesting, a 1 MB id), the rejection is
 * stored: in the form {@link storableJson} gives it, the id cut to a bounded length.
 * `signals.errors` holds the messages; the audit row holds them and their codes (`codes`, one
 * per message).
 */
export async function recordRejected(
  pool: pg.Pool,
  payload: unknown,
  id: string | null,
  rejections: readonly TrackerError[],
  jobId: string | null,
): Promise<void> {
  const errors = messagesOf(rejections);
  const stored = storableJson(payload ?? null, STORED_PAYLOAD_BYTES);
  const rawTenant =
    typeof stored === 'object' && stored !== null ? (stored as { tenant?: unknown }).tenant : undefined;
  const tenant = typeof rawTenant === 'string' ? abbreviate(rawTenant, 200) : null;
  const reasons = storableJson(errors, STORED_PAYLOAD_BYTES);
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO signals (id, status, tenant, payload, errors, job_id) VALUES ($1, 'rejected', $2, $3, $4, $5)`,
      [storedId(id), tenant, JSON.stringify(stored), JSON.stringify(reasons), jobId],
    );
    await client.query(
      `INSERT INTO audit_logs (at, signal_id, tenant, event, details) VALUES (now(), $1, $2, 'rejected', $3)`,
      [storedId(id), tenant, JSON.stringify({ errors: reasons, codes: codesOf(rejections), jobId })],
    );
  });
}

/**
 * The accepted signal with this id (its symbol and tenant, whether its shard registration has
 * been added, which operations wait for, and whether its outcome is committed), or null.
 */
export async function findAccepted(
  db: Queryable,
  id: string,
): Promise<{ symbol: string; tenant: string; forwarded: boolean; closed: boolean } | null> {
  const r = await db.query<{ symbol: string; tenant: string; forwarded: boolean; closed: boolean }>(
    `SELECT s.symbol, s.tenant, s.forwarded_at IS NOT NULL AS forwarded,
            EXISTS (SELECT 1 FROM closed_signals c WHERE c.signal_id = s.id) AS closed
     FROM signals s WHERE s.id = $1 AND s.status = 'accepted'`,
    [id],
  );
  return r.rows[0] ?? null;
}

/**
 * Stores an operation rejected before it reached its shard (bad shape, unknown signal):
 * `details = { op, errors, codes, jobId }`, the messages and their codes one for one.
 */
export async function recordRejectedOperation(
  db: Queryable,
  op: unknown,
  id: string | null,
  rejections: readonly TrackerError[],
  jobId: string | null,
): Promise<void> {
  const details = { op, errors: messagesOf(rejections), codes: codesOf(rejections), jobId };
  await db.query(
    `INSERT INTO audit_logs (at, signal_id, event, details) VALUES (now(), $1, 'op_rejected', $2)`,
    [storedId(id), JSON.stringify(storableJson(details, STORED_PAYLOAD_BYTES))],
  );
}
