import type { FastifyInstance } from 'fastify';
import type { RedisClient } from '../RedisClient.ts';
import type pg from 'pg';
import type { Logger } from 'pino';
import { createEventReader } from '../events/createEventReader.ts';
import { EventKeys } from '../names.ts';
import { streamRoute } from './streamRoute.ts';
import { ERROR_SCHEMA } from './v1/apiSchemas.ts';
import { webhookRoutes } from './webhookRoutes.ts';

/** The web process's live side: SSE and webhook settings (config: liveOf). */
export interface LiveOptions {
  /** SSE_HEARTBEAT_MS. */
  heartbeatMs: number;
  /** SSE_MAX_BUFFER_BYTES. */
  maxBufferBytes: number;
  /** SSE_MAX_STREAMS_PER_KEY. */
  maxStreamsPerKey: number;
  /** WEBHOOK_ALLOW_PRIVATE. */
  allowPrivateWebhooks: boolean;
  /** WEBHOOKS_PER_TENANT. */
  webhooksPerTenant: number;
}

/**
 * `GET /v1/stream` and the `/v1/webhooks` routes (docs/API.md "Live stream", "Webhooks"), with
 * the process's one reader of the events stream, closed with the server. Registered in the
 * versioned API's scope (createWebServer), so its OpenAPI document lists them.
 */
export function liveRoutes(
  opts: LiveOptions & { redis: RedisClient; pool: pg.Pool; prefix: string; log: Logger },
): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    // Their error responses refer to the shared error body: already there under the versioned
    // API (its OpenAPI document lists these routes), added here when they are served alone.
    if (app.getSchema(ERROR_SCHEMA.$id) === undefined) app.addSchema(ERROR_SCHEMA);
    const reader = createEventReader({ redis: opts.redis, keys: new EventKeys(opts.prefix), log: opts.log });
    app.addHook('onClose', () => reader.close());
    await app.register(
      streamRoute({
        reader,
        heartbeatMs: opts.heartbeatMs,
        maxBufferBytes: opts.maxBufferBytes,
        maxStreamsPerKey: opts.maxStreamsPerKey,
      }),
    );
    await app.register(
      webhookRoutes({
        pool: opts.pool,
        allowPrivate: opts.allowPrivateWebhooks,
        perTenant: opts.webhooksPerTenant,
      }),
    );
  };
}
