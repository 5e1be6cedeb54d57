import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PG_MIGRATE_LOCK_ID, runner } from 'node-pg-migrate';

/** The plain SQL migrations (`-- Up Migration` / `-- Down Migration` sections), applied in file-name order. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Table in which node-pg-migrate records the migrations it has applied. */
export const MIGRATIONS_TABLE = 'pgmigrations';

/** The subset of a pino logger that migrations use. */
export interface MigrateLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Retention of raw rows, in days; `null` removes the policy (keep forever). TimescaleDB only. */
export interface RetentionOptions {
  /** signal_outcomes and tp_sl_hits; must exceed the 30-day daily_outcomes refresh window. */
  outcomesDays: number | null;
  /** audit_logs. */
  auditDays: number | null;
}

export interface MigrateOptions {
  /** PostgreSQL connection string. */
  databaseUrl: string;
  log: MigrateLog;
  /**
   * How long to wait for another process that is migrating the same database.
   * @defaultValue 300_000
   */
  lockTimeoutMs?: number;
  /**
   * Retention policies to set after migrating. Left out, existing policies stay as they are
   * (a fresh database has none: nothing is ever dropped).
   */
  retention?: RetentionOptions;
}

/** What {@link runMigrations} needs from a connection: node-pg-migrate only calls `query`. */
export type MigrationClient = Pick<pg.ClientBase, 'query'>;

/**
 * Brings the database at `databaseUrl` up to date with `migrations/`. Safe to call from any number of
 * processes at once: they take turns on node-pg-migrate's advisory lock and each migration runs once.
 * Returns the names of the migrations this call applied.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const { databaseUrl, log } = options;
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'outcome-tracker migrate',
    // An unreachable server fails the start (or the command) instead of hanging it.
    connectionTimeoutMillis: 10_000,
  });
  // Without a listener a dropped connection would crash the process instead of failing the query.
  client.on('error', (err) => log.error({ err }, 'migration connection failed'));
  // The migrations report with RAISE NOTICE which storage path they took (TimescaleDB or plain).
  client.on('notice', (notice) => log.info({ notice: notice.message }, 'postgres notice during migration'));
  await client.connect();
  try {
    return await runMigrations(client, options);
  } finally {
    await client.end();
  }
}

/**
 * {@link migrate} on a connection the caller owns (used by tests that drive PGlite through an
 * adapter). The connection must not be shared with other work while this runs.
 */
export async function runMigrations(
  client: MigrationClient,
  { log, lockTimeoutMs = 300_000, retention }: Omit<MigrateOptions, 'databaseUrl'>,
): Promise<string[]> {
  const lockId = String(PG_MIGRATE_LOCK_ID);
  // node-pg-migrate takes its lock with pg_try_advisory_lock and throws "Another migration is already
  // running" when it is taken, so processes starting together would fail. Wait for the same lock first:
  // session-level advisory locks stack, so the runner's own try-lock on this session then succeeds, its
  // unlock leaves ours held, and the node-pg-migrate CLI still excludes us and we it.
  await client.query(`SET lock_timeout = ${Math.max(1, Math.trunc(lockTimeoutMs))}`);
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [lockId]);
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') {
      throw new Error(`gave up after ${lockTimeoutMs} ms waiting for another process's migration`, {
        cause: err,
      });
    }
    throw err;
  } finally {
    await client.query('RESET lock_timeout');
  }

  try {
    const applied = await runner({
      // The runner only calls query(); MigrationClient keeps the PGlite adapter honest about that.
      dbClient: client as pg.ClientBase,
      dir: MIGRATIONS_DIR,
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'up',
      count: Infinity,
      // All pending migrations or none: a half-migrated schema is worse than an old one.
      singleTransaction: true,
      checkOrder: true,
      logger: {
        // The runner prints every statement at info level; that is debug detail for us.
        debug: (msg: string) => log.debug({ runner: msg }, 'node-pg-migrate'),
        info: (msg: string) => log.debug({ runner: msg }, 'node-pg-migrate'),
        warn: (msg: string) => log.warn({ runner: msg }, 'node-pg-migrate'),
        error: (msg: string) => log.error({ runner: msg }, 'node-pg-migrate'),
      },
    });
    const names = applied.map((m) => m.name);
    log.info({ applied: names }, names.length > 0 ? 'database migrated' : 'database schema up to date');

    if (retention) {
      await client.query('SELECT outcome_tracker_set_retention($1::interval, $2::interval)', [
        daysInterval(retention.outcomesDays, 'outcomesDays'),
        daysInterval(retention.auditDays, 'auditDays'),
      ]);
      log.info({ retention }, 'retention policies set');
    }
    return names;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockId]).catch((err: unknown) => {
      // Closing the connection releases the lock anyway; do not hide the error that got us here.
      log.warn({ err }, 'could not release the migration lock');
    });
  }
}

function daysInterval(days: number | null, name: string): string | null {
  if (days === null) return null;
  if (!Number.isInteger(days) || days <= 0) {
    throw new RangeError(`retention.${name} must be a positive whole number of days or null, got ${days}`);
  }
  return `${days} days`;
}
