/**
 * The web process of `npm run bench -- api` (bench/api.ts), a child of the bench so that the
 * load generator has a core of its own: workers/web.ts's wiring (runWeb, settings from the
 * environment), plus `POST /bench/noop`, the raw baseline. The no-op is registered through
 * runWeb's extra `routes`, beside the API, so it passes the same Host
 * check, key lookup and (when on) rate limit, and fastify parses its JSON body as it parses
 * `POST /v1/signals`'s; it then answers 202 with the count of signals and does nothing else.
 * Its path comes from BENCH_NOOP_PATH (bench/api.ts names it). Writes `listening <port>` to
 * stdout once it listens (HTTP_PORT 0: a free port).
 */
import type { FastifyInstance } from 'fastify';
import { loadConfig, redisTargetOf, requireSettings } from '../src/config.ts';
import { createLogger, createPool, createRedis, onShutdown } from '../src/processes/bootstrap.ts';
import { runWeb } from '../src/processes/runWeb.ts';

const noopPath = process.env.BENCH_NOOP_PATH;
if (!noopPath) throw new Error('BENCH_NOOP_PATH is not set (bench/api.ts sets it)');
const config = requireSettings(loadConfig(), 'DATABASE_URL');
const log = createLogger(config, 'web');
const redis = createRedis(redisTargetOf(config), log, 'web');
const connection = createRedis(redisTargetOf(config), log, 'web-bullmq');
const pool = createPool(config.DATABASE_URL, log, 'web', 4); // as workers/web.ts sizes it

// The web process's own wiring, with a no-op route beside the API as the baseline.
const running = await runWeb(
  config,
  { redis, connection, pool, log },
  {
    routes: (scope: FastifyInstance) => {
      scope.post(
        noopPath,
        { config: { scope: 'submit' }, bodyLimit: config.HTTP_BODY_LIMIT_BYTES },
        async (request, reply) => {
          const signals = (request.body as { signals?: unknown[] } | null)?.signals ?? [];
          return reply.code(202).send({ accepted: signals.length });
        },
      );
    },
  },
);
const address = running.address;
process.stdout.write(`listening ${new URL(address).port}\n`);

onShutdown(log, async () => {
  await running.close();
  await pool.end();
  redis.disconnect();
  connection.disconnect();
});
