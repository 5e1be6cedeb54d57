import { Redis } from 'ioredis';
import { serviceError } from './serviceError.ts';

/**
 * A Redis client for a command line, connected: it fails rather than waits. No offline queue (a
 * command sent while disconnected fails at once), one retry per command, three reconnection
 * attempts, three seconds to connect. A failure to connect is a ServiceError naming Redis and
 * its host (never the password).
 */
export async function connectRedis(url: string, role: string): Promise<Redis> {
  let lastError: Error | undefined;
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: (times) => (times > 3 ? null : 200 * times),
    connectionName: `outcome-tracker ${role}`,
  });
  // Failures surface through connect() and the commands; keep the cause, which says more than
  // ioredis's "Connection is closed."
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw serviceError('Redis', url, lastError ?? err, 'cannot reach');
  }
  return redis;
}
