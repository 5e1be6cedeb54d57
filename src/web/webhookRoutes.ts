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

export interface WebhookRoutesOptions {
  pool: pg.Pool;
  /** WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `/v1/webhooks` (docs/API.md "Webhooks"): a tenant's webhooks, created, listed, deleted, and
 * their recent delivery attempts. A webhook sends the tenant's events wherever it points, so
 * managing one needs what reading them and writing do: a key with both `read` and `submit`
 * (or `admin`); a key reaches its own tenant's webhooks only.
 */
export function webhookRoutes(opts: WebhookRoutesOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const scope = { config: { scope: 'read' as const } };

    app.post('/v1/webhooks', scope, async (request, reply) => {
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
      const info = await insertWebhook(opts.pool, { tenant, url, eventTypes, secret });
      // The secret is shown here, once: only the receiver needs it afterwards.
      return reply.code(201).send({ ...info, secret });
    });

    app.get('/v1/webhooks', scope, async (request) => {
      const principal = manager(request);
      const tenant = tenantScope(principal, (request.query as Record<string, string | undefined>).tenant);
      return { webhooks: await listWebhooks(opts.pool, tenant) };
    });

    app.delete('/v1/webhooks/:id', scope, async (request, reply) => {
      const principal = manager(request);
      const id = webhookId(request);
      const tenant = principal.admin ? null : principal.tenant;
      if (!(await deleteWebhook(opts.pool, id, tenant))) throw new HttpError('NOT_FOUND', `no webhook ${id}`);
      return reply.code(204).send();
    });

    app.get('/v1/webhooks/:id/deliveries', scope, async (request) => {
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

function checkSecret(value: unknown): string {
  if (value === undefined) return `whsec_${randomBytes(32).toString('base64url')}`;
  if (typeof value !== 'string' || value.length < 16 || value.length > 200)
    throw new HttpError('BAD_REQUEST', 'secret: 16 to 200 characters (or none: one is generated)');
  return value;
}
