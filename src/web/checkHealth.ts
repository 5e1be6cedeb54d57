import type { Redis } from 'ioredis';
import type pg from 'pg';

export interface HealthReport {
  status: 'ok' | 'error';
  redis: 'ok' | 'error';
  postgres: 'ok' | 'error';
  /** What failed, by dependency (absent when all is well). */
  errors?: { redis?: string; postgres?: string };
}

/**
 * Pings Redis and PostgreSQL, each within `timeoutMs`: with `maxRetriesPerRequest: null` a
 * Redis command waits for a reconnect forever, and a health check must answer anyway.
 */
export async function checkHealth(redis: Redis, pool: pg.Pool, timeoutMs = 2000): Promise<HealthReport> {
  const [r, p] = await Promise.allSettled([
    withTimeout(redis.ping(), timeoutMs, 'Redis PING'),
    withTimeout(pool.query('SELECT 1'), timeoutMs, 'PostgreSQL SELECT 1'),
  ]);
  const report: HealthReport = {
    status: r.status === 'fulfilled' && p.status === 'fulfilled' ? 'ok' : 'error',
    redis: r.status === 'fulfilled' ? 'ok' : 'error',
    postgres: p.status === 'fulfilled' ? 'ok' : 'error',
  };
  if (report.status === 'error') {
    report.errors = {};
    if (r.status === 'rejected') report.errors.redis = messageOf(r.reason);
    if (p.status === 'rejected') report.errors.postgres = messageOf(p.reason);
  }
  return report;
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  // A late answer (or failure) of the abandoned promise must not surface as unhandled.
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  if (err instanceof Error) return err.message || (err as { code?: string }).code || err.name;
  return String(err);
}
