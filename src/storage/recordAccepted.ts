import type pg from 'pg';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { recordAcceptedBatch, type AcceptedRecord } from './recordAcceptedBatch.ts';

export type { AcceptedRecord } from './recordAcceptedBatch.ts';

/**
 * Stores an accepted signal and its `accepted` audit row, once per id, and commits: a batch of
 * one (recordAcceptedBatch, which the intake uses). The caller registers the signal on its
 * shard only after this returns, then calls markForwarded.
 */
export async function recordAccepted(
  pool: pg.Pool,
  signal: NormalizedSignal,
  payload: unknown,
  jobId: string | null,
): Promise<AcceptedRecord> {
  return (await recordAcceptedBatch(pool, [{ signal, payload, jobId }]))[0]!;
}
