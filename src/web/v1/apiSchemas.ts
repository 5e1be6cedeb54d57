/**
 * The pieces of the OpenAPI document the `/v1` routes share: the published payload schemas
 * (docs/schemas, added as they are and referred to by `$id`), the error body, and the
 * responses every protected route may give.
 */
import type { FastifyInstance } from 'fastify';
import { signalOpSchema } from '../../validation/validateOperation.ts';
import { trackSignalSchema } from '../../validation/validateSignal.ts';
import type { Scope } from '../../names.ts';

const id = (schema: object): string => (schema as { $id: string }).$id;

/** `$ref` to the published track-signal payload schema. */
export const TRACK_SIGNAL_REF = { $ref: `${id(trackSignalSchema)}#` };

/** `$ref` to the fields of one operation in the published signal-op schema (its `if/then` branch). */
export const OPERATION_REFS = {
  exit: { $ref: `${id(signalOpSchema)}#/allOf/0/then` },
  cancel: { $ref: `${id(signalOpSchema)}#/allOf/1/then` },
  amend: { $ref: `${id(signalOpSchema)}#/allOf/2/then` },
} as const;

/** The error body of every refusal (docs/API.md "Errors"). */
export const ERROR_SCHEMA = {
  $id: 'ApiError',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string', description: 'Stable: switch on it (docs/API.md "Errors").' },
        message: { type: 'string', description: 'For people; may change.' },
        details: {
          type: 'array',
          description: 'Each problem, with a code of docs/ERRORS.md where it has one.',
          items: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
};

/** A rejection reason: a code of docs/ERRORS.md and a sentence naming the field. */
export const REASON_SCHEMA = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
};

/** Adds the shared schemas to `app` (once, before the routes that refer to them). */
export function addApiSchemas(app: FastifyInstance): void {
  app.addSchema(trackSignalSchema);
  app.addSchema(signalOpSchema);
  app.addSchema(ERROR_SCHEMA);
}

const ERROR_REF = { $ref: 'ApiError#' };
const DESCRIPTIONS: Record<number, string> = {
  400: 'BAD_REQUEST or VALIDATION_FAILED',
  401: 'API_KEY_MISSING or API_KEY_INVALID',
  403: 'SCOPE_FORBIDDEN, TENANT_FORBIDDEN or HOST_FORBIDDEN',
  404: 'SIGNAL_NOT_FOUND',
  409: 'CONFLICT or IDEMPOTENCY_KEY_REUSED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE: each reason with its code in details',
  429: 'RATE_LIMITED (see Retry-After)',
  431: 'HEADERS_TOO_LARGE: the URL (a query string) or the headers over 16 KiB',
  503: 'SERVICE_UNAVAILABLE: Redis or PostgreSQL unreachable for now (see Retry-After)',
};

/**
 * The `response` map of a protected route: its success answer and the errors every protected
 * route may give (400, 401, 403, 429, 431, 503), plus `extra` ones.
 */
export function responses(ok: Record<number, object>, ...extra: number[]): Record<number, object> {
  const out: Record<number, object> = { ...ok };
  for (const status of [400, 401, 403, ...extra, 429, 431, 503].sort((a, b) => a - b))
    out[status] = { description: DESCRIPTIONS[status], ...ERROR_REF };
  return out;
}

/**
 * The schema keys that document who may call a route: `security` names the bearer scheme
 * with the scope the route needs (OpenAPI's role list), as `config.scope` enforces it.
 */
export function secured(scope: Scope): { security: { apiKey: Scope[] }[] } {
  return { security: [{ apiKey: [scope] }] };
}

/** A route's body is checked by the tracker's own validation (same words as the queue's), not by fastify. */
export const OWN_VALIDATION = { validatorCompiler: () => () => true } as const;

/** `tenant` in a query: an admin names one; any other key may only name its own. */
export const TENANT_QUERY = {
  tenant: {
    type: 'string',
    minLength: 1,
    description: 'Admin keys: one tenant (default: every tenant). Others: only their own.',
  },
};
