/**
 * Webhooks (docs/API.md "Webhooks") against real Redis and PostgreSQL and a receiver on
 * 127.0.0.1: configured through the API, fed from the events stream, signed, retried after a
 * failed attempt, each delivery answered once; private URLs refused without
 * WEBHOOK_ALLOW_PRIVATE.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTestKey } from '../support/apiKeys.ts';
import { captureLog } from '../support/captureLog.ts';
import { createWebhookFeeder } from '../../src/events/createWebhookFeeder.ts';
import { EventKeys } from '../../src/names.ts';
import { createPipelineClient, startInProcessWorkers, type PipelineConfig } from '../support/livePipeline.ts';
import { redisUrl, useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';
import { payload, quit, T, ticks, webServer } from '../support/liveWeb.ts';

const SHARDS = 2;
const db = useTestDatabase();
const ns = useRedisNamespace('webhooks');
const tracker = useResourceTracker();

interface Received {
  delivery: string;
  event: string;
  timestamp: string;
  signature: string;
  body: string;
  answered: number;
}

/** A webhook receiver: answers 500 to the first attempt of each delivery, 200 after. */
async function receiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const delivery = String(req.headers['x-ot-delivery']);
      const n = (attempts.get(delivery) ?? 0) + 1;
      attempts.set(delivery, n);
      const answered = n === 1 ? 500 : 200;
      received.push({
        delivery,
        event: String(req.headers['x-ot-event']),
        timestamp: String(req.headers['x-ot-timestamp']),
        signature: String(req.headers['x-ot-signature']),
        body,
        answered,
      });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** The receiver's side of the signature check, as docs/API.md shows it. */
function verify(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex');
  return parts.v1 !== undefined && timingSafeEqual(Buffer.from(expected), Buffer.from(parts.v1));
}

async function waitFor(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('webhooks', () => {
  it('delivers each wanted event of its tenant, signed, retried after a 500, once per delivery id', async () => {
    const cfg: PipelineConfig = {
      redisUrl: redisUrl(),
      databaseUrl: db.url,
      prefix: ns.prefix,
      shards: SHARDS,
      flusher: true,
    };
    const workers = tracker.track(
      await startInProcessWorkers(cfg, {
        env: { WEBHOOK_ALLOW_PRIVATE: 'on', WEBHOOK_BACKOFF_MS: '50', WEBHOOK_MAX_ATTEMPTS: '3' },
      }),
      'workers',
    );
    const live = tracker.track(createPipelineClient(cfg), 'pipeline client');
    const web = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix, allowPrivate: true });
    const hook = tracker.track(await receiver(), 'receiver');
    const acme = await createTestKey(live.db, 'acme', ['read', 'submit']);
    const reader = await createTestKey(live.db, 'acme', ['read']);
    const json = { 'content-type': 'application/json' };

    const refused = await fetch(`${web.url}/v1/webhooks`, {
      method: 'POST',
      headers: { ...reader.bearer, ...json },
      body: JSON.stringify({ url: hook.url }),
    });
    expect(refused.status, 'a read-only key may not send the tenant events elsewhere').toBe(403);

    const created = await fetch(`${web.url}/v1/webhooks`, {
      method: 'POST',
      headers: { ...acme.bearer, ...json },
      body: JSON.stringify({ url: hook.url, eventTypes: ['signal.accepted', 'signal.closed'] }),
    });
    expect(created.status).toBe(201);
    const webhook = (await created.json()) as { id: string; secret: string; tenant: string };
    expect(webhook.tenant).toBe('acme');
    expect(webhook.secret).toMatch(/^whsec_/);
    const listed = (await (await fetch(`${web.url}/v1/webhooks`, { headers: acme.bearer })).json()) as {
      webhooks: Record<string, unknown>[];
    };
    expect(listed.webhooks.map((w) => w.id)).toEqual([webhook.id]);
    expect(listed.webhooks[0]).not.toHaveProperty('secret');

    await live.submitSignals([payload('w1', { tenant: 'acme' }), payload('w2', { tenant: 'globex' })]);
    await live.waitUntilDrained();
    await live.publishTicks(ticks('XYZ', T, 100, 105, 111));
    await live.waitUntilDrained();

    // Two deliveries (accepted and closed of w1), each failed once and then answered 200.
    await waitFor(() => hook.received.filter((r) => r.answered === 200).length >= 2, 'two delivered events');
    await new Promise((r) => setTimeout(r, 500));
    const ok = hook.received.filter((r) => r.answered === 200);
    expect(ok.map((r) => r.event).sort()).toEqual(['signal.accepted', 'signal.closed']);
    expect(new Set(ok.map((r) => r.delivery)).size, 'each delivery answered once').toBe(2);
    for (const r of hook.received) {
      expect(verify(webhook.secret, r.signature, r.body), 'the signature verifies').toBe(true);
      expect(r.signature.startsWith(`t=${r.timestamp},v1=`)).toBe(true);
      const event = JSON.parse(r.body) as { id: string; tenant: string };
      expect(event).toMatchObject({ id: 'w1', tenant: 'acme' });
    }
    for (const d of new Set(hook.received.map((r) => r.delivery)))
      expect(hook.received.filter((r) => r.delivery === d).map((r) => r.answered)).toEqual([500, 200]);
    expect(verify('another secret of some length', ok[0]!.signature, ok[0]!.body)).toBe(false);

    const deliveries = (await (
      await fetch(`${web.url}/v1/webhooks/${webhook.id}/deliveries`, { headers: acme.bearer })
    ).json()) as { deliveries: { statusCode: number; attempt: number; eventType: string }[] };
    expect(deliveries.deliveries.map((d) => [d.eventType, d.attempt, d.statusCode]).sort()).toEqual([
      ['signal.accepted', 1, 500],
      ['signal.accepted', 2, 200],
      ['signal.closed', 1, 500],
      ['signal.closed', 2, 200],
    ]);
    const otherTenant = await createTestKey(live.db, 'globex', ['read', 'submit']);
    const hidden = await fetch(`${web.url}/v1/webhooks/${webhook.id}/deliveries`, {
      headers: otherTenant.bearer,
    });
    expect(hidden.status, "another tenant's webhook does not exist for it").toBe(404);

    const deleted = await fetch(`${web.url}/v1/webhooks/${webhook.id}`, {
      method: 'DELETE',
      headers: acme.bearer,
    });
    expect(deleted.status).toBe(204);
    const after = (await (await fetch(`${web.url}/v1/webhooks`, { headers: acme.bearer })).json()) as {
      webhooks: unknown[];
    };
    expect(after.webhooks).toEqual([]);

    await hook.close();
    await web.close();
    await live.close();
    await workers.close();
  });

  it('refuses a URL that resolves to a private or loopback address without WEBHOOK_ALLOW_PRIVATE', async () => {
    const web = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix, allowPrivate: false });
    const pool = tracker.pool(db.url);
    const admin = await createTestKey(pool, 'ops', ['admin']);
    for (const url of [
      'http://127.0.0.1:9/hook',
      'http://localhost/hook',
      'http://[::1]/x',
      'http://169.254.169.254/latest',
      'http://10.1.2.3/',
    ]) {
      const res = await fetch(`${web.url}/v1/webhooks`, {
        method: 'POST',
        headers: { ...admin.bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ url, tenant: 'acme' }),
      });
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /WEBHOOK_ALLOW_PRIVATE/,
      );
    }
    await pool.end();
    await web.close();
  });

  it('takes a secret of 16 to 200 printable ASCII characters only: anything else is a 400 naming the rule, and no secret reaches the logs', async () => {
    const { log, output: logged } = captureLog('web');
    const web = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix, allowPrivate: true, log });
    const pool = tracker.pool(db.url);
    const acme = await createTestKey(pool, 'acme', ['read', 'submit']);
    const create = (secret: unknown) =>
      fetch(`${web.url}/v1/webhooks`, {
        method: 'POST',
        headers: { ...acme.bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'http://127.0.0.1:9/hook', secret }),
      });
    const refused = [
      // Sixteen to JavaScript (UTF-16 units), eight to PostgreSQL's length(): this one got a 500.
      '\u{1F600}'.repeat(8),
      'fifteen-chars-x',
      'x'.repeat(201),
      'sixteen-chars-\u0000x',
      'sixteen-chars-\u00e9\u00e9',
      'sixteen-chars-\ud800x',
      42,
    ];
    for (const secret of refused) {
      const res = await create(secret);
      expect(res.status, JSON.stringify(secret)).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('BAD_REQUEST');
      expect(body.error.message).toMatch(/^secret: 16 to 200 printable ASCII characters/);
    }
    const accepted = 'a secret: ~!@#$%^&*() 16+';
    const ok = await create(accepted);
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { secret: string }).secret).toBe(accepted);
    const stored = await pool.query<{ secret: string }>('SELECT secret FROM webhooks WHERE tenant = $1', [
      'acme',
    ]);
    expect(stored.rows.map((r) => r.secret)).toContain(accepted);
    await pool.end();
    await web.close();
    const output = logged();
    expect(output).toContain('"statusCode":400'); // the requests were logged
    for (const secret of [...refused.filter((s) => typeof s === 'string'), accepted])
      expect(output).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(output).not.toContain('INTERNAL_ERROR');
  });

  it('takes at most WEBHOOKS_PER_TENANT webhooks a tenant: one more is a 409 naming the limit, also when created at once; deleted ones do not count', async () => {
    const web = await webServer(tracker, {
      databaseUrl: db.url,
      prefix: ns.prefix,
      allowPrivate: true,
      webhooksPerTenant: 3,
    });
    const pool = tracker.pool(db.url);
    const tenant = `limit-${Date.now()}`;
    const key = await createTestKey(pool, tenant, ['read', 'submit']);
    const other = await createTestKey(pool, `${tenant}-other`, ['read', 'submit']);
    const create = (who: { bearer: Record<string, string> }, n: number) =>
      fetch(`${web.url}/v1/webhooks`, {
        method: 'POST',
        headers: { ...who.bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ url: `http://127.0.0.1:9/hook-${n}` }),
      });
    // Five at once for a limit of three: three are created, two refused.
    const first = await Promise.all([1, 2, 3, 4, 5].map((n) => create(key, n)));
    expect(first.map((r) => r.status).sort()).toEqual([201, 201, 201, 409, 409]);
    const refused = (await first.find((r) => r.status === 409)!.json()) as {
      error: { code: string; message: string };
    };
    expect(refused.error.code).toBe('CONFLICT');
    expect(refused.error.message).toMatch(/has 3 webhooks already \(WEBHOOKS_PER_TENANT\)/);
    const listed = (await (await fetch(`${web.url}/v1/webhooks`, { headers: key.bearer })).json()) as {
      webhooks: { id: string }[];
    };
    expect(listed.webhooks).toHaveLength(3);
    // Another tenant has its own three.
    expect((await create(other, 1)).status).toBe(201);
    // A deleted one frees its place.
    const gone = await fetch(`${web.url}/v1/webhooks/${listed.webhooks[0]!.id}`, {
      method: 'DELETE',
      headers: key.bearer,
    });
    expect(gone.status).toBe(204);
    expect((await create(key, 6)).status).toBe(201);
    expect((await create(key, 7)).status).toBe(409);
    await pool.end();
    await web.close();
  });

  it('reports the events a dead consumer left pending that were trimmed before they were claimed, and leaves none pending', async () => {
    const redis = tracker.redis();
    const keys = new EventKeys(ns.prefix);
    await redis.xgroup('CREATE', keys.stream, keys.webhookGroup, '$', 'MKSTREAM');
    for (let i = 0; i < 3; i++) await redis.xadd(keys.stream, '*', 'key', `lost-${i}`);
    // A worker read them and died before queuing their deliveries; the stream was trimmed since.
    await redis.xreadgroup('GROUP', keys.webhookGroup, 'dead', 'COUNT', 10, 'STREAMS', keys.stream, '>');
    await redis.xtrim(keys.stream, 'MAXLEN', 0);
    const { log, output: logged } = captureLog('worker');
    const connection = tracker.redis({ maxRetriesPerRequest: null });
    const pool = tracker.pool(db.url);
    const feeder = createWebhookFeeder({
      redis,
      connection,
      prefix: ns.prefix,
      pool,
      log,
      consumer: 'alive',
      attempts: 1,
      backoffMs: 10,
      blockMs: 50,
      claimIdleMs: 1,
    });
    try {
      await waitFor(() => logged().includes('trimmed from the stream'), 'the report of the trimmed events');
      const report = logged()
        .split('\n')
        .filter((l) => l.includes('trimmed from the stream'))
        .map((l) => JSON.parse(l) as { level: number; count: number; ids: string[] });
      expect(report).toHaveLength(1);
      expect(report[0]).toMatchObject({ level: 50, count: 3 });
      expect(report[0]!.ids).toHaveLength(3);
      const [pending] = (await redis.xpending(keys.stream, keys.webhookGroup)) as [number];
      expect(pending).toBe(0);
    } finally {
      await feeder.close();
      await pool.end();
      await Promise.all([quit(redis), quit(connection)]);
    }
  });
});
