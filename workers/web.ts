/**
 * The web process (Procfile `web`): `/health`, Bull Board at `/admin/queues`, `/metrics`
 * (docs/OPERATIONS.md "Web"; src/processes/runWeb.ts). Stateless: run any number behind a load
 * balancer.
 */
import { loadConfig, redisTargetOf, requireSettings } from '../src/config.ts';
import {
  createLogger,
  createPool,
  createRedis,
  guardStartup,
  migrateOnStart,
  onShutdown,
} from '../src/processes/bootstrap.ts';
import { runWeb } from '../src/processes/runWeb.ts';

const started = guardStartup('web');
const config = requireSettings(loadConfig(), 'DATABASE_URL');
const log = createLogger(config, 'web');
await migrateOnStart(config, log);
// A request waits at most HTTP_REDIS_TIMEOUT_MS for Redis, then answers 503 (docs/API.md "Errors").
const redis = createRedis(redisTargetOf(config), log, 'web', config.HTTP_REDIS_TIMEOUT_MS);
const connection = createRedis(redisTargetOf(config), log, 'web-bullmq', config.HTTP_REDIS_TIMEOUT_MS);
const pool = createPool(config.DATABASE_URL, log, 'web', 4);

const running = await runWeb(config, { redis, connection, pool, log });

started();
onShutdown(log, async () => {
  await running.close(); // stops accepting, lets requests in flight finish, closes the queues
  await pool.end();
  redis.disconnect();
  connection.disconnect();
});
// Announced once SIGTERM stops it gracefully (fastify's "Server listening" line comes before):
// a supervisor may act on this line at once.
log.info({ pid: process.pid }, 'web started');
