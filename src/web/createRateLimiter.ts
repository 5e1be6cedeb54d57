import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import type { RateVerdict } from './authenticate.ts';
import { withTimeout } from './checkHealth.ts';

export interface RateLimiterOptions {
  /** Where the counters live, shared by every web process (a client of the caller's). */
  redis: RedisClient;
  /** QUEUE_PREFIX: the counters are `<prefix>:http-rate:<bucket>`. */
  prefix: string;
  /** HTTP_RATE_LIMIT_PER_MINUTE. */
  perMinute: number;
  log: Logger;
  /** Longest a request waits for its count. @defaultValue 1000 */
  timeoutMs?: number;
}

/**
 * The per-bucket limit of {@link authenticate}: `perMinute` requests per fixed one-minute
 * window, counted in Redis by @fastify/rate-limit's store (one Lua INCR + PEXPIRE per request)
 * so that every web process behind a load balancer draws on the same allowance.
 *
 * The plugin is registered without its own route hook: authenticate calls the limiter itself,
 * after the key is known (to count by key) and before it answers 401 (to count guesses by
 * address). When Redis does not answer within `timeoutMs` the request is let through and a
 * warning logged: the clients' Redis waits forever for a reconnect, and a limit must not turn
 * a Redis outage into an HTTP one.
 */
export async function createRateLimiter(
  app: FastifyInstance,
  opts: RateLimiterOptions,
): Promise<(request: FastifyRequest, bucket: string) => Promise<RateVerdict>> {
  // The bucket is decided by authenticate, per request; the plugin asks for it by request.
  const buckets = new WeakMap<FastifyRequest, string>();
  await app.register(rateLimit, {
    global: false,
    max: opts.perMinute,
    timeWindow: 60_000,
    redis: opts.redis,
    nameSpace: `${opts.prefix}:http-rate:`,
    keyGenerator: (request) => buckets.get(request) ?? `ip:${request.ip}`,
  });
  const count = app.createRateLimit();
  const timeoutMs = opts.timeoutMs ?? 1000;
  return async (request, bucket) => {
    buckets.set(request, bucket);
    let result: Awaited<ReturnType<typeof count>>;
    try {
      result = await withTimeout(count(request), timeoutMs, 'rate limit count');
    } catch (err) {
      request.log.warn({ err }, 'rate limit not applied: Redis did not answer');
      return { limited: false };
    }
    if (result.isAllowed || !result.isExceeded) return { limited: false };
    return { limited: true, retryAfterSeconds: Math.max(1, result.ttlInSeconds), max: result.max };
  };
}
