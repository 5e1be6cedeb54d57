import { Cluster, type Redis, type RedisOptions } from 'ioredis';

/**
 * A connection to Redis: one server (`Redis`) or a Redis Cluster (`Cluster`), as REDIS_URL or
 * REDIS_CLUSTER_NODES configure it (src/processes/bootstrap.ts `createRedis`). Both take the same
 * commands; on a cluster every multi-key command, MULTI and script must stay within one hash slot,
 * which the names of src/names.ts see to.
 */
export type RedisClient = Redis | Cluster;

/** Whether `connection` (a client, or BullMQ connection options) is a Redis Cluster client. */
export function isCluster(connection: unknown): boolean {
  return (connection as { isCluster?: unknown } | null)?.isCluster === true;
}

/**
 * Another connection like `redis` (for a blocking read, which would hold up every other command
 * on a shared one), with `overrides` on top of its options; to the same cluster for a cluster.
 */
export function duplicateClient(redis: RedisClient, overrides: Partial<RedisOptions>): RedisClient {
  if (redis instanceof Cluster)
    return redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, ...overrides } });
  return redis.duplicate(overrides);
}
