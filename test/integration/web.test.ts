/**
 * The web server against real Redis and PostgreSQL, through fastify's inject (no port):
 * /health, Bull Board at /admin/queues, /metrics (with an admin key; the front door itself is
 * web-access.test.ts).
 */
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { IntakeKeys, QUEUE_NAMES, ShardKeys, shardQueueName } from '../../src/names.ts';
import { createWebServer } from '../../src/web/createWebServer.ts';
import { createTestKey, OPEN_ACCESS } from '../support/apiKeys.ts';
import {
  useRedisNamespace,
  useResourceTracker,
  useTestDatabase,
  type ResourceTracker,
} from '../support/services.ts';
import { quit } from '../support/liveWeb.ts';

const SHARDS = 2;
const log = pino({ level: 'silent' });

describe('web server', () => {
  const db = useTestDatabase();
  const ns = useRedisNamespace('web');
  const resources = useResourceTracker();

  async function server(
    tracker: ResourceTracker,
    databaseUrl = db.url,
  ): Promise<{ app: FastifyInstance; close(): Promise<void>; admin: { authorization: string } }> {
    const redis = tracker.redis();
    const connection = tracker.redis({}, 'bullmq connection');
    const pool = tracker.pool(databaseUrl);
    const app = await createWebServer({
      redis,
      connection,
      pool,
      prefix: ns.prefix,
      shards: SHARDS,
      log,
      access: OPEN_ACCESS,
      now: Date.now,
    });
    const closeable = tracker.track(
      {
        async close() {
          await app.close();
          await pool.end();
          await Promise.all([quit(redis), quit(connection)]);
        },
      },
      'web server',
    );
    const admin =
      databaseUrl === db.url ? (await createTestKey(pool, 'ops', ['admin'])).bearer : { authorization: '' };
    return { app, close: () => closeable.close(), admin };
  }

  it('GET /health answers 200 when Redis and PostgreSQL answer', async () => {
    const { app, close } = await server(resources);
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', redis: 'ok', postgres: 'ok', intake: 'ok' });
    await close();
  });

  it('GET /health answers 200 "degraded" while intake jobs wait out a PostgreSQL outage, saying since when and why', async () => {
    const { app, close } = await server(resources);
    const flagger = resources.redis({}, 'intake outage flag');
    // What the intake workers write while their jobs wait (src/live/createIntakeWorkers.ts).
    const since = Date.UTC(2026, 11, 2, 9, 30);
    await flagger.set(
      new IntakeKeys(ns.prefix).outage,
      JSON.stringify({ since, reason: 'connect ECONNREFUSED 127.0.0.1:5432' }),
      'PX',
      60_000,
    );
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'degraded',
      redis: 'ok',
      postgres: 'ok',
      intake: 'degraded',
      errors: {
        intake:
          'jobs waiting for PostgreSQL since 2026-12-02T09:30:00.000Z: connect ECONNREFUSED 127.0.0.1:5432',
      },
    });
    await flagger.del(new IntakeKeys(ns.prefix).outage);
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ status: 'ok' });
    await quit(flagger);
    await close();
  });

  it('GET /health answers 503 naming PostgreSQL when it is unreachable', async () => {
    const { app, close } = await server(resources, 'postgres://nobody@127.0.0.1:1/nowhere');
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body).toMatchObject({ status: 'error', redis: 'ok', postgres: 'error' });
    expect(body.errors.postgres).toMatch(/ECONNREFUSED|connect/);
    expect(body.errors.redis).toBeUndefined();
    await close();
  });

  it('serves Bull Board at /admin/queues with the intake, analyze, webhooks and every shard queue; shard queues read-only', async () => {
    const { app, close, admin } = await server(resources);
    const page = await app.inject({ method: 'GET', url: '/admin/queues', headers: admin });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/<html/i);

    const api = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: admin });
    expect(api.statusCode).toBe(200);
    const queues = (api.json() as { queues: { name: string; readOnlyMode: boolean }[] }).queues;
    expect(queues.map((q) => q.name).sort()).toEqual(
      [
        QUEUE_NAMES.trackSignal,
        QUEUE_NAMES.signalOps,
        QUEUE_NAMES.analyze,
        QUEUE_NAMES.webhooks,
        shardQueueName(0),
        shardQueueName(1),
      ].sort(),
    );
    expect(
      queues
        .filter((q) => q.readOnlyMode)
        .map((q) => q.name)
        .sort(),
    ).toEqual([shardQueueName(0), shardQueueName(1)]);
    await close();
  });

  it('GET /metrics reports process metrics, job counts per queue and state, and outbox sizes per shard', async () => {
    const { app, close, admin } = await server(resources);
    const producer = resources.redis({}, 'producer');
    const trackSignal = resources.track(
      new Queue(QUEUE_NAMES.trackSignal, { connection: producer, prefix: ns.prefix }),
      'queue',
    );
    await trackSignal.add('signal', { v: 1 });
    await trackSignal.add('signal', { v: 1 });
    await producer.hset(new ShardKeys(ns.prefix, 1).outbox, 'closed:x', '{}', 'closed:y', '{}', 'op:3', '{}');

    const res = await app.inject({ method: 'GET', url: '/metrics', headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    const text = res.body;
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toContain('outcome_tracker_queue_jobs{queue="track-signal",state="waiting"} 2');
    expect(text).toContain('outcome_tracker_queue_jobs{queue="track-signal",state="active"} 0');
    expect(text).toContain('outcome_tracker_queue_jobs{queue="{ticks-1}",state="failed"} 0');
    expect(text).toContain('outcome_tracker_outbox_entries{shard="0"} 0');
    expect(text).toContain('outcome_tracker_outbox_entries{shard="1"} 3');

    await trackSignal.close();
    await quit(producer);
    await close();
  });
});
