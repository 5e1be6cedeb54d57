import { coerceError } from '../errors.ts';

/** A service the command needs (Redis, PostgreSQL) that cannot be reached or failed. Exit code 1. */
export class ServiceError extends Error {
  override name = 'ServiceError';
}

/**
 * Where a service URL points, for messages: scheme, host, port and database, never the user
 * name or password.
 */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const port = u.port === '' ? '' : `:${u.port}`;
    const path = u.pathname === '/' ? '' : u.pathname;
    return `${u.protocol}//${u.hostname}${port}${path}`;
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * `err` from `service` at `url` as one {@link ServiceError}: "Redis at redis://host:6379:
 * connect ECONNREFUSED…", after `lead` when given ("cannot reach"). Errors that are already
 * ServiceErrors pass through.
 */
export function serviceError(service: string, url: string, err: unknown, lead = ''): ServiceError {
  if (err instanceof ServiceError) return err;
  const { message } = coerceError(err);
  return new ServiceError(`${lead === '' ? '' : `${lead} `}${service} at ${describeUrl(url)}: ${message}`);
}
