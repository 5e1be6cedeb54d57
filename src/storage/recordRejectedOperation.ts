import { codesOf, messagesOf, type TrackerError } from '../errors.ts';
import { abbreviate, storableJson } from '../validation/checkStorable.ts';
import { QUEUE_NAMES, rejectionLedgerKey } from '../names.ts';
import type { Queryable } from './Queryable.ts';
import { STORED_PAYLOAD_BYTES, storedId } from './storedId.ts';

/**
 * Stores an operation rejected before it reached its shard (bad shape, unknown signal):
 * `details = { op, errors, codes, jobId }`, the messages and their codes one for one. Once per
 * job: the same job rejected again with the same reasons adds nothing.
 */
export async function recordRejectedOperation(
  db: Queryable,
  op: unknown,
  id: string | null,
  rejections: readonly TrackerError[],
  jobId: string | null,
): Promise<void> {
  // The operation is bounded on its own: bounding the whole record would cut a large
  // operation's reasons and job id away with it (the record became `{truncated, head}`).
  const details = JSON.stringify({
    op: storableJson(op ?? null, STORED_PAYLOAD_BYTES),
    errors: storableJson(messagesOf(rejections), STORED_PAYLOAD_BYTES),
    codes: codesOf(rejections),
    jobId: jobId === null ? null : abbreviate(jobId, 200),
  });
  if (jobId === null) {
    await db.query(
      `INSERT INTO audit_logs (at, signal_id, event, details) VALUES (now(), $1, 'op_rejected', $2)`,
      [storedId(id), details],
    );
    return;
  }
  // A job that runs again after a crash between this INSERT and its failure being recorded
  // (the worker SIGKILLed) must not store its rejection twice: the outbox_applied ledger lets
  // the first one through, in the same statement.
  await db.query(
    `WITH fresh AS (
       INSERT INTO outbox_applied (key) VALUES ($3) ON CONFLICT DO NOTHING RETURNING key
     )
     INSERT INTO audit_logs (at, signal_id, event, details)
     SELECT now(), $1, 'op_rejected', $2 FROM fresh`,
    [storedId(id), details, rejectionLedgerKey(QUEUE_NAMES.signalOps, jobId, details)],
  );
}
