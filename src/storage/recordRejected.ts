import type pg from 'pg';
import { codesOf, messagesOf, type TrackerError } from '../errors.ts';
import { abbreviate, storableJson } from '../validation/checkStorable.ts';
import { inTransaction } from './inTransaction.ts';
import { insertRejected } from './insertRejected.ts';
import { STORED_PAYLOAD_BYTES, storedId } from './storedId.ts';

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
  await inTransaction(pool, (client) =>
    insertRejected(client, {
      id: storedId(id),
      tenant,
      payload: stored,
      errors: reasons,
      codes: codesOf(rejections),
      jobId,
    }),
  );
}
