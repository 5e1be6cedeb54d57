import type { RedisClient } from '../RedisClient.ts';
import type pg from 'pg';
import { IntakeKeys } from '../names.ts';
import { coerceError } from '../errors.ts';

export interface HealthReport {
  /** `degraded`: both answer here, but the intake workers report jobs waiting out an outage. */
  status: 'ok' | 'degraded' | 'error';
  redis: 'ok' | 'error';
  postgres: 'ok' | 'error';
  /** `degraded` while intake jobs wait for PostgreSQL (TRANSIENT_RETRY_MS): submissions are delayed, not lost. */
  intake: 'ok' | 'degraded';
  /** What failed, by dependency (absent when all is well). */
  errors?: { redis?: string; postgres?: string; intake?: string };
}

/**
 * Pings Redis and PostgreSQL, each within `timeoutMs`: with `maxRetriesPerRequest: null` a
 * Redis command waits for a reconnect forever, and a health check must answer anyway.
 */
export async function checkHealth(
  redis: RedisClient,
  pool: pg.Pool,
  prefix: string,
  timeoutMs = 2000,
): Promise<HealthReport> {
  const [r, p, outage] = await Promise.allSettled([
    withTimeout(redis.ping(), timeoutMs, 'Redis PING'),
    withTimeout(pool.query('SELECT 1'), timeoutMs, 'PostgreSQL SELECT 1'),
    withTimeout(redis.get(new IntakeKeys(prefix).outage), timeoutMs, 'Redis GET'),
  ]);
  const intakeOutage = outage.status === 'fulfilled' ? outage.value : null;
  const up = r.status === 'fulfilled' && p.status === 'fulfilled';
  const report: HealthReport = {
    status: !up ? 'error' : intakeOutage !== null ? 'degraded' : 'ok',
    redis: r.status === 'fulfilled' ? 'ok' : 'error',
    postgres: p.status === 'fulfilled' ? 'ok' : 'error',
    intake: intakeOutage !== null ? 'degraded' : 'ok',
  };
  if (report.status !== 'ok') {
    report.errors = {};
    if (r.status === 'rejected') report.errors.redis = coerceError(r.reason).message;
    if (p.status === 'rejected') report.errors.postgres = coerceError(p.reason).message;
    if (intakeOutage !== null) report.errors.intake = describeOutage(intakeOutage);
  }
  return report;
}

/** The intake's outage flag in words: since when jobs wait, and the last error. */
function describeOutage(flag: string): string {
  try {
    const { since, reason } = JSON.parse(flag) as { since: number; reason: string };
    return `jobs waiting for PostgreSQL since ${new Date(since).toISOString()}: ${reason}`;
  } catch {
    return 'jobs waiting for PostgreSQL';
  }
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
