import { createBullBoard } from '@bull-board/api';
import fastifyCookie from '@fastify/cookie';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue, type ConnectionOptions } from 'bullmq';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifySchemaValidationError } from 'fastify';
import { trackerError } from '../errors.ts';
import { isCluster, type RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { QUEUE_NAMES, queueNameOn, shardQueueName } from '../names.ts';
import { allowedHosts } from './allowedHosts.ts';
import { authenticate } from './authenticate.ts';
import { checkHealth } from './checkHealth.ts';
import { checkReady, shippedMigrations } from './checkReady.ts';
import { createKeyLookup } from './createKeyLookup.ts';
import { createMetricsRegistry } from './createMetricsRegistry.ts';
import { createRateLimiter } from './createRateLimiter.ts';
import { DASHBOARD_ACCESS, dashboardRoutes } from './dashboard/dashboardRoutes.ts';
import { HTTP_ERRORS, HttpError, sendError, type HttpErrorCode } from './httpErrors.ts';
import { isRedisUnavailable } from '../storage/retryTransient.ts';
import { isRetryablePgError } from '../storage/retryablePg.ts';
import { liveRoutes, type LiveOptions } from './liveRoutes.ts';

export interface WebServerOptions {
  /** A Redis client for health checks and outbox sizes. */
  redis: RedisClient;
  /** BullMQ connection of the queues shown in Bull Board (a client to share, or options). */
  connection: ConnectionOptions;
  pool: pg.Pool;
  /** QUEUE_PREFIX. */
  prefix: string;
  /** SHARDS. */
  shards: number;
  log: Logger;
  /** Who may come in, and how often (config: webAccessOf). */
  access: WebAccess;
  /**
   * Routes to serve behind the front door (the versioned API; tests' probes): registered after
   * the Host check, authentication and rate limit, before the server is made ready. Each
   * declares `config: { scope }`.
   */
  routes?: (app: FastifyInstance) => Promise<void> | void;
  /** The live stream and webhook routes (docs/API.md "Live stream", "Webhooks"); absent: not served. */
  live?: LiveOptions;
  /** The wall clock (injected: only process wiring reads Date.now). */
  now: () => number;
  /** The process's Prometheus registry, served at `/metrics` with the Redis-read gauges added; absent: one of its own. */
  registry?: Registry;
}

export interface WebAccess {
  /** HTTP_ALLOWED_HOSTS. */
  allowedHosts: string;
  /** HTTP_HOST, always allowed as a Host. */
  listenHost: string;
  /** HTTP_RATE_LIMIT_PER_MINUTE; 0: no limit. */
  rateLimitPerMinute: number;
  /** API_KEY_CACHE_MS. */
  keyCacheMs: number;
}

/** Seconds a client is told to wait (`Retry-After`) when Redis or PostgreSQL is unavailable. */
const RETRY_AFTER_OUTAGE_S = 5;

/**
 * Which service an error says is unreachable for now, or null: PostgreSQL refusing or dropping
 * connections, starting or shutting down (the retryable codes); Redis with its connection lost,
 * refusing writes for now, or not answering within HTTP_REDIS_TIMEOUT_MS.
 */
function unavailableService(err: unknown): 'PostgreSQL' | 'Redis' | null {
  // ioredis rejects a command with messages of its own (connection closed, timed out); a bare
  // network code (ECONNREFUSED…) reaching a route comes from node-postgres.
  if (isRedisUnavailable(err)) return 'Redis';
  if (isRetryablePgError(err)) return 'PostgreSQL';
  return null;
}

/** Where Bull Board is served. */
export const BULL_BOARD_PATH = '/admin/queues';

function isBoardPath(url: string): boolean {
  return (
    url === BULL_BOARD_PATH || url.startsWith(`${BULL_BOARD_PATH}/`) || url.startsWith(`${BULL_BOARD_PATH}?`)
  );
}

/**
 * The HTTP side (docs/OPERATIONS.md "Web", docs/API.md): `GET /health` and `GET /ready` for
 * anyone; behind an API key, Bull Board at `/admin/queues` (admin: it shows every tenant),
 * the dashboard at `/dashboard` (read; docs/DASHBOARD.md) and `GET /metrics` (metrics: its
 * counters total every tenant, so a tenant's read key does not reach them). Every request passes
 * the Host check, the key check and the rate limit first (authenticate.ts). Returns the fastify
 * instance, ready but not listening; closing it closes the queues it opened (not `redis`,
 * `connection` or `pool`, which the caller owns).
 */
export async function createWebServer(opts: WebServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log.child({ component: 'web' }),
    // A signal id may be 128 characters (docs/QUEUES.md), percent-encoded in a path up to 12
    // bytes each; fastify's default (100) refused long ids with 400.
    routerOptions: { maxParamLength: 2048 },
    // What Node refuses before fastify sees a request (a URL or headers over 16 KiB, a client
    // too slow), answered in our error shape too.
    clientErrorHandler: answerClientError,
    // Errors fastify raises before any route runs (a URL whose percent-encoding is not UTF-8),
    // in our error shape too: its own body is not the documented one.
    frameworkErrors: (err, _request, reply) =>
      sendError(
        reply,
        err.code === 'FST_ERR_BAD_URL'
          ? new HttpError(
              'BAD_REQUEST',
              'the URL is malformed: a percent-encoded sequence is not valid UTF-8',
            )
          : new HttpError('BAD_REQUEST', err.message.slice(0, 500)),
      ),
  }) as unknown as FastifyInstance;
  const log = opts.log.child({ component: 'web' });
  // Bodies are JSON (docs/API.md): fastify's built-in text/plain parser would hand a route a
  // string, answered as invalid JSON rather than 415 as for any other media type.
  app.removeContentTypeParser('text/plain');

  // Errors of our routes in one shape ({"error":{"code","message","details"}}; docs/API.md).
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (err instanceof HttpError) return sendError(reply, err);
    const status = err.statusCode ?? 500;
    if (status < 500) return sendError(reply, clientError(err, status));
    const unavailable = unavailableService(err);
    if (unavailable !== null) {
      // An outage, not a bug: a warning, and the client told to come back.
      request.log.warn({ err, service: unavailable }, 'request refused: a service is unavailable');
      void reply.header('retry-after', String(RETRY_AFTER_OUTAGE_S));
      return sendError(
        reply,
        new HttpError(
          'SERVICE_UNAVAILABLE',
          `${unavailable} is unavailable for now; retry in ${RETRY_AFTER_OUTAGE_S} s`,
        ),
      );
    }
    request.log.error({ err }, 'request failed');
    return sendError(reply, new HttpError('INTERNAL_ERROR', `the server failed (request ${request.id})`));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new HttpError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  // The Host check first: a rebound page gets nothing, not even a 401 (probes excepted: a
  // load balancer or kubelet addresses the process by IP, and they reveal nothing).
  const hostAllowed = allowedHosts(opts.access.allowedHosts, opts.access.listenHost);
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.scope === 'public' || hostAllowed(request.headers.host)) return;
    return sendError(
      reply,
      new HttpError(
        'HOST_FORBIDDEN',
        `Host ${JSON.stringify(request.headers.host ?? '')} is not allowed here`,
        [{ hint: 'add it to HTTP_ALLOWED_HOSTS (docs/CONFIG.md)' }],
      ),
    );
  });

  // Before authenticate: its hook reads the dashboard's session cookie (docs/DASHBOARD.md).
  await app.register(fastifyCookie);

  // PostgreSQL text holds no NUL character: a path or query value with one matches nothing,
  // and passed on to a query it fails it (22021, a 500). Refused once here, for every route.
  app.addHook('preValidation', async (request, reply) => {
    const field = nulField(request.params, 'params') ?? nulField(request.query, 'querystring');
    if (field === null) return;
    const reason = 'contains a NUL character (U+0000)';
    return sendError(reply, new HttpError('BAD_REQUEST', `${field}: ${reason}`, [{ field, reason }]));
  });

  // Ajv's type coercion turns "1e309" into Infinity and lets it pass `integer`, `minimum` and
  // `maximum` alike; a route would hand it to PostgreSQL (a 500). Refused after validation.
  app.addHook('preHandler', async (request, reply) => {
    const field = nonFiniteField(request.params, 'params') ?? nonFiniteField(request.query, 'querystring');
    if (field === null) return;
    const reason = 'must be a finite number';
    return sendError(reply, new HttpError('VALIDATION_FAILED', `${field}: ${reason}`, [{ field, reason }]));
  });

  await app.register(authenticate, {
    lookup: createKeyLookup({ db: opts.pool, log, cacheMs: opts.access.keyCacheMs, now: opts.now }),
    rateLimit:
      opts.access.rateLimitPerMinute > 0
        ? await createRateLimiter(app, {
            redis: opts.redis,
            prefix: opts.prefix,
            perMinute: opts.access.rateLimitPerMinute,
            log,
          })
        : null,
    basicAuth: (request) => isBoardPath(request.url),
    // Bull Board declares no scopes, and any other route that forgets to declare one: admin.
    // Bull Board shows every tenant's job payloads, so looking needs admin too: only an admin
    // key spans tenants (a read key of one tenant must not see another's signals).
    scopeOf: () => 'admin',
    browser: DASHBOARD_ACCESS,
  });

  const names = [
    ...[QUEUE_NAMES.trackSignal, QUEUE_NAMES.signalOps, QUEUE_NAMES.analyze, QUEUE_NAMES.webhooks].map(
      (name) => queueNameOn(name, isCluster(opts.connection)),
    ),
    ...Array.from({ length: opts.shards }, (_, n) => shardQueueName(n)),
  ];
  const queues = names.map((name) => {
    const queue = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
    queue.on('error', (err) => opts.log.error({ err, queue: name }, 'queue error'));
    return queue;
  });
  app.addHook('onClose', async () => {
    await Promise.all(queues.map((q) => q.close()));
  });

  const board = new FastifyAdapter();
  createBullBoard({
    queues: queues.map(
      (queue, i) =>
        new BullMQAdapter(queue, {
          // A shard queue's jobs must run once and in order (DESIGN.md decision 3): retrying,
          // promoting or removing one by hand would reorder or drop ticks. Look, don't touch.
          readOnlyMode: i >= 4,
          description: i >= 4 ? `tick shard ${i - 4} (read-only: order matters)` : '',
        }),
    ),
    serverAdapter: board,
  });
  board.setBasePath(BULL_BOARD_PATH);
  await app.register(board.registerPlugin(), { prefix: BULL_BOARD_PATH });
  const registry = createMetricsRegistry({
    redis: opts.redis,
    queues,
    prefix: opts.prefix,
    shards: opts.shards,
    log: opts.log,
    registry: opts.registry,
    now: opts.now,
  });

  // Probes and scrapes arrive every few seconds: their requests are logged only when they fail.
  const probe = { logLevel: 'warn' as const, config: { scope: 'public' as const } };
  app.get('/health', probe, async (_request, reply) => {
    const report = await checkHealth(opts.redis, opts.pool, opts.prefix);
    // Degraded is still alive: the intake is waiting, not failing (a restart would not help).
    return reply.code(report.status === 'error' ? 503 : 200).send(report);
  });

  const shipped = shippedMigrations();
  app.get('/ready', probe, async (_request, reply) => {
    const report = await checkReady(opts.redis, opts.pool, shipped);
    return reply.code(report.status === 'ready' ? 200 : 503).send(report);
  });

  app.get('/metrics', { logLevel: 'warn', config: { scope: 'metrics' } }, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });

  await app.register(dashboardRoutes);
  // The live routes in the same scope as `routes`, after them: the versioned API's OpenAPI
  // document (registered by `routes`) lists every route its scope registers afterwards.
  const live = opts.live;
  if (opts.routes || live)
    await app.register(async (scope) => {
      if (opts.routes) await opts.routes(scope);
      if (live)
        await scope.register(
          liveRoutes({ ...live, redis: opts.redis, pool: opts.pool, prefix: opts.prefix, log }),
        );
    });
  await app.ready();
  return app;
}

/**
 * fastify's `clientErrorHandler`: Node's own refusals (431 for a request line and headers over
 * its limit, 408 for a client too slow, 400 for what it cannot parse) with our error body
 * instead of fastify's `{"error","message","statusCode"}`.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message]: [HttpErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['HEADERS_TOO_LARGE', 'the URL or the headers are larger than 16 KiB']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['REQUEST_TIMEOUT', 'the request did not arrive in time']
        : ['BAD_REQUEST', 'the request is not valid HTTP'];
  const status = HTTP_ERRORS[code].status;
  const body = JSON.stringify({ error: { code, message, details: [] } });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}

/**
 * fastify's own refusals (schema validation, body limit, content type, bad JSON) in our shape,
 * each problem named in `details` with a catalogue code (docs/ERRORS.md).
 */
function clientError(
  err: Error & { code?: string; validation?: FastifySchemaValidationError[]; validationContext?: string },
  status: number,
): HttpError {
  if (err.validation !== undefined) {
    const where = err.validationContext ?? 'request';
    const details = err.validation.map((v) => {
      const missing = (v.params as { missingProperty?: unknown } | undefined)?.missingProperty;
      const path = `${where}${v.instancePath.replaceAll('/', '.')}${typeof missing === 'string' ? `.${missing}` : ''}`;
      return trackerError('PAYLOAD_SCHEMA', `${path}: ${v.message ?? 'is invalid'}`);
    });
    return new HttpError('VALIDATION_FAILED', details.map((d) => d.message).join('; '), details);
  }
  if (status === 413)
    return new HttpError('PAYLOAD_TOO_LARGE', err.message, [trackerError('PAYLOAD_TOO_LARGE', err.message)]);
  if (status === 415) return new HttpError('UNSUPPORTED_MEDIA_TYPE', err.message);
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError)
    return new HttpError('BAD_REQUEST', err.message, [
      trackerError('PAYLOAD_NOT_JSON', `body: ${err.message}`),
    ]);
  return new HttpError('BAD_REQUEST', err.message);
}

/** The first path or query value (`params.id`, `querystring.tenant`) holding a NUL character, or null. */
function nulField(values: unknown, where: string): string | null {
  if (typeof values !== 'object' || values === null) return null;
  for (const [name, value] of Object.entries(values)) {
    const all: unknown[] = Array.isArray(value) ? value : [value];
    if (all.some((v) => typeof v === 'string' && v.includes('\u0000')))
      return `${where}.${name.slice(0, 100)}`;
  }
  return null;
}

/** The first path or query value that coerced to a number that is not finite, or null. */
function nonFiniteField(values: unknown, where: string): string | null {
  if (typeof values !== 'object' || values === null) return null;
  for (const [name, value] of Object.entries(values)) {
    const all: unknown[] = Array.isArray(value) ? value : [value];
    if (all.some((v) => typeof v === 'number' && !Number.isFinite(v)))
      return `${where}.${name.slice(0, 100)}`;
  }
  return null;
}
