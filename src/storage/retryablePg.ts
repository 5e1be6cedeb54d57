/**
 * Which PostgreSQL failures are worth retrying, in one table (as graphile-worker keeps them),
 * and the jittered backoff to retry them with. Anything not listed is a bug or bad data:
 * retrying it would fail the same way.
 */

/** SQLSTATE codes after which the same statement can succeed later. */
export const RETRYABLE_PG_CODES: Readonly<Record<string, string>> = {
  '40001': 'serialization_failure: another transaction won; run it again',
  '40P01': 'deadlock_detected: PostgreSQL aborted one side; run it again',
  '55P03': 'lock_not_available: a lock timeout expired',
  '57P01': 'admin_shutdown: the server is stopping (our connection was terminated)',
  '57P02': 'crash_shutdown: the server crashed',
  '57P03': 'cannot_connect_now: the server is starting up or in recovery',
  // Class 53, insufficient resources: a server short of memory, disk or lock-table room for now
  // (the lock table is shared by every connection, so another's locks can fill it).
  '53000': 'insufficient_resources',
  '53100': 'disk_full',
  '53200': 'out_of_memory (also "out of shared memory": the lock table is full)',
  '53300': 'too_many_connections',
  '53400': 'configuration_limit_exceeded',
  '08000': 'connection_exception',
  '08001': 'sqlclient_unable_to_establish_sqlconnection',
  '08003': 'connection_does_not_exist',
  '08004': 'sqlserver_rejected_establishment_of_sqlconnection',
  '08006': 'connection_failure',
};

/** Node socket errors: the server is down, restarting or unreachable. */
const RETRYABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** node-postgres reports a lost connection or a pool timeout without a code, only in words. */
const RETRYABLE_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /Client was closed and is not queryable/i,
];

/**
 * Whether `err` is PostgreSQL short of memory, disk or lock-table room (class 53 but for the
 * connection limits): transient, but a statement that is itself too large fails the same way
 * again, so a writer of batches splits it as well.
 */
export function isResourcePgError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '53000' || code === '53100' || code === '53200';
}

/** Whether `err` is a transient PostgreSQL or connection failure (see {@link RETRYABLE_PG_CODES}). */
export function isRetryablePgError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message, errors, cause } = err as {
    code?: unknown;
    message?: unknown;
    errors?: unknown;
    cause?: unknown;
  };
  if (typeof code === 'string' && (code in RETRYABLE_PG_CODES || RETRYABLE_SOCKET_CODES.has(code)))
    return true;
  if (typeof message === 'string' && RETRYABLE_MESSAGES.some((re) => re.test(message))) return true;
  // Node wraps a failed connect to several addresses (IPv4 + IPv6) in an AggregateError.
  if (Array.isArray(errors) && errors.length > 0 && errors.every(isRetryablePgError)) return true;
  return cause !== undefined && cause !== err && isRetryablePgError(cause);
}

export interface BackoffOptions {
  /** First delay. @defaultValue 100 */
  baseMs?: number;
  /** Largest delay. @defaultValue 30000 */
  maxMs?: number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry): exponential, capped, with
 * "equal jitter" (half fixed, half random) so that processes that failed together do not retry
 * together, yet no delay collapses to zero.
 */
export function backoffMs(
  attempt: number,
  { baseMs = 100, maxMs = 30_000 }: BackoffOptions = {},
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
