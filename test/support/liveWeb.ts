/** Helpers of the live stream and webhook tests: signals, ticks, a web server with the live routes. */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { liveOf, loadConfig } from '../../src/config.ts';
import { DEFAULT_GUARDS } from '../../src/live/createIntakeWorkers.ts';
import { createWebServer } from '../../src/web/createWebServer.ts';
import { v1Routes } from '../../src/web/v1/v1Routes.ts';
import { OPEN_ACCESS } from './apiKeys.ts';
import type { ResourceTracker } from './services.ts';

const SHARDS = 2;
const silent = pino({ level: 'silent' });
/** Market time of the tests' signals: recent enough for the live intake's clock guard. */
export const T = Date.now() - 120_000;

export function payload(id: string, fields: Partial<SignalPayload> = {}): SignalPayload {
  return {
    v: 1,
    id,
    symbol: 'XYZ',
    side: 'long',
    createdAt: T,
    entry: { type: 'market' },
    takeProfits: [{ price: 110, fraction: 1 }],
    stopLoss: { price: 90 },
    ...fields,
  };
}

export function ticks(symbol: string, from: number, ...prices: number[]): Tick[] {
  return prices.map((price, i) => ({ symbol, ts: from + i * 1000, price }));
}

export interface Web {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function webServer(
  tracker: ResourceTracker,
  options: {
    databaseUrl: string;
    prefix: string;
    shards?: number;
    allowPrivate?: boolean;
    maxBufferBytes?: number;
    /** Also the `/v1` routes, publishing ticks in shard jobs of `tickBatchSize`. */
    api?: { tickBatchSize: number };
    /** The server's logger. @defaultValue silent */
    log?: Logger;
    /** WEBHOOKS_PER_TENANT. @defaultValue 25 */
    webhooksPerTenant?: number;
    /** SSE_MAX_STREAMS_PER_KEY. @defaultValue the config's (1000) */
    maxStreamsPerKey?: number;
  },
): Promise<Web> {
  const redis = tracker.redis();
  const connection = tracker.redis({}, 'bullmq connection');
  const pool = tracker.pool(options.databaseUrl);
  const shards = options.shards ?? SHARDS;
  const app = await createWebServer({
    redis,
    connection,
    pool,
    prefix: options.prefix,
    shards,
    log: options.log ?? silent,
    ...(options.api === undefined
      ? {}
      : {
          routes: v1Routes({
            pool,
            redis,
            connection,
            prefix: options.prefix,
            now: Date.now,
            shards,
            guards: DEFAULT_GUARDS,
            tickBatchSize: options.api.tickBatchSize,
            bodyLimit: 1 << 20,
            log: silent,
          }),
        }),
    access: OPEN_ACCESS,
    now: Date.now,
    live: {
      // The settings' defaults, as a web process without them in its environment has them.
      ...liveOf(loadConfig({})),
      heartbeatMs: 200,
      maxBufferBytes: options.maxBufferBytes ?? 1 << 20,
      allowPrivateWebhooks: options.allowPrivate ?? true,
      ...(options.webhooksPerTenant === undefined ? {} : { webhooksPerTenant: options.webhooksPerTenant }),
      ...(options.maxStreamsPerKey === undefined ? {} : { maxStreamsPerKey: options.maxStreamsPerKey }),
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return tracker.track(
    {
      url: `http://127.0.0.1:${port}`,
      app,
      async close() {
        await app.close();
        await pool.end();
        await Promise.all([quit(redis), quit(connection)]);
      },
    },
    'web server',
  );
}

/** Closes a Redis client and waits until it has ended (a resource tracker's test checks that). */
export async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  const ended = new Promise((resolve) => redis.once('end', resolve));
  // disconnect, not quit: quit's own reply can lose the race with the socket closing.
  redis.disconnect();
  await ended;
}
