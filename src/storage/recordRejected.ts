import type pg from 'pg';
import { codesOf, messagesOf, type TrackerError } from '../errors.ts';
import { abbreviate, storableJson } from '../validation/checkStorable.ts';
import { QUEUE_NAMES, rejectionLedgerKey } from '../names.ts';
import { inTransaction } from './inTransaction.ts';
import { insertRejected } from './insertRejected.ts';
import { STORED_PAYLOAD_BYTES, storedId } from './storedId.ts';

/**
 * Stores a rejected payload with every reason, and its `rejected` audit row. Whatever the
 * payload holds (NUL characters, 100,000 levels of nesting, a 1 MB id), the rejection is
 * stored: in the form {@link storableJson} gives it, the id cut to a bounded length.
 * `signals.errors` holds the messages; the audit row holds them and their codes (`codes`, one
 * per message). Once per job: the same job rejected again with the same reasons adds nothing.
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
  const row = {
    id: storedId(id),
    tenant,
    payload: stored,
    errors: reasons,
    codes: codesOf(rejections),
    jobId,
  };
  await inTransaction(pool, async (client) => {
    if (jobId !== null) {
      // A job that runs again after a crash between COMMIT and its failure being recorded (the
      // worker SIGKILLed) must not store its rejection twice: the ledger lets the first through.
      const key = rejectionLedgerKey(
        QUEUE_NAMES.trackSignal,
        jobId,
        JSON.stringify([row.id, stored, reasons]),
      );
      const fresh = await client.query(
        `INSERT INTO outbox_applied (key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING key`,
        [key],
      );
      if (fresh.rowCount === 0) return;
    }
    await insertRejected(client, row);
  });
}
