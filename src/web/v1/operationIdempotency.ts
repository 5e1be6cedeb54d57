import type { RedisClient } from '../../RedisClient.ts';
import { WebKeys } from '../../names.ts';
import { HttpError } from '../httpErrors.ts';
import {
  claimRecord,
  IDEMPOTENCY_TTL_SECONDS,
  idempotencyHash,
  idempotencyKeyHeader,
  sha256,
} from './idempotencyKey.ts';

/**
 * `Idempotency-Key` on `POST /v1/signals/{id}/exit|cancel|amend` (docs/API.md "A signal, and
 * operations on it"): a client that sends an operation again after an error or a lost answer
 * sends the same key, and the operation is queued and applied once. A partial exit sent twice
 * would otherwise close twice the fraction.
 *
 * The operation is queued on `signal-ops` with a job id made from the tenant and the key (BullMQ
 * adds a job id once; the intake derives the shard job's id from it, and the shard applies that
 * once), under the time (`ts`) the first request gave it. The key is remembered per tenant for a
 * day with a fingerprint of the request; once queued, a retry queues nothing and gets the first
 * answer again.
 */

/** The header's OpenAPI description (the routes document it). */
export const OPERATION_IDEMPOTENCY_KEY_HEADER = idempotencyKeyHeader(
  'Optional. A key unique to this operation (a UUID). Send the same request again with the same key after an error or a lost answer: the operation is queued and applied once, with the time of the first request. Remembered per tenant for 24 h; the same key with another operation answers 409 IDEMPOTENCY_KEY_REUSED.',
);

/** The record kept under a key: the request's fingerprint, its time, and whether it was queued. */
interface KeyRecord {
  request: string;
  ts: number;
  queued: boolean;
}

export interface OperationIdempotency {
  /** The signal-ops job id of the operation. */
  jobId: string;
  /**
   * What to do with `request` (the operation as sent, before any default): queue it at `ts`
   * (this request's time, or the first request's when it is a retry of one not known to be
   * queued), or answer as the first time (`replay`).
   */
  claim(request: unknown, now: number): Promise<{ action: 'queue' | 'replay'; ts: number }>;
  /** Records that the operation is queued, at `ts`. */
  queued(ts: number): Promise<void>;
}

export function operationIdempotency(
  redis: RedisClient,
  prefix: string,
  tenant: string,
  key: string,
): OperationIdempotency {
  const hash = idempotencyHash(tenant, key);
  const redisKey = new WebKeys(prefix).operationIdempotency(hash);
  let fingerprint = '';
  return {
    jobId: `http-op-${hash}`,
    async claim(request, now) {
      fingerprint = sha256(JSON.stringify(request));
      const record = await claimRecord<KeyRecord>(redis, redisKey, {
        request: fingerprint,
        ts: now,
        queued: false,
      });
      if (record === null) return { action: 'queue', ts: now };
      if (record.request !== fingerprint)
        throw new HttpError(
          'IDEMPOTENCY_KEY_REUSED',
          'Idempotency-Key: already used by this tenant for another operation in the last 24 hours; use a new key for a new request',
        );
      return { action: record.queued ? 'replay' : 'queue', ts: record.ts };
    },
    async queued(ts) {
      const done: KeyRecord = { request: fingerprint, ts, queued: true };
      await redis.set(redisKey, JSON.stringify(done), 'EX', IDEMPOTENCY_TTL_SECONDS);
    },
  };
}
