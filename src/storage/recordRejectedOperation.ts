import { codesOf, messagesOf, type TrackerError } from '../errors.ts';
import { abbreviate, storableJson } from '../validation/checkStorable.ts';
import type { Queryable } from './Queryable.ts';
import { STORED_PAYLOAD_BYTES, storedId } from './storedId.ts';

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
  // The operation is bounded on its own: bounding the whole record would cut a large
  // operation's reasons and job id away with it (the record became `{truncated, head}`).
  const details = {
    op: storableJson(op ?? null, STORED_PAYLOAD_BYTES),
    errors: storableJson(messagesOf(rejections), STORED_PAYLOAD_BYTES),
    codes: codesOf(rejections),
    jobId: jobId === null ? null : abbreviate(jobId, 200),
  };
  await db.query(
    `INSERT INTO audit_logs (at, signal_id, event, details) VALUES (now(), $1, 'op_rejected', $2)`,
    [storedId(id), JSON.stringify(details)],
  );
}
