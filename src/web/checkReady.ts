import { readdirSync } from 'node:fs';
import type { RedisClient } from '../RedisClient.ts';
import type pg from 'pg';
import { listAppliedMigrations } from '../storage/listAppliedMigrations.ts';
import { MIGRATIONS_DIR } from '../storage/migrate.ts';
import { coerceError } from '../errors.ts';
import { withTimeout } from './checkHealth.ts';

export interface ReadyReport {
  status: 'ready' | 'not ready';
  redis: 'ok' | 'error';
  postgres: 'ok' | 'error';
  /** `pending`: migrations of this version are not applied yet; `unknown` when PostgreSQL failed. */
  migrations: 'ok' | 'pending' | 'unknown';
  /** The migrations this version has and the database lacks. */
  missing?: string[];
  /** What failed, by dependency. */
  errors?: { redis?: string; postgres?: string };
}

/** The migrations this version of the code ships (file names without `.sql`), read once. */
export function shippedMigrations(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => f.slice(0, -'.sql'.length));
}

/**
 * Whether this process can serve (`GET /ready`): Redis answers, PostgreSQL answers, and it
 * has every migration in `migrations/` applied. Unlike `/health` (is it alive?), this is for
 * a load balancer deciding where to send traffic: a new version whose schema is not migrated
 * yet is alive but not ready.
 */
export async function checkReady(
  redis: RedisClient,
  pool: pg.Pool,
  shipped: readonly string[],
  timeoutMs = 2000,
): Promise<ReadyReport> {
  const [r, applied] = await Promise.allSettled([
    withTimeout(redis.ping(), timeoutMs, 'Redis PING'),
    withTimeout(listAppliedMigrations(pool), timeoutMs, 'PostgreSQL migrations query'),
  ]);
  const missing = applied.status === 'fulfilled' ? shipped.filter((m) => !applied.value.includes(m)) : null;
  const report: ReadyReport = {
    status: r.status === 'fulfilled' && missing !== null && missing.length === 0 ? 'ready' : 'not ready',
    redis: r.status === 'fulfilled' ? 'ok' : 'error',
    postgres: applied.status === 'fulfilled' ? 'ok' : 'error',
    migrations: missing === null ? 'unknown' : missing.length === 0 ? 'ok' : 'pending',
  };
  if (missing !== null && missing.length > 0) report.missing = missing;
  if (r.status === 'rejected' || applied.status === 'rejected') {
    report.errors = {};
    if (r.status === 'rejected') report.errors.redis = coerceError(r.reason).message;
    if (applied.status === 'rejected') report.errors.postgres = coerceError(applied.reason).message;
  }
  return report;
}
