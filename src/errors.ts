/**
 * The error catalogue: every reason the tracker rejects a payload, an operation or a shard job
 * carries one of these codes beside its message. Replay and the live system give the same code
 * and the same words for the same rejection. docs/ERRORS.md documents each code (a test keeps the
 * two in step); codes are stable: producers may switch on them.
 *
 * Pure: imported by `machines/` and by the validation, replay and live layers alike.
 */

/** Every error code, each with a one-line description (docs/ERRORS.md says more). */
export const ERROR_CODES = {
  /** Job data or an input line is not JSON (e.g. `NaN`, `Infinity`, a truncated line). */
  PAYLOAD_NOT_JSON: 'the payload is not valid JSON',
  /** The payload does not match its JSON Schema (docs/schemas): a missing, unknown or mistyped field. */
  PAYLOAD_SCHEMA: 'a field is missing, unknown or of the wrong type or range',
  /** Live only: the payload, as JSON, is larger than MAX_PAYLOAD_BYTES. */
  PAYLOAD_TOO_LARGE: 'the payload is larger than MAX_PAYLOAD_BYTES',
  /** Live only: a NUL character, an unpaired UTF-16 surrogate, or nesting PostgreSQL cannot store. */
  PAYLOAD_UNSTORABLE: 'the payload holds content PostgreSQL cannot store',
  /** Live only: `createdAt` or an operation's `ts` is before MIN_EPOCH_MS (often seconds, not ms). */
  TIME_BEFORE_MIN_EPOCH: 'a time is before MIN_EPOCH_MS',
  /** Live only: `createdAt` or an operation's `ts` is more than MAX_CLOCK_SKEW_MS ahead of the clock. */
  TIME_AHEAD_OF_CLOCK: 'a time is too far ahead of the wall clock',
  /** The take-profit fractions sum to more than 1. */
  TP_FRACTION_SUM: 'take-profit fractions sum to more than 1',
  /** Stop, entry (or last exit trigger price) and take-profits are not in order for the side. */
  LEVEL_ORDER: 'the levels are not in order for the side',
  /** A field names a take-profit the signal does not have (`breakevenAfterTp`, `afterTp`, an amend's `level`). */
  TP_LEVEL_UNKNOWN: 'a take-profit level that does not exist',
  /** `entryExpiresAt` is not after `createdAt`. */
  EXPIRY_NOT_AFTER_CREATED: 'entryExpiresAt is not after createdAt',
  /** `roi[].afterMs` do not strictly increase. */
  ROI_ORDER: 'roi afterMs values do not strictly increase',
  /** A signal repeats the id of one accepted before; the first one stays tracked. */
  DUPLICATE_ID: 'a signal with this id was accepted before',
  /** An operation names a signal that was never accepted. */
  SIGNAL_UNKNOWN: 'no accepted signal has this id',
  /** Live only: the signal was accepted but its shard registration never followed. */
  SIGNAL_UNREGISTERED: 'the signal was accepted but never registered on its shard',
  /** An operation names a signal that has already closed. */
  SIGNAL_CLOSED: 'the signal is already closed',
  /** An operation's `ts` is before its signal's `createdAt`. */
  OP_BEFORE_CREATED: 'the operation is dated before its signal was created',
  /** An amend gives no level, or only the current ones. */
  AMEND_NO_CHANGE: 'the amend changes nothing',
  /** An amend names the same take-profit twice. */
  AMEND_TP_REPEATED: 'the amend names a take-profit twice',
  /** An amend moves a take-profit that has already filled. */
  AMEND_TP_FILLED: 'the amend moves a take-profit that has filled',
  /** An exit with a `fraction` on a signal that has not filled. */
  EXIT_FRACTION_PENDING: 'a fraction on an exit of a pending signal',
  /** An exit `price` more than 2000 bps from the last exit trigger price, without `force: true`. */
  EXIT_PRICE_FAR: 'the exit price is far from the market (send force: true)',
  /** A shard queue job is not of a known kind or shape; recorded as poison and skipped. */
  SHARD_JOB_MALFORMED: 'the shard job is malformed',
  /** Anything else thrown and caught (a service failure, a bug): the message is the original one. */
  UNEXPECTED: 'an unexpected error',
} as const;

/** A documented error code; see {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Every code, in catalogue order. */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as readonly ErrorCode[];

/** One reason something was rejected: a stable code and a sentence naming the field and the values. */
export interface TrackerError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** A rejection reason (a plain object: it goes into JSON as it is). */
export function trackerError(code: ErrorCode, message: string): TrackerError {
  return { code, message };
}

/** Whether `code` is one of ours. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * Anything thrown or caught, as a {@link TrackerError}: a tracker error (or an Error carrying one
 * of our codes) keeps its code; anything else is `UNEXPECTED` with a message that is never empty:
 * an Error's message, else its `code` (Node's `ECONNREFUSED`) or name; an AggregateError (a
 * connection tried on IPv4 and IPv6) its errors' messages; anything else as `String()` gives it.
 */
export function coerceError(err: unknown): TrackerError {
  if (typeof err === 'object' && err !== null) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (isErrorCode(code) && typeof message === 'string') return { code, message };
  }
  return { code: 'UNEXPECTED', message: messageOf(err) };
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return err.message || (typeof code === 'string' && code !== '' ? code : err.name);
  }
  return String(err);
}

/** The messages alone (the public string lists: replay output, `signals.errors`). */
export function messagesOf(errors: readonly TrackerError[]): string[] {
  return errors.map((e) => e.message);
}

/** The codes alone, in the order of the messages (stored beside them: audit `details.codes`). */
export function codesOf(errors: readonly TrackerError[]): ErrorCode[] {
  return errors.map((e) => e.code);
}

/**
 * One line for a job failure or stderr: each message followed by its code in brackets,
 * `stopLoss.price: 101 must be below the entry price 100 for a long [LEVEL_ORDER]; …`.
 */
export function describeErrors(errors: readonly TrackerError[]): string {
  return errors.map((e) => `${e.message} [${e.code}]`).join('; ');
}
