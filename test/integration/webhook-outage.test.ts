/**
 * A webhook delivery across a PostgreSQL outage (docs/API.md "Webhooks", DESIGN.md decision 13):
 * the delivery worker reads its webhook and records each attempt in PostgreSQL, and an outage
 * is not the receiver failing. The delivery waits it out and is made once PostgreSQL is back,
 * with its attempts unspent, however short their backoff. And across a worker that dies during
 * an attempt: the delivery is attempted again, and each attempt is recorded once, under its
 * own number.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createWebhookWorker } from '../../src/events/createWebhookWorker.ts';
import { deliveryIdOf } from '../../src/events/createWebhookFeeder.ts';
import { JOB_NAMES, QUEUE_NAMES } from '../../src/names.ts';
import { insertWebhook } from '../../src/storage/insertWebhook.ts';
import { insertWebhookDelivery } from '../../src/storage/insertWebhookDelivery.ts';
import { quit } from '../support/liveWeb.ts';
import { freePort } from '../support/realProcesses.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';
import { TcpProxy } from '../support/tcpProxy.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('webhook-outage');
const tracker = useResourceTracker();

interface Receiver {
  url: string;
  /** The X-OT-Delivery header of each request, in the order they came. */
  deliveries: string[];
  /** Answers the requests held so far with `status`. */
  release(status: number): void;
  close(): Promise<void>;
}

/** A receiver that answers 200 to everything, or holds the first `hold` requests unanswered. */
async function receiver({ hold = 0 } = {}): Promise<Receiver> {
  const deliveries: string[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      deliveries.push(String(req.headers['x-ot-delivery']));
      if (deliveries.length <= hold) held.push(res);
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    release: (status) => held.splice(0).forEach((res) => res.writeHead(status).end()),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** `url` with its host and port replaced by the proxy's. */
function via(proxy: TcpProxy, url: string): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

/** A queue of the test's namespace holding one delivery of signal `id`'s accepted event. */
async function queueDelivery(
  redis: Redis,
  webhookId: string,
  id: string,
  attempts: number,
): Promise<{ queue: Queue; deliveryId: string }> {
  const queue = tracker.track(
    new Queue(QUEUE_NAMES.webhooks, { connection: redis, prefix: ns.prefix }),
    'queue',
  );
  const eventKey = `accepted:${id}`;
  const deliveryId = deliveryIdOf(webhookId, eventKey);
  const body = JSON.stringify({ type: 'signal.accepted', id, tenant: 'acme' });
  await queue.add(
    JOB_NAMES.webhook,
    { webhookId, deliveryId, eventKey, eventType: 'signal.accepted', body },
    { jobId: deliveryId, attempts, backoff: { type: 'exponential', delay: 50 } },
  );
  return { queue, deliveryId };
}

async function waitFor(
  pred: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a webhook delivery during a PostgreSQL outage', () => {
  it('waits the outage out and is delivered once, its attempts unspent, when PostgreSQL is back', async () => {
    const direct = tracker.pool(db.url);
    const hook = tracker.track(await receiver(), 'receiver');
    const webhook = (await insertWebhook(direct, {
      tenant: 'acme',
      url: hook.url,
      eventTypes: [],
      secret: 'a secret of some length',
    }))!;
    const target = new URL(db.url);
    const proxy = tracker.track(
      await TcpProxy.start({ host: target.hostname, port: Number(target.port) }, await freePort(), {
        refusing: true,
      }),
      'PostgreSQL proxy',
    );
    const proxied = tracker.pool(via(proxy, db.url));
    const redis = tracker.redis();
    const worker = createWebhookWorker({
      connection: redis,
      prefix: ns.prefix,
      pool: proxied,
      log: pino({ level: 'silent' }),
      allowPrivate: true,
      timeoutMs: 2_000,
      transientRetryMs: 60_000,
    });
    tracker.track(worker, 'webhook worker');
    // Two attempts 50 ms apart: without waiting out the outage, both fail within a second.
    const { queue, deliveryId } = await queueDelivery(redis, webhook.id, 'w-outage', 2);

    await waitFor(
      async () => ['active', 'failed'].includes(await queue.getJobState(deliveryId)),
      'the delivery taken',
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const during = (await queue.getJob(deliveryId))!;
    expect(await during.getState(), 'the delivery waits, it does not fail').toBe('active');
    expect(during.attemptsMade, 'no attempt spent on the outage').toBe(0);
    expect(hook.deliveries, 'nothing sent before its webhook could be read').toEqual([]);

    await proxy.restore();
    await waitFor(
      async () => (await queue.getJobState(deliveryId)) === 'completed',
      'the delivery completed',
    );
    expect(hook.deliveries).toEqual([deliveryId]);
    const recorded = await direct.query<{ attempt: number; status_code: number }>(
      'SELECT attempt, status_code FROM webhook_deliveries WHERE delivery_id = $1',
      [deliveryId],
    );
    expect(recorded.rows).toEqual([{ attempt: 1, status_code: 200 }]);
    expect(worker.opts.maxStalledCount, 'a delivery whose worker died twice is attempted again').toBe(
      1_000_000,
    );

    await worker.close();
    await queue.close();
    await proxy.close();
    await proxied.end();
    await direct.end();
    await quit(redis);
    await hook.close();
  });
});

describe('a webhook delivery whose worker dies during an attempt', () => {
  it('is attempted again by another worker, and each attempt is recorded once under its own number', async () => {
    const pool = tracker.pool(db.url);
    const hook = tracker.track(await receiver({ hold: 1 }), 'receiver');
    const webhook = (await insertWebhook(pool, {
      tenant: 'acme',
      url: hook.url,
      eventTypes: [],
      secret: 'a secret of some length',
    }))!;
    const redis = tracker.redis();
    const worker = (name: string) =>
      tracker.track(
        createWebhookWorker({
          connection: redis,
          prefix: ns.prefix,
          pool,
          log: pino({ level: 'silent' }),
          allowPrivate: true,
          timeoutMs: 20_000,
          lockDurationMs: 1_000,
        }),
        name,
      );
    const { queue, deliveryId } = await queueDelivery(redis, webhook.id, 'w-stall', 3);

    // The first worker sends the delivery and dies waiting for the answer: its lock lapses.
    const first = worker('first webhook worker');
    await waitFor(() => hook.deliveries.length === 1, 'the first attempt sent');
    await first.close(true);
    // The second finds the delivery stalled and sends it again; the receiver answers it.
    const second = worker('second webhook worker');
    await waitFor(
      async () => (await queue.getJobState(deliveryId)) === 'completed',
      'the delivery completed by the second worker',
    );
    // The first attempt's answer comes after all; the dead worker's processor records it.
    hook.release(503);
    await waitFor(
      async () =>
        (await pool.query('SELECT 1 FROM webhook_deliveries WHERE delivery_id = $1', [deliveryId]))
          .rowCount === 2,
      'both attempts recorded',
    );

    expect(hook.deliveries).toEqual([deliveryId, deliveryId]);
    const recorded = await pool.query<{ attempt: number; status_code: number }>(
      'SELECT attempt, status_code FROM webhook_deliveries WHERE delivery_id = $1 ORDER BY attempt',
      [deliveryId],
    );
    expect(recorded.rows).toEqual([
      { attempt: 1, status_code: 503 },
      { attempt: 2, status_code: 200 },
    ]);
    const job = (await queue.getJob(deliveryId))!;
    expect(job.attemptsMade, 'the stall spent none of its attempts: only its completion counts').toBe(1);

    await second.close();
    await queue.close();
    await quit(redis);
    await hook.close();
    await pool.end();
  });

  it('records an attempt once when it is recorded again', async () => {
    const pool = tracker.pool(db.url);
    const webhook = (await insertWebhook(pool, {
      tenant: 'acme',
      url: 'http://127.0.0.1:9/hook',
      eventTypes: [],
      secret: 'a secret of some length',
    }))!;
    const attempt = {
      webhookId: webhook.id,
      deliveryId: deliveryIdOf(webhook.id, 'accepted:w-again'),
      eventKey: 'accepted:w-again',
      eventType: 'signal.accepted',
      attempt: 1,
      statusCode: 200,
      error: null,
      durationMs: 3,
    };

    // As the transient retry does when an insert's connection dropped after its commit went through.
    await insertWebhookDelivery(pool, attempt);
    await insertWebhookDelivery(pool, { ...attempt, durationMs: 4 });
    await insertWebhookDelivery(pool, { ...attempt, attempt: 2, statusCode: 500 });

    const recorded = await pool.query<{ attempt: number; status_code: number; duration_ms: number }>(
      'SELECT attempt, status_code, duration_ms FROM webhook_deliveries WHERE delivery_id = $1 ORDER BY attempt',
      [attempt.deliveryId],
    );
    expect(recorded.rows).toEqual([
      { attempt: 1, status_code: 200, duration_ms: 3 },
      { attempt: 2, status_code: 500, duration_ms: 3 },
    ]);
    await pool.end();
  });
});
