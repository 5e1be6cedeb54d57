import type { Tick } from '../../../machines/types.ts';
import type { RedisClient } from '../../RedisClient.ts';
import { toWire } from '../../live/messages.ts';
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
 * `Idempotency-Key` on `POST /v1/ticks` (docs/API.md "Ticks"): a producer that sends a request
 * again after an error or a lost answer sends the same key, and its ticks are published once.
 *
 * The key is remembered per tenant for {@link IDEMPOTENCY_TTL_SECONDS}, with a fingerprint of the
 * ticks it carried. The request's ticks are published under a batch id made from the tenant and
 * the key, so two requests racing with one key, or a retry of a request that died half-way
 * through publishing, queue each shard job once (docs/QUEUES.md "Publishing ticks safely").
 * Once a publish has completed, a retry publishes nothing and gets the first answer again.
 */

/** The header's OpenAPI description (the route documents it). */
export const IDEMPOTENCY_KEY_HEADER = idempotencyKeyHeader(
  'Optional. A key unique to this request (a UUID, or your feed and sequence number). Send the same request again with the same key after an error or a lost answer: its ticks are published once. Remembered per tenant for 24 h; the same key with other ticks answers 409 IDEMPOTENCY_KEY_REUSED.',
);

export interface TickIdempotency {
  /** The batch id the ticks are published under (`createTickPublisher`). */
  batchId: string;
  /** What to answer now: publish (`publish`), or answer as the first time (`replay`). */
  claim(ticks: readonly Tick[]): Promise<{ action: 'publish' } | { action: 'replay'; published: number }>;
  /** Records that the publish completed with `published` ticks. */
  completed(published: number): Promise<void>;
}

/** The record kept under a key: the ticks' fingerprint, and the count once published. */
interface KeyRecord {
  ticks: string;
  published: number | null;
}

/**
 * The idempotency of one request of `tenant` carrying `key`.
 * @param redis the web process's connection (records live beside the queues)
 */
export function tickIdempotency(
  redis: RedisClient,
  prefix: string,
  tenant: string,
  key: string,
): TickIdempotency {
  const hash = idempotencyHash(tenant, key);
  const redisKey = new WebKeys(prefix).tickIdempotency(hash);
  let fingerprint = '';
  return {
    batchId: `http-${hash}`,
    async claim(ticks) {
      fingerprint = sha256(JSON.stringify(ticks.map((t) => toWire(t))));
      const record = await claimRecord<KeyRecord>(redis, redisKey, { ticks: fingerprint, published: null });
      if (record === null) return { action: 'publish' };
      if (record.ticks !== fingerprint)
        throw new HttpError(
          'IDEMPOTENCY_KEY_REUSED',
          'Idempotency-Key: already used by this tenant for other ticks in the last 24 hours; use a new key for a new request',
        );
      // Still being published (a request in flight, or one that failed half-way): publish
      // again under the same batch id, which queues each job once.
      return record.published === null
        ? { action: 'publish' }
        : { action: 'replay', published: record.published };
    },
    async completed(published) {
      const done: KeyRecord = { ticks: fingerprint, published };
      await redis.set(redisKey, JSON.stringify(done), 'EX', IDEMPOTENCY_TTL_SECONDS);
    },
  };
}
