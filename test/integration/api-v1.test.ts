/**
 * The versioned HTTP API (`/v1`, docs/API.md) in process, against real Redis and PostgreSQL,
 * with the worker and flusher wiring running beside it: every route with its errors, the
 * scope matrix driven from the OpenAPI document, tenants kept apart on every route, and a
 * signal submitted over HTTP ending as replay ends it.
 */
import { liveOf, loadConfig } from '../../src/config.ts';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { QUEUE_NAMES, signalJobId } from '../../src/names.ts';
import { replay } from '../../src/replay/replay.ts';
import { DEFAULT_GUARDS } from '../../src/live/createIntakeWorkers.ts';
import { createWebServer } from '../../src/web/createWebServer.ts';
import { v1Routes } from '../../src/web/v1/v1Routes.ts';
import { createTestKey, OPEN_ACCESS } from '../support/apiKeys.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';
import { quit } from '../support/liveWeb.ts';

const SHARDS = 2;
const T0 = 1_700_000_000_000;
type Headers = Record<string, string>;
/** What the test reads of an OpenAPI operation. */
interface LiveOperation {
  security?: { apiKey: string[] }[];
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

function signal(id: string, extra: Partial<SignalPayload> = {}): SignalPayload {
  return {
    v: 1,
    id,
    symbol: 'apix',
    side: 'long',
    createdAt: T0,
    entry: { type: 'limit', price: 100 },
    takeProfits: [{ price: 110, fraction: 1 }],
    stopLoss: { price: 95 },
    model: 'gbm',
    modelVersion: '1.0',
    confidence: 0.7,
    meta: { feature: 1 },
    ...extra,
  } as SignalPayload;
}

/** Fills the signal's limit entry, then reaches its take-profit. */
function ticksFor(symbol: string): Tick[] {
  return [
    { symbol, ts: T0 + 1000, price: 101 },
    { symbol, ts: T0 + 2000, price: 99.5 },
    { symbol, ts: T0 + 3000, price: 104 },
    { symbol, ts: T0 + 4000, price: 111 },
  ];
}
const TICKS = ticksFor('APIX');

describe('the /v1 API', () => {
  const db = useTestDatabase();
  const ns = useRedisNamespace('api-v1');
  const tracker = useResourceTracker();
  const pipeline = useLivePipeline({ db, ns, tracker, shards: SHARDS });

  async function server(): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
    const redis = tracker.redis();
    const connection = tracker.redis({}, 'bullmq connection');
    const pool = tracker.pool(db.url);
    const log = pino({ level: 'silent' });
    const app = await createWebServer({
      redis,
      connection,
      pool,
      prefix: ns.prefix,
      now: Date.now,
      shards: SHARDS,
      log,
      access: OPEN_ACCESS,
      // The live routes too: the OpenAPI document must list them (they share its scope).
      live: { ...liveOf(loadConfig({})), allowPrivateWebhooks: true },
      routes: v1Routes({
        pool,
        redis,
        connection,
        prefix: ns.prefix,
        now: Date.now,
        shards: SHARDS,
        guards: DEFAULT_GUARDS,
        tickBatchSize: 1000,
        bodyLimit: 256 * 1024,
        log,
      }),
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

  async function keys() {
    const pool = tracker.pool(db.url, 'keys');
    const k = {
      submitA: await createTestKey(pool, 'acme', ['submit', 'read']),
      readA: await createTestKey(pool, 'acme', ['read']),
      onlySubmitA: await createTestKey(pool, 'acme', ['submit']),
      submitB: await createTestKey(pool, 'globex', ['submit', 'read']),
      admin: await createTestKey(pool, 'ops', ['admin']),
    };
    await pool.end();
    return k;
  }

  const call = (app: FastifyInstance, method: string, url: string, headers: Headers, payload?: unknown) =>
    app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  it('serves its OpenAPI document and docs without a key, and every other operation needs a key and its scope', async () => {
    const { app, close } = await server();
    const k = await keys();
    const doc = await call(app, 'GET', '/v1/openapi.json', {});
    expect(doc.statusCode).toBe(200);
    const spec = doc.json() as {
      openapi: string;
      paths: Record<string, Record<string, { security?: { apiKey: string[] }[] }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(spec.openapi).toBe('3.1.0');
    // The published payload schemas are referred to, not restated.
    expect(Object.keys(spec.components.schemas)).toEqual(
      expect.arrayContaining(['track-signal.v1', 'signal-op.v1']),
    );
    // Swagger UI from the installed package: its page and its bundle, no CDN.
    expect((await call(app, 'GET', '/docs', {})).statusCode).toBeLessThan(400);
    const page = await call(app, 'GET', '/docs/static/index.html', {});
    expect(page.statusCode).toBeLessThan(400);
    const bundle = await call(app, 'GET', '/docs/static/swagger-ui-bundle.js', {});
    expect(bundle.statusCode).toBe(200);

    const operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(16);
    // The live stream and the webhooks are in the document, with their inputs and answers.
    const names = operations.map((o) => `${o.method} ${o.path}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'GET /v1/stream',
        'POST /v1/webhooks',
        'GET /v1/webhooks',
        'DELETE /v1/webhooks/{id}',
        'GET /v1/webhooks/{id}/deliveries',
      ]),
    );
    const paths = spec.paths as unknown as Record<string, Record<string, LiveOperation>>;
    const stream = paths['/v1/stream']!.get!;
    expect(stream.security).toEqual([{ apiKey: ['read'] }]);
    expect(Object.keys(stream.responses['200']!.content!)).toEqual(['text/event-stream']);
    expect(stream.parameters!.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(
      expect.arrayContaining(['type', 'symbol', 'strategy', 'model', 'tenant', 'lastEventId']),
    );
    const create = paths['/v1/webhooks']!.post!;
    expect(create.security).toEqual([{ apiKey: ['read', 'submit'] }]);
    expect(create.requestBody!.content['application/json']!.schema).toMatchObject({
      required: ['url'],
      properties: { url: {}, eventTypes: {}, secret: {}, tenant: {} },
    });
    expect(create.responses['201']!.content!['application/json']!.schema).toMatchObject({
      required: expect.arrayContaining(['id', 'secret']),
    });
    expect(Object.keys(paths['/v1/webhooks/{id}']!.delete!.responses)).toEqual(
      expect.arrayContaining(['204', '404']),
    );
    expect(paths['/v1/webhooks/{id}/deliveries']!.get!.parameters!.map((p) => `${p.in} ${p.name}`)).toEqual(
      expect.arrayContaining(['path id', 'query limit']),
    );
    // What Node refuses before any route (a query string over 16 KiB: stream test) is listed too.
    const without431 = operations
      .filter(({ path, op }) => path.startsWith('/v1/') && (op as LiveOperation).security !== undefined)
      .filter(({ op }) => (op as LiveOperation).responses['431'] === undefined)
      .map(({ method, path }) => `${method} ${path}`);
    expect(without431).toEqual([]);
    const lacking = { read: k.onlySubmitA, submit: k.readA, admin: k.submitA } as const;
    const failures: string[] = [];
    for (const { path, method, op } of operations) {
      const scope = op.security?.[0]?.apiKey[0] as keyof typeof lacking | undefined;
      if (scope === undefined) {
        failures.push(`${method} ${path} declares no scope in the document`);
        continue;
      }
      const url = path.replace(/\{[^}]+\}/g, 'some-id');
      const none = await call(app, method, url, {}, method === 'GET' ? undefined : {});
      if (none.statusCode !== 401 || none.json().error.code !== 'API_KEY_MISSING')
        failures.push(`${method} ${path} without a key: ${none.statusCode}`);
      const weak = await call(app, method, url, lacking[scope].bearer, method === 'GET' ? undefined : {});
      if (weak.statusCode !== 403 || weak.json().error.code !== 'SCOPE_FORBIDDEN')
        failures.push(`${method} ${path} without ${scope}: ${weak.statusCode}`);
    }
    expect(failures).toEqual([]);

    // Every operation that takes a body answers a body of another type, and one too large, with
    // a status its own entry of the document lists (a client generated from it expects no other).
    const undocumented: string[] = [];
    for (const { path, method, op } of operations) {
      if ((op as LiveOperation).requestBody === undefined) continue;
      const url = path.replace(/\{[^}]+\}/g, 'some-id');
      const documented = Object.keys((op as LiveOperation).responses);
      for (const [what, headers, payload] of [
        ['xml', { 'content-type': 'application/xml' }, '<signal/>'],
        ['text', { 'content-type': 'text/plain' }, '{}'],
        ['too large', { 'content-type': 'application/json' }, JSON.stringify({ x: 'y'.repeat(300 * 1024) })],
      ] as const) {
        const res = await app.inject({
          method: method as 'POST',
          url,
          headers: { ...k.admin.bearer, ...headers },
          payload,
        });
        if (!documented.includes(String(res.statusCode)))
          undocumented.push(
            `${method} ${path}, ${what}: ${res.statusCode} not in [${documented.join(', ')}]`,
          );
        // A body that is not JSON is 415, whatever its type (text/plain included).
        if (what !== 'too large' && res.statusCode !== 415)
          undocumented.push(`${method} ${path}, ${what}: ${res.statusCode}, not 415`);
      }
    }
    expect(undocumented).toEqual([]);
    await close();
  });

  it("answers duplicate for an id another tenant's signal holds while still queued, not accepted and then dropped", async () => {
    // No intake runs: the submissions stay in the queue.
    const { app, close } = await server();
    const k = await keys();
    const post = (who: { bearer: Headers }) =>
      call(app, 'POST', '/v1/signals', who.bearer, signal('q-shared'));
    const first = await post(k.submitA);
    expect(first.json().signals).toEqual([
      { id: 'q-shared', status: 'accepted', jobId: signalJobId('q-shared') },
    ]);
    const other = await post(k.submitB);
    expect([other.statusCode, other.json().signals]).toEqual([
      202,
      [{ id: 'q-shared', status: 'duplicate' }],
    ]);
    // The same tenant again is a resubmission, as before: its one job.
    const again = await post(k.submitA);
    expect(again.json().signals).toEqual([
      { id: 'q-shared', status: 'accepted', jobId: signalJobId('q-shared') },
    ]);
    await close();
  });

  it('takes signals over HTTP: accepted once, duplicates and rejections named, other tenants refused', async () => {
    const live = await pipeline.start();
    const { app, close } = await server();
    const k = await keys();
    const post = (body: unknown, who = k.submitA) => call(app, 'POST', '/v1/signals', who.bearer, body);

    const first = await post(signal('http-1'));
    expect(first.statusCode).toBe(202);
    expect(first.json().signals).toEqual([
      { id: 'http-1', status: 'accepted', jobId: signalJobId('http-1') },
    ]);
    // Resubmitted while queued: BullMQ keeps one job (same id).
    await post(signal('http-1'));
    await live.waitUntilDrained();
    const batch = await post({
      signals: [
        signal('http-1'),
        signal('http-2'),
        signal('http-2'),
        signal('http-bad', { stopLoss: { price: 101 } }),
      ],
    });
    expect(batch.statusCode).toBe(202);
    const statuses = (
      batch.json().signals as { id: string; status: string; errors?: { code: string }[] }[]
    ).map((s) => [s.id, s.status, s.errors?.map((e) => e.code)]);
    expect(statuses).toEqual([
      ['http-1', 'duplicate', undefined],
      ['http-2', 'accepted', undefined],
      ['http-2', 'duplicate', undefined],
      ['http-bad', 'rejected', ['LEVEL_ORDER']],
    ]);
    await live.waitUntilDrained();
    const { rows } = await live.db.query<{ id: string; status: string; tenant: string }>(
      `SELECT id, status, tenant FROM signals ORDER BY seq`,
    );
    // Stored once each: the rejection as the intake stores one; the signal takes the key's tenant.
    expect(rows).toEqual([
      { id: 'http-1', status: 'accepted', tenant: 'acme' },
      { id: 'http-bad', status: 'rejected', tenant: 'acme' },
      { id: 'http-2', status: 'accepted', tenant: 'acme' },
    ]);
    expect(await live.trackSignal.getJobCountByTypes('completed', 'failed')).toBe(2);

    const foreign = await post(signal('http-3', { tenant: 'globex' }));
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error.code).toBe('TENANT_FORBIDDEN');
    expect((await post(signal('http-4', { tenant: 'globex' }), k.admin)).statusCode).toBe(202);
    const tooMany = await post({ signals: Array.from({ length: 1001 }, (_, i) => signal(`m${i}`)) });
    expect(tooMany.statusCode).toBe(413);
    expect(tooMany.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    const notJson = await app.inject({
      method: 'POST',
      url: '/v1/signals',
      headers: { ...k.submitA.bearer, 'content-type': 'application/json' },
      payload: '{"v":',
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.details[0].code).toBe('PAYLOAD_NOT_JSON');
    await close();
  });

  it('tracks a signal submitted over HTTP to the outcome replay gives, and shows it only to its tenant', async () => {
    const live = await pipeline.start();
    const { app, close } = await server();
    const k = await keys();
    const s = signal('http-tp');
    expect((await call(app, 'POST', '/v1/signals', k.submitA.bearer, s)).statusCode).toBe(202);
    await live.waitUntilDrained();
    const open = await call(app, 'GET', '/v1/signals/http-tp', k.readA.bearer);
    expect(open.statusCode).toBe(200);
    expect(open.json()).toMatchObject({ id: 'http-tp', state: 'pending' });

    const ticks = await call(app, 'POST', '/v1/ticks', k.submitA.bearer, {
      ticks: [[TICKS[0]!.symbol, TICKS[0]!.ts, TICKS[0]!.price], ...TICKS.slice(1)],
    });
    expect(ticks.statusCode).toBe(202);
    expect(ticks.json()).toEqual({ published: 4 });
    await live.waitUntilDrained();

    const expected = await replay({ signals: [{ ...s, tenant: 'acme' }], ticks: TICKS });
    const got = await call(app, 'GET', '/v1/signals/http-tp', k.readA.bearer);
    expect(got.statusCode).toBe(200);
    const { history, ...line } = got.json() as { history: { event: string }[] };
    expect(describeDifference([line], expected.lines)).toBeNull();
    expect(history.map((h) => h.event)).toEqual(['accepted', 'closed']);

    // Another tenant learns nothing: 404, as for an id that does not exist.
    const other = await call(app, 'GET', '/v1/signals/http-tp', k.submitB.bearer);
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe('SIGNAL_NOT_FOUND');
    expect((await call(app, 'GET', '/v1/signals/nothing-here', k.readA.bearer)).statusCode).toBe(404);
    expect((await call(app, 'GET', '/v1/outcomes', k.submitB.bearer)).json().outcomes).toEqual([]);
    expect((await call(app, 'GET', '/v1/labels', k.submitB.bearer)).body).toBe('');
    expect((await call(app, 'GET', '/v1/outcomes?tenant=acme', k.submitB.bearer)).statusCode).toBe(403);

    const outcomes = await call(app, 'GET', '/v1/outcomes?model=gbm&outcome=TP_HIT', k.readA.bearer);
    expect(outcomes.json()).toMatchObject({
      outcomes: [{ signalId: 'http-tp', tenant: 'acme', outcome: 'TP_HIT' }],
      nextCursor: null,
    });
    const csv = await call(app, 'GET', '/v1/outcomes', { ...k.readA.bearer, accept: 'text/csv' });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body.split('\r\n')[0]).toMatch(/^signalId,tenant,symbol/);
    expect(csv.body.split('\r\n')[1]).toMatch(/^http-tp,acme,APIX/);

    const labels = await call(app, 'GET', '/v1/labels?model=gbm&modelVersion=1.0', k.readA.bearer);
    expect(labels.headers['content-type']).toMatch(/ndjson/);
    expect(JSON.parse(labels.body.trim())).toMatchObject({
      signalId: 'http-tp',
      barrierLabel: 1,
      signLabel: 1,
      confidence: 0.7,
      meta: { feature: 1 },
      outcome: 'TP_HIT',
    });
    const labelCsv = await call(app, 'GET', '/v1/labels?format=csv', k.readA.bearer);
    expect(labelCsv.body.split('\r\n')[0]).toContain('barrierLabel,signLabel');

    // An operation on a closed signal is a conflict; on another tenant's, not found.
    const exit = await call(app, 'POST', '/v1/signals/http-tp/exit', k.submitA.bearer, { price: 111 });
    expect(exit.statusCode).toBe(409);
    expect(exit.json().error.details[0].code).toBe('SIGNAL_CLOSED');
    expect((await call(app, 'POST', '/v1/signals/http-tp/cancel', k.submitB.bearer, {})).statusCode).toBe(
      404,
    );
    await close();
  });

  it('queues exit, cancel and amend on signal-ops, and refuses malformed ones with their codes', async () => {
    const live = await pipeline.start();
    const { app, close } = await server();
    const k = await keys();
    await call(app, 'POST', '/v1/signals', k.submitA.bearer, { signals: [signal('op-1'), signal('op-2')] });
    await live.waitUntilDrained();
    const amend = await call(app, 'POST', '/v1/signals/op-1/amend', k.submitA.bearer, {
      ts: T0 + 10,
      stopLoss: { price: 96 },
    });
    expect(amend.statusCode).toBe(202);
    expect(amend.json()).toMatchObject({ id: 'op-1', op: 'amend', jobId: expect.any(String) });
    const cancel = await call(app, 'POST', '/v1/signals/op-2/cancel', k.submitA.bearer, { ts: T0 + 20 });
    expect(cancel.statusCode).toBe(202);
    const bad = await call(app, 'POST', '/v1/signals/op-1/exit', k.submitA.bearer, {
      ts: T0 + 30,
      fraction: 2,
      colour: 'red',
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.code).toBe('UNPROCESSABLE');
    expect(bad.json().error.details.map((d: { code: string }) => d.code)).toContain('PAYLOAD_SCHEMA');
    const contradicting = await call(app, 'POST', '/v1/signals/op-1/exit', k.submitA.bearer, { id: 'op-2' });
    expect(contradicting.statusCode).toBe(400);
    expect((await call(app, 'POST', '/v1/signals/unknown/exit', k.submitA.bearer, {})).statusCode).toBe(404);
    await live.waitUntilDrained();
    const got = (await call(app, 'GET', '/v1/signals/op-2', k.readA.bearer)).json();
    expect(got).toMatchObject({ state: 'closed', outcome: 'CANCELLED' });
    const events = (
      (await call(app, 'GET', '/v1/signals/op-1', k.readA.bearer)).json() as { history: { event: string }[] }
    ).history.map((h) => h.event);
    expect(events).toEqual(['accepted', 'amended']);
    expect(await live.signalOps.getJobCountByTypes('completed')).toBe(2);
    await close();
  });

  it('applies an operation sent again with its Idempotency-Key once, and answers the retries as the first', async () => {
    const live = await pipeline.start();
    const { app, close } = await server();
    const k = await keys();
    await call(app, 'POST', '/v1/signals', k.submitA.bearer, { signals: [signal('idem-1')] });
    await live.waitUntilDrained();
    await call(app, 'POST', '/v1/ticks', k.submitA.bearer, { ticks: [['APIX', T0 + 1000, 99.5]] });
    await live.waitUntilDrained();
    const exit = (key: string, body: object) =>
      call(app, 'POST', '/v1/signals/idem-1/exit', { ...k.submitA.bearer, 'idempotency-key': key }, body);

    // A quarter closed at 101, sent three times at once (a client retrying on a timeout) …
    const quarter = { price: 101, fraction: 0.25 };
    const first = await Promise.all([1, 2, 3].map(() => exit('exit-q1', quarter)));
    expect(first.map((r) => r.statusCode)).toEqual([202, 202, 202]);
    const answers = first.map((r) => r.json() as { jobId: string; ts: number });
    expect(new Set(answers.map((a) => a.jobId)).size).toBe(1);
    expect(new Set(answers.map((a) => a.ts)).size).toBe(1);
    // … and once more after it was queued: the first answer, nothing queued again.
    const again = await exit('exit-q1', quarter);
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual({ id: 'idem-1', op: 'exit', ...answers[0] });
    // The same key with another operation is refused; another tenant's same key is its own.
    const reused = await exit('exit-q1', { price: 102, fraction: 0.5 });
    expect(reused.statusCode).toBe(409);
    expect(reused.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const bad = await exit('has space', quarter);
    expect(bad.statusCode).toBe(400);
    await live.waitUntilDrained();

    const got = (await call(app, 'GET', '/v1/signals/idem-1', k.readA.bearer)).json() as {
      state: string;
      legs: { reason: string; fraction: number }[];
      history: { event: string }[];
    };
    expect(got.state).toBe('partial');
    expect(got.legs).toEqual([expect.objectContaining({ fraction: 0.25, price: 101 })]);
    expect(got.history.map((h) => h.event)).toEqual(['accepted', 'exited']);
    expect(await live.signalOps.getJobCountByTypes('completed', 'failed')).toBe(1);
    // Clients generated from the OpenAPI document know the header.
    const doc = (await call(app, 'GET', '/v1/openapi.json', k.readA.bearer)).json() as {
      paths: Record<string, Record<string, LiveOperation>>;
    };
    for (const op of ['exit', 'cancel', 'amend'])
      expect(doc.paths[`/v1/signals/{id}/${op}`]!['post']!.parameters).toContainEqual(
        expect.objectContaining({ in: 'header', name: 'idempotency-key' }),
      );
    await close();
  });

  it('answers a NUL in a path or query value, an infinite number, and a URL that is not UTF-8, with 400 in the documented error body (found by fuzzing: 500s, and fastify’s own body)', async () => {
    const { app, close } = await server();
    const k = await keys();
    for (const [url, field] of [
      ['/v1/signals/a%00b', 'params.id'],
      ['/v1/outcomes?strategy=%00', 'querystring.strategy'],
      ['/v1/labels?model=m%00&model=n', 'querystring.model'],
    ] as const) {
      const r = await call(app, 'GET', url, k.submitA.bearer);
      expect([url, r.statusCode, r.json()]).toEqual([
        url,
        400,
        {
          error: {
            code: 'BAD_REQUEST',
            message: `${field}: contains a NUL character (U+0000)`,
            details: [{ field, reason: 'contains a NUL character (U+0000)' }],
          },
        },
      ]);
    }
    // Ajv took "1e309" (Infinity) for an integer, and PostgreSQL refused it: a 500.
    for (const url of ['/v1/metrics?limit=1e309', '/v1/outcomes?limit=-1e309', '/v1/insights?limit=1e400']) {
      const r = await call(app, 'GET', url, k.readA.bearer);
      expect([url, r.statusCode, r.json().error?.code]).toEqual([url, 400, 'VALIDATION_FAILED']);
    }
    for (const url of ['/v1/signals/%ED%A0%80', '/v1/outcomes/%FF%FE', '/v1/signals/%']) {
      const r = await call(app, 'GET', url, k.readA.bearer);
      expect([url, r.statusCode, r.json().error?.code]).toEqual([url, 400, 'BAD_REQUEST']);
      expect(Object.keys(r.json().error).sort()).toEqual(['code', 'details', 'message']);
    }
    await close();
  });

  it('pages outcomes by cursor in (closedAt, signalId) order, and refuses bad queries with 400', async () => {
    const live = await pipeline.start();
    const { app, close } = await server();
    const k = await keys();
    const signals = Array.from({ length: 5 }, (_, i) =>
      signal(`page-${i}`, { tenant: 'acme', symbol: 'PAGEX', model: 'pager' }),
    );
    await call(app, 'POST', '/v1/signals', k.submitA.bearer, { signals });
    await live.waitUntilDrained();
    await call(app, 'POST', '/v1/ticks', k.submitA.bearer, { ticks: ticksFor('PAGEX') });
    await live.waitUntilDrained();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/outcomes?model=pager&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await call(app, 'GET', url, k.readA.bearer)).json() as {
        outcomes: { signalId: string }[];
        nextCursor: string | null;
      };
      seen.push(...page.outcomes.map((o) => o.signalId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(signals.map((s) => s.id));
    const cursorOf = (position: unknown): string =>
      Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
    for (const url of [
      '/v1/outcomes?limit=0',
      '/v1/outcomes?cursor=nonsense',
      '/v1/outcomes?closedFrom=soon',
      // Times JavaScript reads but PostgreSQL cannot hold: bad input, not a server failure.
      `/v1/outcomes?cursor=${cursorOf([1e20, 'a'])}`,
      `/v1/outcomes?cursor=${cursorOf([1e16, 'a'])}`,
      '/v1/outcomes?closedFrom=-8640000000000001',
      '/v1/outcomes?closedFrom=-271821-04-20T00:00:00Z',
      '/v1/reports?from=0000-01-01',
    ]) {
      const r = await call(app, 'GET', url, k.readA.bearer);
      expect([url, r.statusCode, r.json().error.code]).toEqual([url, 400, 'VALIDATION_FAILED']);
    }
    const badTicks = await call(app, 'POST', '/v1/ticks', k.submitA.bearer, {
      ticks: [
        ['APIX', 1.5, 3],
        ['APIX', T0, -1],
      ],
    });
    expect(badTicks.statusCode).toBe(422);
    expect(badTicks.json().error.details).toHaveLength(2);
    // The longest ids validation accepts are reachable by path (fastify's default cut them at 100).
    const longId = `${'L'.repeat(126)}-x`;
    const missing = await call(app, 'GET', `/v1/signals/${encodeURIComponent(longId)}`, k.readA.bearer);
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'SIGNAL_NOT_FOUND']);
    await close();
  });

  it("reads metrics and insights of the key's tenant, and lets only admin queue an analysis", async () => {
    await pipeline.start();
    const { app, close } = await server();
    const k = await keys();
    const metrics = await call(app, 'GET', '/v1/metrics?window=7d&groupKind=strategy', k.readA.bearer);
    expect(metrics.statusCode).toBe(200);
    expect(metrics.json()).toEqual({ metrics: [] });
    expect((await call(app, 'GET', '/v1/metrics?window=year', k.readA.bearer)).statusCode).toBe(400);
    expect(
      (
        await call(app, 'GET', '/v1/insights?severity=warning&since=2024-01-01T00:00:00Z', k.readA.bearer)
      ).json(),
    ).toEqual({ insights: [] });
    expect((await call(app, 'GET', '/v1/insights?tenant=globex', k.readA.bearer)).statusCode).toBe(403);
    const analyze = await call(app, 'POST', '/v1/analyze', k.admin.bearer, {
      window: '1d',
      groupKind: 'all',
    });
    expect(analyze.statusCode).toBe(202);
    expect(analyze.json().jobIds).toEqual([expect.stringMatching(/^analyze-1d-all-/)]);
    expect(QUEUE_NAMES.analyze).toBe('analyze');
    await close();
  });
});
