import type { FastifyReply } from 'fastify';

/**
 * The error codes of the HTTP API so far, each with its status and meaning (docs/API.md
 * "Errors"). Clients may switch on `code`; the message is for people and may change. Until
 * the catalogue of all our error codes exists, the HTTP ones live here.
 */
export const HTTP_ERRORS = {
  /** No `Authorization: Bearer <key>` (nor, on Bull Board, Basic with the key as password). */
  API_KEY_MISSING: { status: 401, meaning: 'no API key was presented' },
  /** The key is not one of ours, or it was revoked. */
  API_KEY_INVALID: { status: 401, meaning: 'the API key is unknown or revoked' },
  /** A valid key without the scope the route needs. */
  SCOPE_FORBIDDEN: { status: 403, meaning: 'the API key lacks the scope this needs' },
  /** A request for another tenant's data with a key that is not admin. */
  TENANT_FORBIDDEN: { status: 403, meaning: 'the API key may not reach that tenant' },
  /** The Host header is not one of HTTP_ALLOWED_HOSTS (DNS rebinding). */
  HOST_FORBIDDEN: { status: 403, meaning: 'the Host header is not an allowed host' },
  /** More requests than HTTP_RATE_LIMIT_PER_MINUTE; `Retry-After` says when to come back. */
  RATE_LIMITED: { status: 429, meaning: 'too many requests' },
  /** No such route; also no webhook with that id for this key. */
  NOT_FOUND: { status: 404, meaning: 'no such route' },
  /** No signal with this id that the key may see (another tenant's answers the same: existence is not leaked). */
  SIGNAL_NOT_FOUND: { status: 404, meaning: 'no such signal' },
  /** A request the route cannot parse or accept as sent. */
  BAD_REQUEST: { status: 400, meaning: 'the request is malformed' },
  /** The query, path or body does not match the route's schema; `details` names each problem. */
  VALIDATION_FAILED: { status: 400, meaning: 'the request does not match the route' },
  /** The body is larger than HTTP_BODY_LIMIT_BYTES, or a batch holds more items than allowed. */
  PAYLOAD_TOO_LARGE: { status: 413, meaning: 'the request body is too large' },
  /** The request line and headers are larger than Node's limit (16 KiB): a query string too long. */
  HEADERS_TOO_LARGE: { status: 431, meaning: 'the URL or the headers are too large' },
  /** The request did not arrive whole within Node's request timeout. */
  REQUEST_TIMEOUT: { status: 408, meaning: 'the request did not arrive in time' },
  /** The body is not JSON (`Content-Type: application/json`). */
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'the body must be JSON' },
  /** Well-formed, but the tracker's rules refuse it; `details` carries each reason with its code (docs/ERRORS.md). */
  UNPROCESSABLE: { status: 422, meaning: 'the request breaks the rules of the tracker' },
  /** The request conflicts with the state of its target (an operation on a closed signal, a webhook over the tenant's limit). */
  CONFLICT: { status: 409, meaning: 'the request conflicts with the current state' },
  /** An `Idempotency-Key` this tenant already sent, within its 24 hours, with another request. */
  IDEMPOTENCY_KEY_REUSED: { status: 409, meaning: 'the Idempotency-Key was used for another request' },
  /** Something failed on our side (logged with the request id). */
  INTERNAL_ERROR: { status: 500, meaning: 'the server failed' },
  /**
   * Redis or PostgreSQL cannot be reached for now (down, restarting, over HTTP_REDIS_TIMEOUT_MS);
   * `Retry-After` says when to try again (docs/API.md "Errors": what a resend may repeat).
   */
  SERVICE_UNAVAILABLE: { status: 503, meaning: 'a service the tracker needs is unavailable for now' },
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** The body of every error answer: `{"error":{"code","message","details":[]}}`. */
export interface ErrorBody {
  error: { code: HttpErrorCode; message: string; details: unknown[] };
}

/** An error a route or hook throws to answer with one of {@link HTTP_ERRORS}. */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly statusCode: number;
  constructor(
    readonly code: HttpErrorCode,
    message: string = HTTP_ERRORS[code].meaning,
    readonly details: unknown[] = [],
  ) {
    super(message);
    this.statusCode = HTTP_ERRORS[code].status;
  }
  get body(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/**
 * Answers `reply` with `error`. Hooks answer this way rather than by throwing: a thrown error
 * goes to the error handler of the route's plugin, and Bull Board's plugin has its own.
 */
export function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  return reply.code(error.statusCode).type('application/json; charset=utf-8').send(error.body);
}
