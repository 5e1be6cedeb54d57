import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { assertPublicHost } from '../events/publicAddress.ts';
import { EVENT_TYPES, isEventType } from '../events/TrackerEvent.ts';
import { deleteWebhook } from '../storage/deleteWebhook.ts';
import { findWebhook } from '../storage/findWebhook.ts';
import { insertWebhook } from '../storage/insertWebhook.ts';
import { listWebhookDeliveries } from '../storage/listWebhookDeliveries.ts';
import { listWebhooks } from '../storage/listWebhooks.ts';
import type { Principal } from './createKeyLookup.ts';
import { HttpError } from './httpErrors.ts';
import { tenantScope } from './tenantScope.ts';
import { ERROR_SCHEMA, OWN_VALIDATION, responses, TENANT_QUERY } from './v1/apiSchemas.ts';

export interface WebhookRoutesOptions {
  pool: pg.Pool;
  /** WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  /** WEBHOOKS_PER_TENANT: a tenant's webhooks at most (not deleted). */
  perTenant: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/*
 * OpenAPI descriptions of the routes. The handlers check their input themselves (manager,
 * webhookId, checkUrl, checkTypes, checkSecret, with their own messages), as they always have:
 * the schemas document it (OWN_VALIDATION) and shape the answers.
 */

/** A webhook needs a key with both read and submit, or admin (manager below). */
const SECURITY = { security: [{ apiKey: ['read', 'submit'] }] };
const WHO =
  'Scope `read` and `submit` (or `admin`); a key reaches its own tenant\'s webhooks only (docs/API.md "Webhooks").';
/** The `response` map of a route on one webhook: `ok`, the shared errors and 404 NOT_FOUND. */
function onOneWebhook(ok: Record<number, object>): Record<number, object> {
  const out = responses(ok, 404);
  out[404] = { description: 'NOT_FOUND: no webhook with that id for this key', $ref: `${ERROR_SCHEMA.$id}#` };
  return out;
}

const WEBHOOK_SCHEMA = {
  type: 'object',
  required: ['id', 'tenant', 'url', 'eventTypes', 'createdAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    tenant: { type: 'string' },
    url: { type: 'string', description: 'Normalised (WHATWG URL).' },
    eventTypes: { type: 'array', items: { enum: [...EVENT_TYPES] }, description: 'Empty: every type.' },
    createdAt: { type: 'integer', description: 'Epoch ms.' },
  },
};

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', format: 'uuid', description: 'The webhook id (anything else: 404).' } },
};

const CREATE_SCHEMA = {
  tags: ['webhooks'],
  summary: "Create a webhook: the tenant's events, signed, POSTed to a URL",
  description: `${WHO} Private, loopback and link-local addresses are refused unless WEBHOOK_ALLOW_PRIVATE=on. The secret is shown in this answer only. An admin key names the tenant (\`tenant\` in the body or the query).`,
  ...SECURITY,
  querystring: { type: 'object', properties: { ...TENANT_QUERY } },
  body: {
    type: 'object',
    required: ['url'],
    properties: {
      url: { type: 'string', maxLength: 2048, description: 'An http or https URL without credentials.' },
      eventTypes: {
        type: 'array',
        items: { enum: [...EVENT_TYPES] },
        description: 'The event types to send; absent or empty: every type.',
      },
      secret: {
        type: 'string',
        minLength: 16,
        maxLength: 200,
        pattern: '^[\\x20-\\x7e]{16,200}$',
        description:
          'The signing secret: 16 to 200 printable ASCII characters; absent: one is generated (`whsec_…`).',
      },
      tenant: {
        type: 'string',
        minLength: 1,
        description: "Admin keys: the webhook's tenant (or `?tenant=`). Others: only their own.",
      },
    },
  },
  response: responses(
    {
      201: {
        description: 'Created; the secret is shown here only.',
        ...WEBHOOK_SCHEMA,
        required: [...WEBHOOK_SCHEMA.required, 'secret'],
        properties: { ...WEBHOOK_SCHEMA.properties, secret: { type: 'string' } },
      },
    },
    409,
    413,
    415,
  ),
};

const LIST_SCHEMA = {
  tags: ['webhooks'],
  summary: 'List the webhooks (without their secrets)',
  description: `${WHO} An admin key sees every tenant's, or one with \`?tenant=\`.`,
  ...SECURITY,
  querystring: { type: 'object', properties: { ...TENANT_QUERY } },
  response: responses({
    200: {
      type: 'object',
      required: ['webhooks'],
      properties: { webhooks: { type: 'array', items: WEBHOOK_SCHEMA } },
    },
  }),
};

const DELETE_SCHEMA = {
  tags: ['webhooks'],
  summary: 'Delete a webhook',
  description: `${WHO} Deliveries still queued complete without being sent.`,
  ...SECURITY,
  params: ID_PARAMS,
  response: onOneWebhook({ 204: { description: 'Deleted.', type: 'null' } }),
};

const DELIVERIES_SCHEMA = {
  tags: ['webhooks'],
  summary: "A webhook's recent delivery attempts, newest first",
  description: WHO,
  ...SECURITY,
  params: ID_PARAMS,
  querystring: {
    type: 'object',
    properties: {
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: 1000,
        default: 100,
        description: 'At most this many attempts.',
      },
    },
  },
  response: onOneWebhook({
    200: {
      type: 'object',
      required: ['deliveries'],
      properties: {
        deliveries: {
          type: 'array',
          items: {
            type: 'object',
            required: [
              'deliveryId',
              'eventKey',
              'eventType',
              'attempt',
              'at',
              'statusCode',
              'error',
              'durationMs',
            ],
            properties: {
              deliveryId: {
                type: 'string',
                description: 'The X-OT-Delivery header: the same for every attempt.',
              },
              eventKey: { type: 'string', description: "The event's stable key." },
              eventType: { type: 'string' },
              attempt: {
                type: 'integer',
                description:
                  'Which sending of the delivery this was, from 1 (retries and runs again after a worker died count).',
              },
              at: { type: 'integer', description: 'Epoch ms.' },
              statusCode: {
                type: ['integer', 'null'],
                description: "The receiver's status; null when none came.",
              },
              error: {
                type: ['string', 'null'],
                description: 'Why the attempt failed; null when it succeeded.',
              },
              durationMs: { type: 'number' },
            },
          },
        },
      },
    },
  }),
};

/**
 * `/v1/webhooks` (docs/API.md "Webhooks"): a tenant's webhooks, created, listed, deleted, and
 * their recent delivery attempts. A webhook sends the tenant's events wherever it points, so
 * managing one needs what reading them and writing do: a key with both `read` and `submit`
 * (or `admin`); a key reaches its own tenant's webhooks only.
 */
export function webhookRoutes(opts: WebhookRoutesOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    // The hook checks read; manager() checks submit too. Input is checked by the handlers.
    const scope = { config: { scope: 'read' as const }, ...OWN_VALIDATION };

    app.post('/v1/webhooks', { ...scope, schema: CREATE_SCHEMA }, async (request, reply) => {
      const principal = manager(request);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const q = (request.query ?? {}) as Record<string, unknown>;
      const named =
        typeof body.tenant === 'string' ? body.tenant : typeof q.tenant === 'string' ? q.tenant : null;
      const tenant = tenantScope(principal, named);
      if (tenant === null)
        throw new HttpError('BAD_REQUEST', 'tenant: an admin key names the tenant of the webhook');
      const url = await checkUrl(body.url, opts.allowPrivate);
      const eventTypes = checkTypes(body.eventTypes);
      const secret = checkSecret(body.secret);
      const info = await insertWebhook(opts.pool, { tenant, url, eventTypes, secret }, opts.perTenant);
      if (info === null)
        throw new HttpError(
          'CONFLICT',
          `tenant ${JSON.stringify(tenant)} has ${opts.perTenant} webhooks already (WEBHOOKS_PER_TENANT): delete one first`,
        );
      // The secret is shown here, once: only the receiver needs it afterwards.
      return reply.code(201).send({ ...info, secret });
    });

    app.get('/v1/webhooks', { ...scope, schema: LIST_SCHEMA }, async (request) => {
      const principal = manager(request);
      const tenant = tenantScope(principal, (request.query as Record<string, string | undefined>).tenant);
      return { webhooks: await listWebhooks(opts.pool, tenant) };
    });

    app.delete('/v1/webhooks/:id', { ...scope, schema: DELETE_SCHEMA }, async (request, reply) => {
      const principal = manager(request);
      const id = webhookId(request);
      const tenant = principal.admin ? null : principal.tenant;
      if (!(await deleteWebhook(opts.pool, id, tenant))) throw new HttpError('NOT_FOUND', `no webhook ${id}`);
      return reply.code(204).send();
    });

    app.get('/v1/webhooks/:id/deliveries', { ...scope, schema: DELIVERIES_SCHEMA }, async (request) => {
      const principal = manager(request);
      const id = webhookId(request);
      const webhook = await findWebhook(opts.pool, id, principal.admin ? null : principal.tenant);
      if (webhook === null) throw new HttpError('NOT_FOUND', `no webhook ${id}`);
      const raw = (request.query as Record<string, string | undefined>).limit;
      const limit = raw === undefined ? 100 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new HttpError('BAD_REQUEST', 'limit: an integer from 1 to 1000');
      return { deliveries: await listWebhookDeliveries(opts.pool, id, limit) };
    });
  };
}

/** The principal, if it may manage webhooks: admin, or both read and submit. */
function manager(request: FastifyRequest): Principal {
  const p = request.principal!;
  if (p.admin || (p.scopes.includes('read') && p.scopes.includes('submit'))) return p;
  throw new HttpError(
    'SCOPE_FORBIDDEN',
    `webhooks need the read and submit scopes (or admin); the key has ${p.scopes.join(', ')}`,
  );
}

function webhookId(request: FastifyRequest): string {
  const id = (request.params as { id: string }).id;
  if (!UUID.test(id)) throw new HttpError('NOT_FOUND', `no webhook ${JSON.stringify(id)}`);
  return id.toLowerCase();
}

async function checkUrl(value: unknown, allowPrivate: boolean): Promise<string> {
  const bad = (reason: string): HttpError =>
    new HttpError('BAD_REQUEST', `url: ${reason}`, [{ field: 'url', reason }]);
  if (typeof value !== 'string' || value.length > 2048)
    throw bad('an http or https URL of at most 2048 characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('only http and https URLs');
  if (url.username !== '' || url.password !== '')
    throw bad('no credentials in the URL: verify the signature instead');
  if (!allowPrivate) {
    try {
      await assertPublicHost(url.hostname);
    } catch (err) {
      throw bad(
        `${err instanceof Error ? err.message : String(err)} (private, loopback and link-local addresses need WEBHOOK_ALLOW_PRIVATE=on)`,
      );
    }
  }
  return url.toString();
}

function checkTypes(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((t): t is string => typeof t === 'string' && isEventType(t)))
    throw new HttpError('BAD_REQUEST', `eventTypes: a list of ${EVENT_TYPES.join(', ')}`);
  return [...new Set(value)];
}

/**
 * A secret of 16 to 200 printable ASCII characters (space to tilde). ASCII so that its length is
 * the same to JavaScript, to PostgreSQL's CHECK and to the receiver's HMAC (an emoji counted two
 * here and one there: a secret that passed here failed the CHECK, a 500 whose logged error
 * repeated the row, secret included), and so that no NUL or lone surrogate is silently changed
 * on its way into the table, leaving deliveries signed with another secret than the one given.
 */
function checkSecret(value: unknown): string {
  if (value === undefined) return `whsec_${randomBytes(32).toString('base64url')}`;
  if (typeof value !== 'string' || !/^[\x20-\x7e]{16,200}$/.test(value))
    throw new HttpError(
      'BAD_REQUEST',
      'secret: 16 to 200 printable ASCII characters, space to ~ (or none: one is generated)',
    );
  return value;
}
