import type { Logger } from 'pino';
import { backoffMs, isRetryablePgError, type BackoffOptions } from './retryablePg.ts';
import { coerceError } from '../errors.ts';

/** An outage in progress, as `/health` reports it. */
export interface OutageState {
  /** Wall ms of the first failure of this outage. */
  since: number;
  /** The last error's message (never a credential: node-postgres and ioredis print none). */
  reason: string;
}

export interface TransientRetryOptions {
  log: Logger;
  /** The dependency, for messages ("PostgreSQL"). */
  dependency: string;
  /** How long one call keeps retrying before it gives up (TRANSIENT_RETRY_MS). */
  budgetMs: number;
  now: () => number;
  /** Which errors are transient. @defaultValue isRetryablePgError */
  isTransient?: (err: unknown) => boolean;
  /** Called when an outage starts, again on each retry while it lasts, and with null when it ends. */
  onState?: (state: OutageState | null) => void;
  /** @defaultValue 100 ms doubling to 10 s, jittered */
  backoff?: BackoffOptions;
  sleep?: (ms: number) => Promise<void>;
}

/** A call that stayed failing for longer than the budget; its `cause` is the last error. */
export class TransientBudgetError extends Error {
  override name = 'TransientBudgetError';
}

export interface TransientRetry {
  /**
   * Runs `fn`; while it fails with a transient error, waits (jittered backoff) and runs it
   * again, for up to the budget counted from its first failure. Any other error is thrown at
   * once. One warning per outage, however many calls wait in it, and one line when it ends.
   */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** The outage in progress, or null. */
  state(): OutageState | null;
}

/**
 * Transient is not bad (DESIGN.md decision 13): a job whose database is briefly down waits for
 * it instead of failing, so an outage delays submissions and loses none. Shared by every job of
 * a process, so that a thousand waiting jobs log one outage, not a thousand errors.
 */
export function createTransientRetry(opts: TransientRetryOptions): TransientRetry {
  const isTransient = opts.isTransient ?? isRetryablePgError;
  /** Calls waiting out their backoff: woken at once when another call gets through. */
  const sleepers = new Set<() => void>();
  const sleep =
    opts.sleep ??
    ((ms: number) =>
      new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          sleepers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        sleepers.add(wake);
      }));
  const backoff = opts.backoff ?? { baseMs: 100, maxMs: 10_000 };
  let outage: OutageState | null = null;

  function failed(err: unknown): void {
    const reason = coerceError(err).message;
    if (outage === null) {
      outage = { since: opts.now(), reason };
      opts.log.warn(
        { err, dependency: opts.dependency },
        `${opts.dependency} unreachable; jobs wait and retry (TRANSIENT_RETRY_MS)`,
      );
    } else {
      outage.reason = reason;
    }
    opts.onState?.(outage);
  }

  function succeeded(): void {
    if (outage === null) return;
    opts.log.info(
      { dependency: opts.dependency, outageMs: opts.now() - outage.since },
      `${opts.dependency} reachable again; waiting jobs resume`,
    );
    outage = null;
    opts.onState?.(null);
    // The dependency is back: the others need not sit out the rest of their backoff (up to
    // 10 s), behind which the operations waiting for their signals would otherwise count down.
    for (const wake of [...sleepers]) wake();
  }

  return {
    async run(fn) {
      let firstFailure: number | null = null;
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await fn();
          succeeded();
          return result;
        } catch (err) {
          if (!isTransient(err)) throw err;
          const now = opts.now();
          firstFailure ??= now;
          failed(err);
          if (now - firstFailure >= opts.budgetMs) {
            throw new TransientBudgetError(
              `${opts.dependency} unreachable for ${Math.round((now - firstFailure) / 1000)} s ` +
                `(TRANSIENT_RETRY_MS is ${opts.budgetMs}): ${outage?.reason ?? 'unknown error'}`,
              { cause: err },
            );
          }
          await sleep(backoffMs(attempt, backoff));
        }
      }
    },
    state: () => outage,
  };
}

/**
 * Redis refusing a command for now, not for its content: full (`OOM` under `noeviction`,
 * docs/OPERATIONS.md "Persistence"), loading its data after a restart, a replica or a cluster
 * in the middle of a failover, a script running too long; or the connection lost.
 */
const TRANSIENT_REDIS_REPLIES = /^(OOM|LOADING|READONLY|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN)\b/;
const TRANSIENT_REDIS_MESSAGES = [/Connection is closed/i, /Stream isn't writeable/i];

/** Whether `err` is a transient Redis failure (see above) or a lost connection. */
export function isTransientRedisError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  return isRedisUnavailable(err) || isRetryablePgError({ code: (err as { code?: unknown }).code });
}

/**
 * Whether `err` is Redis's own answer or client error for being unavailable for now (the
 * replies and messages above, or a command over the client's `commandTimeout`), as opposed to
 * a network error code that PostgreSQL's client gives too.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const message = String((err as { message?: unknown }).message ?? '');
  return (
    TRANSIENT_REDIS_REPLIES.test(message) ||
    TRANSIENT_REDIS_MESSAGES.some((re) => re.test(message)) ||
    /^Command timed out\b/.test(message)
  );
}
