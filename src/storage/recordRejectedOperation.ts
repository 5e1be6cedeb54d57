import { codesOf, messagesOf, type TrackerError } from '../errors.ts';
import { storableJson } from '../validation/checkStorable.ts';
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
  const details = { op, errors: messagesOf(rejections), codes: codesOf(rejections), jobId };
  await db.query(
    `INSERT INTO audit_logs (at, signal_id, event, details) VALUES (now(), $1, 'op_rejected', $2)`,
    [storedId(id), JSON.stringify(storableJson(details, STORED_PAYLOAD_BYTES))],
  );
}
