import { Cluster, Redis } from 'ioredis';
import { destination, pino, type Logger, type LoggerOptions } from 'pino';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { ConfigError, retentionOf, type Config, type RedisTarget } from '../config.ts';
import { createTransientRetry } from '../storage/retryTransient.ts';
import { migrate } from '../storage/migrate.ts';
import type { RedisClient } from '../RedisClient.ts';
import { serveMetrics, type MetricsServer } from '../telemetry/serveMetrics.ts';

/**
 * Fields a log line never shows (pino replaces them with "[redacted]"): credentials in request
 * headers, and any field named key, password or secret, at the top level or one level down
 * (`{ apiKey: { key } }`, `{ db: { password } }`). Nothing of ours logs them on purpose; this
 * is for the day something does (a request logged with its headers, an error carrying its
 * options).
 */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers.cookie',
  'key',
  'password',
  'secret',
  '*.key',
  '*.password',
  '*.secret',
  // PostgreSQL's "Failing row contains (…)" repeats a refused row's values, a webhook's secret
  // among them: the logged error keeps its message and code, not that detail.
  'err.detail',
];

/** The options of every root logger (createLogger; tests build theirs from them). */
export function loggerOptions(config: Pick<Config, 'LOG_LEVEL'>, name: string): LoggerOptions {
  return { name, level: config.LOG_LEVEL, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } };
}

/**
 * One root logger per process, writing stdout synchronously. pino's default stdout stream is
 * asynchronous and flushes what is pending synchronously at `process.exit`, retrying a failed
 * write every 100 ms for ever (sonic-boom 4 retries any error of that flush): when stdout's
 * reader had gone (a Procfile runner or log shipper that died), a process never exited, on
 * SIGTERM or on its shutdown timeout. Written synchronously, a line's EPIPE is raised at once,
 * pino stops writing to the dead stream, and nothing is pending at exit. A line written so
 * costs no more CPU than the asynchronous stream's (6.7–7.2 against 7.3–7.5 µs, 100,000
 * request-sized lines to a pipe) and holds the event loop 12–13 µs instead of 8–10.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, name: string): Logger {
  return pino(loggerOptions(config, name), destination({ dest: 1, sync: true }));
}

/**
 * A Redis client as BullMQ's production guide wants it for workers (never gives up a command): to
 * one server, or (REDIS_CLUSTER_NODES) to a Redis Cluster, whose other nodes it discovers and
 * follows through resharding (MOVED/ASK) and failover.
 */
export function createRedis(
  target: RedisTarget,
  log: Logger,
  role: string,
  /** Fail a command not answered within this (the web process: a request answers 503 rather than hang); absent: wait. */
  commandTimeoutMs?: number,
): RedisClient {
  const options = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: `outcome-tracker ${role}`,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
  };
  const redis =
    'url' in target
      ? new Redis(target.url, options)
      : new Cluster(target.clusterNodes, { redisOptions: options, enableReadyCheck: true });
  redis.on('error', (err: Error) => log.warn({ err, role }, 'redis connection error'));
  return redis;
}

/**
 * Warns when Redis keeps nothing on disk (neither AOF nor RDB snapshots): a restart would then
 * lose every checkpoint, and open signals would silently start over as pending ones
 * (docs/OPERATIONS.md "Persistence"). Managed Redis services that refuse CONFIG are let be.
 */
export async function warnIfRedisNotPersistent(redis: RedisClient, log: Logger): Promise<boolean> {
  let appendonly: string | undefined;
  let save: string | undefined;
  try {
    appendonly = ((await redis.config('GET', 'appendonly')) as string[])[1];
    save = ((await redis.config('GET', 'save')) as string[])[1];
  } catch (err) {
    log.debug({ err }, 'could not read the Redis persistence settings (CONFIG GET refused)');
    return false;
  }
  if (appendonly === 'yes' || (save !== undefined && save.trim() !== '')) return false;
  log.warn(
    { appendonly, save },
    'Redis has neither AOF nor RDB persistence: a Redis restart loses every open signal ' +
      '(enable appendonly yes; see docs/OPERATIONS.md "Persistence")',
  );
  return true;
}

/** A PostgreSQL pool; errors of idle clients are logged, not fatal. */
export function createPool(url: string, log: Logger, role: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: `outcome-tracker ${role}` });
  pool.on('error', (err) => log.warn({ err, role }, 'postgres pool error'));
  return pool;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: runs `close` (finish or hand back the current job,
 * flush, close connections) once; exits when it is done, or after `timeoutMs` anyway (a job
 * stuck on an unreachable Redis then stalls and is handed to another worker).
 */
export function onShutdown(log: Logger, close: () => Promise<void>, timeoutMs = 30_000): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Exit code of a process refused its settings (as the CLI's for bad input). */
export const EXIT_BAD_CONFIG = 2;
/** Exit code of a process that could not start otherwise (a service unreachable, say). */
export const EXIT_START_FAILED = 1;

/**
 * Guards a Procfile process's start: until the returned function is called, an error that
 * escapes (bad settings from loadConfig, PostgreSQL unreachable for the migration) ends the
 * process with one line on stderr naming the process and the problem, never a stack trace:
 * exit code {@link EXIT_BAD_CONFIG} for settings (every bad variable listed), else
 * {@link EXIT_START_FAILED}. Once started, errors go to the process's log as usual.
 */
export function guardStartup(name: string): () => void {
  const fail = (err: unknown): void => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      err instanceof ConfigError ? `${name}: ${message}\n` : `${name} could not start: ${message}\n`,
    );
    process.exit(err instanceof ConfigError ? EXIT_BAD_CONFIG : EXIT_START_FAILED);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  return () => {
    process.off('uncaughtException', fail);
    process.off('unhandledRejection', fail);
  };
}

/**
 * Applies the migrations at start-up when MIGRATE_ON_START is on, waiting out PostgreSQL being
 * unreachable (refused, starting, shutting down) for up to TRANSIENT_RETRY_MS, with one warning
 * per outage: a process restarted while PostgreSQL is briefly down starts late instead of
 * exiting (under a Procfile runner, one process exiting stops them all).
 */
export async function migrateOnStart(
  config: Pick<
    Config,
    'MIGRATE_ON_START' | 'TRANSIENT_RETRY_MS' | 'RETENTION_DAYS' | 'AUDIT_RETENTION_DAYS'
  > & {
    DATABASE_URL: string;
  },
  log: Logger,
): Promise<void> {
  if (!config.MIGRATE_ON_START) return;
  const retry = createTransientRetry({
    log: log.child({ component: 'migrate' }),
    dependency: 'PostgreSQL',
    budgetMs: config.TRANSIENT_RETRY_MS,
    now: Date.now,
  });
  await retry.run(() => migrate({ databaseUrl: config.DATABASE_URL, log, retention: retentionOf(config) }));
}

/**
 * The process's `GET /metrics` on METRICS_HOST:METRICS_PORT (worker, flusher, scheduler), or
 * null when METRICS_PORT is off. Called before any work starts: a port that cannot be had
 * stops the process (exit code 1) with one log line saying which setting to change.
 */
export async function serveConfiguredMetrics(
  config: Pick<Config, 'METRICS_HOST' | 'METRICS_PORT'>,
  registry: Registry,
  log: Logger,
): Promise<MetricsServer | null> {
  if (config.METRICS_PORT === null) return null;
  try {
    return await serveMetrics(registry, { host: config.METRICS_HOST, port: config.METRICS_PORT, log });
  } catch (err) {
    log.fatal(
      { host: config.METRICS_HOST, port: config.METRICS_PORT, reason: (err as Error).message },
      'cannot serve metrics: give this process its own METRICS_PORT, 0 for any free one, or off (docs/CONFIG.md)',
    );
    process.exit(1);
  }
}
