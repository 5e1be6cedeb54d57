import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Queue, type ConnectionOptions } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { AnalyzeJobData } from '../../analyzer/analyzeJob.ts';
import { createTickPublisher } from '../../live/createTickPublisher.ts';
import { QUEUE_NAMES } from '../../names.ts';
import { version } from '../../version.ts';
import type { LiveGuards } from '../../validation/screenPayload.ts';
import { analysisRoutes } from './analysisRoutes.ts';
import type { ApiDeps } from './ApiDeps.ts';
import { addApiSchemas } from './apiSchemas.ts';
import { outcomeRoutes } from './outcomeRoutes.ts';
import { signalRoutes } from './signalRoutes.ts';
import { tickRoutes } from './tickRoutes.ts';

export interface V1Options {
  pool: pg.Pool;
  /** Reads shard state (GET /v1/signals/{id}). */
  redis: Redis;
  /** BullMQ connection of the queues the routes add to. */
  connection: ConnectionOptions;
  prefix: string;
  shards: number;
  guards: LiveGuards;
  /** TICK_BATCH_SIZE. */
  tickBatchSize: number;
  /** HTTP_BODY_LIMIT_BYTES. */
  bodyLimit: number;
  log: Logger;
  /** The wall clock (injected: only process wiring reads Date.now). */
  now: () => number;
  /** Told of each signal stored as rejected by `POST /v1/signals` (metrics). */
  onRejected?: (code: string) => void;
}

/** Where the OpenAPI document is served (public). */
export const OPENAPI_PATH = '/v1/openapi.json';
/** Where the browsable documentation is served (public). */
export const DOCS_PATH = '/docs';

/**
 * The versioned HTTP API (docs/API.md): the `/v1` routes, their OpenAPI 3.1 document at
 * {@link OPENAPI_PATH} and Swagger UI at {@link DOCS_PATH} (both public: they describe the API,
 * they hold no data). For createWebServer's `routes`, behind the Host check, the keys and the
 * rate limit; every route declares its scope in `config.scope` and, for the document, in
 * `security`. Closing the server closes the queues opened here.
 */
export function v1Routes(options: V1Options): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    const queue = <T>(name: string) => {
      const q = new Queue<T>(name, { connection: options.connection, prefix: options.prefix });
      q.on('error', (err) => options.log.error({ err, queue: name }, 'queue error'));
      return q;
    };
    const deps: ApiDeps = {
      pool: options.pool,
      redis: options.redis,
      prefix: options.prefix,
      shards: options.shards,
      guards: options.guards,
      bodyLimit: options.bodyLimit,
      queues: {
        trackSignal: queue(QUEUE_NAMES.trackSignal),
        signalOps: queue(QUEUE_NAMES.signalOps),
        analyze: queue<AnalyzeJobData>(QUEUE_NAMES.analyze),
      },
      ticks: createTickPublisher({
        connection: options.connection,
        prefix: options.prefix,
        shards: options.shards,
        batchSize: options.tickBatchSize,
        onError: (err) => options.log.error({ err }, 'tick publisher error'),
      }),
      log: options.log,
      now: options.now,
      onRejected: options.onRejected,
    };
    app.addHook('onClose', async () => {
      await Promise.all([...Object.values(deps.queues).map((q) => q.close()), deps.ticks.close()]);
    });

    addApiSchemas(app);
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'outcome-tracker',
          version: version(),
          description:
            'Tracks trading signals to their outcome. Keys, scopes, tenants, rate limits and errors: docs/API.md. ' +
            'Each operation lists the scope its key needs under `security`.',
        },
        components: {
          securitySchemes: {
            apiKey: {
              type: 'http',
              scheme: 'bearer',
              description: 'Authorization: Bearer otk_… (docs/API.md)',
            },
          },
        },
      },
      // The published schemas keep their file names as component names.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string'
            ? json.$id
                .split('/')
                .pop()!
                .replace(/\.json$/, '')
            : `def-${i}`,
      },
    });

    app.get(
      OPENAPI_PATH,
      { config: { scope: 'public' }, logLevel: 'warn', schema: { hide: true } },
      async () => app.swagger(),
    );
    await app.register(async (docs) => {
      // Swagger UI's own routes (its page and bundled assets, no CDN) are public, like the document.
      docs.addHook('onRoute', (route) => {
        route.config = { ...(route.config as object), scope: 'public' };
      });
      await docs.register(swaggerUi, { routePrefix: DOCS_PATH, uiConfig: { url: OPENAPI_PATH } as object });
    });

    signalRoutes(app, deps);
    outcomeRoutes(app, deps);
    analysisRoutes(app, deps);
    tickRoutes(app, deps);
  };
}
