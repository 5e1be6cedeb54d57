/**
 * The front door of the web process against real Redis and PostgreSQL (docs/API.md): API keys
 * and scopes, revocation, tenants, the shared rate limit, Bull Board behind the keys, the Host
 * check, secrets kept out of the logs, and /ready.
 */
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES, shardQueueName } from '../../src/names.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { revokeApiKey } from '../../src/storage/revokeApiKey.ts';
import { shippedMigrations } from '../../src/web/checkReady.ts';
import { createWebServer, type WebAccess } from '../../src/web/createWebServer.ts';
import { tenantScope } from '../../src/web/tenantScope.ts';
import { captureLog } from '../support/captureLog.ts';
import { createTestKey, OPEN_ACCESS } from '../support/apiKeys.ts';
import {
  createTestDatabase,
  silentLog,
  useRedisNamespace,
  useResourceTracker,
  useTestDatabase,
  type ResourceTracker,
} from '../support/services.ts';
import { quit } from '../support/liveWeb.ts';

const SHARDS = 2;
const silent = pino({ level: 'silent' });
type Headers = Record<string, string>;

describe('the front door', () => {
  const db = useTestDatabase();
  const ns = useRedisNamespace('web-access');
  const resources = useResourceTracker();

  interface Server {
    app: FastifyInstance;
    close(): Promise<void>;
  }

  async function server(
    tracker: ResourceTracker,
    options: { access?: Partial<WebAccess>; log?: Logger; now?: () => number; databaseUrl?: string } = {},
  ): Promise<Server> {
    const redis = tracker.redis();
    const connection = tracker.redis({}, 'bullmq connection');
    const pool = tracker.pool(options.databaseUrl ?? db.url);
    const app = await createWebServer({
      redis,
      connection,
      pool,
      prefix: ns.prefix,
      shards: SHARDS,
      log: options.log ?? silent,
      access: { ...OPEN_ACCESS, ...options.access },
      now: options.now ?? Date.now,
      // The routes of the coming API will look like these.
      routes(api) {
        api.get('/probe/read', { config: { scope: 'read' } }, async (request) => ({
          tenant: tenantScope(request.principal!, (request.query as { tenant?: string }).tenant),
        }));
        api.post('/probe/submit', { config: { scope: 'submit' } }, async () => ({ ok: true }));
        api.get('/probe/headers', { config: { scope: 'read' } }, async (request) => {
          // A route that logs what it should not: the redaction must catch it.
          request.log.info({ req: { headers: request.headers }, key: 'x', password: 'y' }, 'probe');
          return { ok: true };
        });
      },
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
    return { app, close: () => closeable.close() };
  }

  const get = (app: FastifyInstance, url: string, headers: Headers = {}) =>
    app.inject({ method: 'GET', url, headers });

  it('answers 401 without a key or with a bad one, 403 without the scope, 200 with it (admin implies all)', async () => {
    const { app, close } = await server(resources);
    const pool = resources.pool(db.url, 'keys');
    const submit = await createTestKey(pool, 'acme', ['submit']);
    const read = await createTestKey(pool, 'acme', ['read']);
    const scraper = await createTestKey(pool, 'ops', ['metrics']);
    const admin = await createTestKey(pool, 'ops', ['admin']);
    const revoked = await createTestKey(pool, 'acme', ['read', 'submit']);
    await revokeApiKey(pool, revoked.id);
    await pool.end();

    const who: [string, Headers][] = [
      ['none', {}],
      ['not a key', { authorization: 'Bearer hello' }],
      ['unknown key', { authorization: `Bearer otk_${'A'.repeat(43)}` }],
      ['revoked', revoked.bearer],
      ['wrong scheme', { authorization: `Token ${read.key}` }],
      ['submit', submit.bearer],
      ['read', read.bearer],
      ['metrics', scraper.bearer],
      ['admin', admin.bearer],
    ];
    const routes: [string, string][] = [
      ['GET', '/health'],
      ['GET', '/probe/read'],
      ['POST', '/probe/submit'],
      ['GET', '/metrics'],
      ['GET', '/admin/queues'],
      ['PUT', '/admin/queues/api/queues/pause'],
      ['GET', '/nowhere'],
    ];
    const table: Record<string, Record<string, number>> = {};
    for (const [name, headers] of who) {
      table[name] = {};
      for (const [method, url] of routes) {
        const res = await app.inject({ method: method as 'GET', url, headers });
        table[name][`${method} ${url}`] = res.statusCode;
        if (res.statusCode === 401 || res.statusCode === 403) {
          const body = res.json() as { error: { code: string; message: string; details: unknown[] } };
          expect(Object.keys(body.error)).toEqual(['code', 'message', 'details']);
          expect(body.error.code).toBe(
            res.statusCode === 403
              ? 'SCOPE_FORBIDDEN'
              : name === 'none' || name === 'wrong scheme'
                ? 'API_KEY_MISSING'
                : 'API_KEY_INVALID',
          );
        }
      }
    }
    const row = (h: number, r: number, s: number, m: number, b: number, p: number, n: number) => ({
      'GET /health': h,
      'GET /probe/read': r,
      'POST /probe/submit': s,
      'GET /metrics': m,
      'GET /admin/queues': b,
      'PUT /admin/queues/api/queues/pause': p,
      'GET /nowhere': n,
    });
    const denied = row(200, 401, 401, 401, 401, 401, 401);
    expect(table).toEqual({
      none: denied,
      'not a key': denied,
      'unknown key': denied,
      revoked: denied,
      'wrong scheme': denied,
      submit: row(200, 403, 200, 403, 403, 403, 404),
      // The web process's counters total every tenant: a tenant's read key does not reach them.
      read: row(200, 200, 403, 403, 403, 403, 404),
      metrics: row(200, 403, 403, 200, 403, 403, 404),
      admin: row(200, 200, 200, 200, 200, 200, 404),
    });
    await close();
  });

  it('stops a revoked key within API_KEY_CACHE_MS: the cached lookup serves until it expires', async () => {
    let now = 1_800_000_000_000;
    const { app, close } = await server(resources, { access: { keyCacheMs: 5000 }, now: () => now });
    const pool = resources.pool(db.url, 'keys');
    const key = await createTestKey(pool, 'acme', ['read']);
    expect((await get(app, '/probe/read', key.bearer)).statusCode).toBe(200);
    await revokeApiKey(pool, key.id);
    now += 4000;
    expect((await get(app, '/probe/read', key.bearer)).statusCode).toBe(200);
    now += 1001;
    const after = await get(app, '/probe/read', key.bearer);
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ error: { code: 'API_KEY_INVALID' } });
    await pool.end();
    await close();
  });

  it('records last_used_at at most once a minute per key, not on every request', async () => {
    let now = Date.UTC(2027, 0, 4, 12, 0, 0);
    const { app, close } = await server(resources, { now: () => now });
    const pool = resources.pool(db.url, 'keys');
    const key = await createTestKey(pool, 'acme', ['read']);
    const lastUsed = async (): Promise<number | null> => {
      // The write happens after the answer: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const { rows } = await pool.query<{ at: Date | null }>(
        'SELECT last_used_at AS at FROM api_keys WHERE id = $1',
        [key.id],
      );
      return rows[0]!.at?.getTime() ?? null;
    };
    expect(await lastUsed()).toBeNull();
    const first = now;
    await get(app, '/probe/read', key.bearer);
    expect(await lastUsed()).toBe(first);
    for (const dt of [1000, 20_000, 59_000]) {
      now = first + dt;
      await get(app, '/probe/read', key.bearer);
    }
    expect(await lastUsed()).toBe(first);
    now = first + 60_000;
    await get(app, '/probe/read', key.bearer);
    expect(await lastUsed()).toBe(first + 60_000);
    await pool.end();
    await close();
  });

  it('scopes tenants: a key reaches its own tenant only (naming another is 403), an admin key any or all', async () => {
    const { app, close } = await server(resources);
    const pool = resources.pool(db.url, 'keys');
    const acme = await createTestKey(pool, 'acme', ['read']);
    const admin = await createTestKey(pool, 'ops', ['admin']);
    await pool.end();
    const tenantOf = async (url: string, headers: Headers) => {
      const res = await get(app, url, headers);
      return res.statusCode === 200 ? (res.json() as { tenant: string | null }).tenant : res.json();
    };
    expect(await tenantOf('/probe/read', acme.bearer)).toBe('acme');
    expect(await tenantOf('/probe/read?tenant=acme', acme.bearer)).toBe('acme');
    expect(await tenantOf('/probe/read?tenant=globex', acme.bearer)).toEqual({
      error: { code: 'TENANT_FORBIDDEN', message: expect.stringMatching(/acme, not globex/), details: [] },
    });
    expect((await get(app, '/probe/read?tenant=globex', acme.bearer)).statusCode).toBe(403);
    expect(await tenantOf('/probe/read', admin.bearer)).toBeNull();
    expect(await tenantOf('/probe/read?tenant=globex', admin.bearer)).toBe('globex');
    await close();
  });

  it('rate-limits per key across web processes sharing one Redis, with Retry-After, and by address before a key is known', async () => {
    const a = await server(resources, { access: { rateLimitPerMinute: 3 } });
    const b = await server(resources, { access: { rateLimitPerMinute: 3 } });
    const pool = resources.pool(db.url, 'keys');
    const key = await createTestKey(pool, 'acme', ['read']);
    const other = await createTestKey(pool, 'acme', ['read']);
    await pool.end();

    const codes = [];
    for (const app of [a.app, b.app, a.app])
      codes.push((await get(app, '/probe/read', key.bearer)).statusCode);
    expect(codes).toEqual([200, 200, 200]);
    const limited = await get(b.app, '/probe/read', key.bearer);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.json()).toEqual({
      error: {
        code: 'RATE_LIMITED',
        message: expect.stringMatching(/more than 3 requests a minute/),
        details: [],
      },
    });
    // Another key has its own allowance.
    expect((await get(a.app, '/probe/read', other.bearer)).statusCode).toBe(200);
    // Guesses count against the address: the fourth bad key is refused before it is looked up.
    const guesses = [];
    for (let i = 0; i < 4; i++) {
      guesses.push(
        (await get(i % 2 ? a.app : b.app, '/probe/read', { authorization: `Bearer nope${i}` })).statusCode,
      );
    }
    expect(guesses).toEqual([401, 401, 401, 429]);
    // Probes are never limited.
    expect((await get(a.app, '/health')).statusCode).toBe(200);
    await a.close();
    await b.close();
  });

  it('signs a browser into Bull Board with HTTP Basic: only an admin key (it spans tenants) may look or act', async () => {
    const { app, close } = await server(resources);
    const pool = resources.pool(db.url, 'keys');
    const read = await createTestKey(pool, 'acme', ['read']);
    const admin = await createTestKey(pool, 'ops', ['admin']);
    await pool.end();
    const producer = resources.redis({}, 'producer');
    const analyze = resources.track(
      new Queue(QUEUE_NAMES.analyze, { connection: producer, prefix: ns.prefix }),
      'queue',
    );
    // Another tenant's signal waiting in the intake: Bull Board would show its payload.
    const intake = resources.track(
      new Queue(QUEUE_NAMES.trackSignal, { connection: producer, prefix: ns.prefix }),
      'queue',
    );
    await intake.add('track-signal', { id: 'globex-secret-1', tenant: 'globex', symbol: 'IBM' });

    const prompt = await get(app, '/admin/queues');
    expect(prompt.statusCode).toBe(401);
    expect(prompt.headers['www-authenticate']).toBe('Basic realm="outcome-tracker", charset="UTF-8"');
    const wrong = await get(app, '/admin/queues', {
      authorization: `Basic ${Buffer.from('me:otk_nope').toString('base64')}`,
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
    // Elsewhere Basic is not a way in, and the challenge is Bearer.
    const metrics = await get(app, '/metrics', read.basic);
    expect(metrics.statusCode).toBe(401);
    expect(metrics.headers['www-authenticate']).toBe('Bearer realm="outcome-tracker"');

    // A tenant's read key sees no queue: not the page, not its API, not a job.
    for (const url of [
      '/admin/queues',
      '/admin/queues/api/queues',
      `/admin/queues/api/queues/${QUEUE_NAMES.trackSignal}/waiting`,
      `/admin/queues/api/queues/${QUEUE_NAMES.trackSignal}/1`,
    ]) {
      const res = await get(app, url, read.basic);
      expect(res.statusCode, url).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'SCOPE_FORBIDDEN' } });
      expect(res.body).not.toContain('globex-secret-1');
    }
    for (const [method, url] of [
      ['PUT', `/admin/queues/api/queues/${QUEUE_NAMES.analyze}/pause`],
      ['PUT', `/admin/queues/api/queues/${QUEUE_NAMES.analyze}/obliterate`],
      ['PUT', `/admin/queues/api/queues/${QUEUE_NAMES.analyze}/retry/failed`],
      ['POST', `/admin/queues/api/queues/${QUEUE_NAMES.analyze}/add`],
    ] as const) {
      const res = await app.inject({ method, url, headers: read.basic, payload: {} });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'SCOPE_FORBIDDEN' } });
    }
    expect(await analyze.isPaused()).toBe(false);

    const page = await get(app, '/admin/queues', admin.basic);
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/<html/i);
    const adminView = (await get(app, '/admin/queues/api/queues', admin.basic)).json() as {
      queues: { name: string; readOnlyMode: boolean }[];
    };
    expect(
      adminView.queues
        .filter((q) => q.readOnlyMode)
        .map((q) => q.name)
        .sort(),
    ).toEqual([shardQueueName(0), shardQueueName(1)]);
    const pause = await app.inject({
      method: 'PUT',
      url: `/admin/queues/api/queues/${QUEUE_NAMES.analyze}/pause`,
      headers: admin.basic,
    });
    expect(pause.statusCode).toBe(200);
    expect(await analyze.isPaused()).toBe(true);
    // Bearer works on Bull Board too (scripts).
    expect((await get(app, '/admin/queues/api/queues', admin.bearer)).statusCode).toBe(200);

    expect(adminView.queues).toHaveLength(4 + SHARDS);
    const waiting = await get(
      app,
      `/admin/queues/api/queues?activeQueue=${QUEUE_NAMES.trackSignal}&status=waiting&page=1`,
      admin.basic,
    );
    expect(waiting.statusCode).toBe(200);
    expect(waiting.body).toContain('globex-secret-1');

    await analyze.close();
    await intake.close();
    await quit(producer);
    await close();
  });

  it('answers 403 HOST_FORBIDDEN to a Host outside HTTP_ALLOWED_HOSTS, even with an admin key; probes answer any host', async () => {
    const local = await server(resources, { access: { allowedHosts: 'localhost,127.0.0.1,[::1]' } });
    const listed = await server(resources, {
      access: { allowedHosts: 'api.example.com:8443', listenHost: '0.0.0.0' },
    });
    const pool = resources.pool(db.url, 'keys');
    const admin = await createTestKey(pool, 'ops', ['admin']);
    await pool.end();
    const status = async (s: Server, host: string, url = '/probe/read') =>
      (await get(s.app, url, { ...admin.bearer, host })).statusCode;

    for (const host of ['localhost', 'localhost:3000', '127.0.0.1:80', '[::1]:8080', 'LOCALHOST:3000'])
      expect(await status(local, host), host).toBe(200);
    for (const host of ['evil.example', 'evil.example:3000', 'localhost.evil.example', '127.0.0.1.nip.io'])
      expect(await status(local, host), host).toBe(403);
    const refused = await get(local.app, '/admin/queues', { ...admin.basic, host: 'evil.example' });
    expect(refused.json()).toMatchObject({ error: { code: 'HOST_FORBIDDEN' } });
    expect(await status(local, 'evil.example', '/health')).toBe(200);
    expect(await status(local, '10.1.2.3:3000', '/ready')).toBe(200);

    expect(await status(listed, 'api.example.com:8443')).toBe(200);
    expect(await status(listed, 'api.example.com')).toBe(403);
    expect(await status(listed, 'localhost')).toBe(403);
    expect(await status(listed, '0.0.0.0:3000')).toBe(200);

    // `*` (OPEN_ACCESS) turns the check off.
    const open = await server(resources);
    expect(await status(open, 'anything.example')).toBe(200);
    await Promise.all([local.close(), listed.close(), open.close()]);
  });

  it('never writes a key to the logs, whatever the request or a route logs', async () => {
    const { log, output: logged } = captureLog('web');
    const { app, close } = await server(resources, { log, access: { rateLimitPerMinute: 1000 } });
    const pool = resources.pool(db.url, 'keys');
    const read = await createTestKey(pool, 'acme', ['read']);
    const revoked = await createTestKey(pool, 'acme', ['read']);
    await revokeApiKey(pool, revoked.id);
    await pool.end();
    for (const headers of [
      read.bearer,
      read.basic,
      revoked.bearer,
      { ...read.bearer, cookie: `session=${read.key}` },
    ]) {
      for (const url of ['/probe/read', '/probe/headers', '/admin/queues/api/queues', '/metrics', '/nowhere'])
        await get(app, url, headers);
      await app.inject({ method: 'PUT', url: '/admin/queues/api/queues/pause', headers });
    }
    await close();
    const output = logged();
    expect(output).toContain('"msg":"probe"');
    expect(output).toContain('[redacted]');
    expect(output).toContain(read.id); // the key's id is what identifies it in the logs
    for (const secret of [read.key, revoked.key, read.key.slice(4), read.basic.authorization.slice(6)])
      expect(output.includes(secret), `the logs contain ${secret.slice(0, 8)}…`).toBe(false);
  });

  it('GET /ready answers 503 naming the missing migrations until they are applied, then 200', async () => {
    const empty = await createTestDatabase({ migrated: false });
    try {
      const { app, close } = await server(resources, { databaseUrl: empty.url });
      const before = await get(app, '/ready');
      expect(before.statusCode).toBe(503);
      expect(before.json()).toEqual({
        status: 'not ready',
        redis: 'ok',
        postgres: 'ok',
        migrations: 'pending',
        missing: shippedMigrations(),
      });
      expect(shippedMigrations()).toContain('1764000000006_api-keys');
      await migrate({ databaseUrl: empty.url, log: silentLog });
      const after = await get(app, '/ready');
      expect(after.statusCode).toBe(200);
      expect(after.json()).toEqual({ status: 'ready', redis: 'ok', postgres: 'ok', migrations: 'ok' });
      await close();
    } finally {
      await empty.drop();
    }
  });

  it('GET /ready answers 503 naming PostgreSQL when it is unreachable', async () => {
    const { app, close } = await server(resources, { databaseUrl: 'postgres://nobody@127.0.0.1:1/nowhere' });
    const res = await get(app, '/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'not ready',
      redis: 'ok',
      postgres: 'error',
      migrations: 'unknown',
    });
    expect((res.json() as { errors: { postgres: string } }).errors.postgres).toMatch(/ECONNREFUSED|connect/);
    await close();
  });
});
