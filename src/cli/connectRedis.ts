import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from '../config.ts';
import type { RedisClient } from '../RedisClient.ts';
import { serviceError } from './serviceError.ts';

/**
 * A Redis client for a command line, connected: it fails rather than waits. No offline queue (a
 * command sent while disconnected fails at once), one retry per command, three reconnection
 * attempts, three seconds to connect; to one Redis or (REDIS_CLUSTER_NODES) a Redis Cluster. A
 * failure to connect is a ServiceError naming Redis and its host (never the password).
 */
export async function connectRedis(target: RedisTarget, role: string): Promise<RedisClient> {
  let lastError: Error | undefined;
  const options = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    connectionName: `outcome-tracker ${role}`,
  };
  const retryStrategy = (times: number): number | null => (times > 3 ? null : 200 * times);
  const redis =
    'url' in target
      ? new Redis(target.url, { ...options, retryStrategy })
      : new Cluster(target.clusterNodes, {
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: retryStrategy,
          redisOptions: options,
        });
  // Failures surface through connect() and the commands; keep the cause, which says more than
  // ioredis's "Connection is closed."
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw redisError(target, lastError ?? err, 'cannot reach');
  }
  return redis;
}

/** `err` from the Redis of `target` as a ServiceError naming it (its first node for a cluster). */
export function redisError(target: RedisTarget, err: unknown, lead = ''): Error {
  if ('url' in target) return serviceError('Redis', target.url, err, lead);
  const first = target.clusterNodes[0]!;
  return serviceError('Redis Cluster', `redis://${first.host}:${first.port}`, err, lead);
}
