import { storableJson } from '../validation/checkStorable.ts';
import type { Queryable } from './Queryable.ts';
import { STORED_PAYLOAD_BYTES, storedId } from './storedId.ts';

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
    [storedId(id), JSON.stringify(storableJson({ op, errors, jobId }, STORED_PAYLOAD_BYTES))],
  );
}
