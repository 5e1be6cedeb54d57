/**
 * The web process of `npm run bench -- api` (bench/api.ts), a child of the bench so that the
 * load generator has a core of its own: workers/web.ts's wiring (createWebServer with the `/v1`
 * routes, settings from the environment), plus `POST /bench/noop`, the raw baseline. The no-op
 * is registered through createWebServer's `routes` like the API, so it passes the same Host
 * check, key lookup and (when on) rate limit, and fastify parses its JSON body as it parses
 * `POST /v1/signals`'s; it then answers 202 with the count of signals and does nothing else.
 * Its path comes from BENCH_NOOP_PATH (bench/api.ts names it). Writes `listening <port>` to
 * stdout once it listens (HTTP_PORT 0: a free port).
 */
import type { FastifyInstance } from 'fastify';
import { liveGuardsOf, loadConfig, requireSettings, webAccessOf } from '../src/config.ts';
import { createLogger, createPool, createRedis, onShutdown } from '../src/processes/bootstrap.ts';
import { createWebServer } from '../src/web/createWebServer.ts';
import { v1Routes } from '../src/web/v1/v1Routes.ts';

const noopPath = process.env.BENCH_NOOP_PATH;
if (!noopPath) throw new Error('BENCH_NOOP_PATH is not set (bench/api.ts sets it)');
const config = requireSettings(loadConfig(), 'REDIS_URL', 'DATABASE_URL');
const log = createLogger(config, 'web');
const redis = createRedis(config.REDIS_URL, log, 'web');
const connection = createRedis(config.REDIS_URL, log, 'web-bullmq');
const pool = createPool(config.DATABASE_URL, log, 'web', 4); // as workers/web.ts sizes it

const api = v1Routes({
  pool,
  redis,
  connection,
  prefix: config.QUEUE_PREFIX,
  shards: config.SHARDS,
  guards: liveGuardsOf(config),
  tickBatchSize: config.TICK_BATCH_SIZE,
  bodyLimit: config.HTTP_BODY_LIMIT_BYTES,
  log,
});
const app = await createWebServer({
  redis,
  connection,
  pool,
  prefix: config.QUEUE_PREFIX,
  shards: config.SHARDS,
  log,
  access: webAccessOf(config),
  now: Date.now,
  routes: async (scope: FastifyInstance) => {
    await api(scope);
    scope.post(
      noopPath,
      { config: { scope: 'submit' }, bodyLimit: config.HTTP_BODY_LIMIT_BYTES },
      async (request, reply) => {
        const signals = (request.body as { signals?: unknown[] } | null)?.signals ?? [];
        return reply.code(202).send({ accepted: signals.length });
      },
    );
  },
});
const address = await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
process.stdout.write(`listening ${new URL(address).port}\n`);

onShutdown(log, async () => {
  await app.close();
  await pool.end();
  redis.disconnect();
  connection.disconnect();
});
