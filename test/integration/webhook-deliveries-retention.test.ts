/**
 * Webhook delivery attempts do not pile up: the scheduler process deletes those older than
 * WEBHOOK_DELIVERIES_RETENTION_DAYS (a run at start, then on PRUNE_CRON), in batches, and keeps
 * the rest; 0 keeps everything.
 */
import type pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { runScheduler } from '../../src/processes/runScheduler.ts';
import { insertWebhook } from '../../src/storage/insertWebhook.ts';
import { pruneWebhookDeliveries } from '../../src/storage/pruneWebhookDeliveries.ts';
import type { Queryable } from '../../src/storage/Queryable.ts';
import { quit } from '../support/liveWeb.ts';
import { redisUrl, useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const NOW = Date.parse('2026-06-15T12:00:00Z');
const DAY = 86_400_000;

/** A webhook with one attempt at each of `ages` (days before NOW); answers its id. */
async function seed(db: pg.Pool, ages: number[]): Promise<string> {
  await db.query('DELETE FROM webhook_deliveries'); // each test starts from none
  const hook = (await insertWebhook(db, {
    tenant: 'acme',
    url: 'https://example.com/hook',
    eventTypes: [],
    secret: 'a secret of sixteen+',
  }))!;
  for (const [i, age] of ages.entries()) {
    await db.query(
      `INSERT INTO webhook_deliveries (webhook_id, delivery_id, event_key, event_type, attempt, at, status_code, duration_ms)
       VALUES ($1, $2, $3, 'signal.closed', 1, to_timestamp($4::float8 / 1000), 200, 5)`,
      [hook.id, `d-${age}-${i}`, `e-${i}`, NOW - age * DAY],
    );
  }
  return hook.id;
}

async function agesLeft(db: Queryable, webhookId: string): Promise<number[]> {
  const r = await db.query<{ delivery_id: string }>(
    `SELECT delivery_id FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY at`,
    [webhookId],
  );
  return r.rows.map((row) => Number(row.delivery_id.split('-')[1]));
}

describe('webhook delivery retention', () => {
  const db = useTestDatabase();
  const ns = useRedisNamespace();
  const resources = useResourceTracker();

  it('the scheduler deletes attempts older than WEBHOOK_DELIVERIES_RETENTION_DAYS at start and keeps the rest', async () => {
    const pool = resources.pool(db.url);
    const id = await seed(pool, [400, 31, 30.01, 29.99, 1, 0]);
    const redis = resources.redis();
    const config = loadConfig({
      REDIS_URL: redisUrl(),
      QUEUE_PREFIX: ns.prefix,
      STALE_SWEEP: 'off',
      WEBHOOK_DELIVERIES_RETENTION_DAYS: '30',
    });
    const scheduler = runScheduler(
      config,
      { redis, log: pino({ level: 'silent' }), pool },
      { now: () => NOW },
    );
    await scheduler.close(); // waits for the run at start
    expect(await agesLeft(pool, id)).toEqual([29.99, 1, 0]);
    await pool.end();
    await quit(redis);
  });

  it('keeps every attempt with WEBHOOK_DELIVERIES_RETENTION_DAYS=0', async () => {
    const pool = resources.pool(db.url);
    const id = await seed(pool, [4000, 31, 0]);
    const config = loadConfig({
      REDIS_URL: redisUrl(),
      QUEUE_PREFIX: ns.prefix,
      STALE_SWEEP: 'off',
      WEBHOOK_DELIVERIES_RETENTION_DAYS: '0',
    });
    const redis = resources.redis();
    const scheduler = runScheduler(
      config,
      { redis, log: pino({ level: 'silent' }), pool },
      { now: () => NOW },
    );
    await scheduler.close();
    expect(await agesLeft(pool, id)).toEqual([4000, 31, 0]);
    await pool.end();
    await quit(redis);
  });

  it('deletes a backlog larger than one batch, oldest first, and answers how many went', async () => {
    const pool = resources.pool(db.url);
    const id = await seed(pool, [1]);
    await pool.query(
      `INSERT INTO webhook_deliveries (webhook_id, delivery_id, event_key, event_type, attempt, at, duration_ms)
       SELECT $1, 'old-' || n, 'e', 'signal.closed', 1, to_timestamp($2::float8 / 1000) - n * interval '1 second', 5
       FROM generate_series(1, 23456) AS n`,
      [id, NOW - 60 * DAY],
    );
    expect(await pruneWebhookDeliveries(pool, NOW - 30 * DAY)).toBe(23_456);
    expect(await agesLeft(pool, id)).toEqual([1]);
    expect(await pruneWebhookDeliveries(pool, NOW - 30 * DAY)).toBe(0);
    await pool.end();
  });
});
