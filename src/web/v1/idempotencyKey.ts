import { createHash } from 'node:crypto';
import type { RedisClient } from '../../RedisClient.ts';
import { HttpError } from '../httpErrors.ts';

/**
 * What `Idempotency-Key` (docs/API.md) needs on every route that takes it: the header read and
 * checked, the hash a key is stored under, and the claim of a key's record in Redis.
 */

/** How long a key is remembered: a day, as the IETF draft's examples and the large payment APIs. */
export const IDEMPOTENCY_TTL_SECONDS = 86_400;

/** Printable ASCII without spaces, up to 255 characters: a UUID, a feed name with a sequence number. */
const KEY_TEXT = /^[\x21-\x7e]{1,255}$/;

/** The header as an OpenAPI parameter schema; `description` says what it does on the route. */
export function idempotencyKeyHeader(description: string) {
  return { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$', description } as const;
}

/** The answer header of a retry answered as the first request was (OpenAPI). */
export const IDEMPOTENT_REPLAYED_HEADER = {
  'Idempotent-Replayed': {
    type: 'string',
    enum: ['true'],
    description: 'Present on the answer to a retry of a completed request: nothing was done again.',
  },
} as const;

/** The header's value, or null without one; a key we cannot use is a 400. */
export function readIdempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (Array.isArray(header) || !KEY_TEXT.test(header))
    throw new HttpError(
      'BAD_REQUEST',
      'Idempotency-Key: must be one value of 1 to 255 printable characters, no spaces',
      [
        {
          field: 'Idempotency-Key',
          reason: 'one value of 1 to 255 printable ASCII characters without spaces',
        },
      ],
    );
  return header;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The hash a tenant's key is stored under: the tenant is part of it, so tenants' keys never meet. */
export function idempotencyHash(tenant: string, key: string): string {
  return sha256(`${tenant}\n${key}`);
}

/**
 * Claims `redisKey` for a request: stores `fresh` unless a record is there (for
 * IDEMPOTENCY_TTL_SECONDS) and returns null, or returns the record found.
 */
export async function claimRecord<R>(redis: RedisClient, redisKey: string, fresh: R): Promise<R | null> {
  const text = JSON.stringify(fresh);
  for (;;) {
    if ((await redis.set(redisKey, text, 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX')) === 'OK') return null;
    const seen = await redis.get(redisKey);
    // Expired between the two commands: this request is the first again.
    if (seen !== null) return JSON.parse(seen) as R;
  }
}
