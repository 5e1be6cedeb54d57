/**
 * The live stream (docs/API.md "Live stream", DESIGN.md decision 12) against real Redis and
 * PostgreSQL: events reach SSE clients after their outcome is committed, scoped to the tenant
 * and filtered; a client resumes with Last-Event-ID without gap or duplicate, across a web
 * server restart too; a resume from before the retained entries gets an explicit gap.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishEvents } from '../../src/events/publishEvents.ts';
import { EventKeys } from '../../src/names.ts';
import { createTestKey } from '../support/apiKeys.ts';
import { migrate } from '../../src/storage/migrate.ts';
import {
  createPipelineClient,
  startInProcessWorkers,
  useLivePipeline,
  type PipelineConfig,
} from '../support/livePipeline.ts';
import { payload, quit, T, ticks, webServer } from '../support/liveWeb.ts';
import { connectSse, type SseClient } from '../support/sseClient.ts';
import {
  redisUrl,
  silentLog,
  startIsolatedServices,
  useRedisNamespace,
  useResourceTracker,
  useTestDatabase,
  type IsolatedServices,
} from '../support/services.ts';

const SHARDS = 2;

const db = useTestDatabase();
const ns = useRedisNamespace('stream');
const tracker = useResourceTracker();
const { start } = useLivePipeline({ db, ns, tracker, shards: SHARDS });

const types = (c: SseClient, id?: string): string[] =>
  c
    .events()
    .filter((e) => id === undefined || e.id === id)
    .map((e) => e.type);

describe('GET /v1/stream', () => {
  it('streams each tenant its own events, in order, once the outcome is committed; filters by type and strategy', async () => {
    const live = await start();
    const web = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix });
    const acme = await createTestKey(live.db, 'acme', ['read']);
    const globex = await createTestKey(live.db, 'globex', ['read']);
    const admin = await createTestKey(live.db, 'ops', ['admin']);
    const a = tracker.track(connectSse(`${web.url}/v1/stream`, acme.bearer), 'sse');
    const g = tracker.track(connectSse(`${web.url}/v1/stream`, globex.bearer), 'sse');
    const closedOnly = tracker.track(
      connectSse(`${web.url}/v1/stream?type=signal.closed&strategy=breakout`, admin.bearer),
      'sse',
    );
    for (const c of [a, g, closedOnly]) expect(await c.status()).toBe(200);

    await live.submitSignals([
      payload('a1', { tenant: 'acme', strategy: 'breakout' }),
      payload('g1', { tenant: 'globex', strategy: 'meanrev' }),
      { ...payload('bad'), tenant: 'acme', side: 'up' },
    ]);
    await live.waitUntilDrained();
    await live.publishTicks(ticks('XYZ', T, 100, 105, 111));
    await live.waitUntilDrained();

    await a.waitFor((m) => m.some((x) => x.data.includes('"signal.closed"')), 15_000, 'a1 closed');
    await g.waitFor((m) => m.some((x) => x.data.includes('"signal.closed"')), 15_000, 'g1 closed');
    expect(types(a, 'a1')).toEqual(['signal.accepted', 'signal.filled', 'signal.leg', 'signal.closed']);
    expect(types(a, 'bad')).toEqual(['signal.rejected']);
    expect(new Set(a.events().map((e) => e.tenant))).toEqual(new Set(['acme']));
    expect(new Set(g.events().map((e) => e.tenant))).toEqual(new Set(['globex']));
    expect(types(g, 'g1')).toEqual(['signal.accepted', 'signal.filled', 'signal.leg', 'signal.closed']);
    const closed = a.events().find((e) => e.type === 'signal.closed')!;
    expect(closed).toMatchObject({
      id: 'a1',
      symbol: 'XYZ',
      strategy: 'breakout',
      data: { outcome: 'TP_HIT' },
    });
    // The closed event comes after PostgreSQL has the outcome.
    const stored = await live.db.query(`SELECT outcome FROM signal_outcomes WHERE signal_id = 'a1'`);
    expect(stored.rows).toEqual([{ outcome: 'TP_HIT' }]);

    await closedOnly.waitFor((m) => m.length >= 1, 5000, 'the filtered closed event');
    await new Promise((r) => setTimeout(r, 300));
    expect(closedOnly.events().map((e) => [e.type, e.id])).toEqual([['signal.closed', 'a1']]);

    // SSE ids increase; heartbeats keep the connection alive.
    const ids = a.events().map((e) => e.sseId);
    expect([...ids].sort(compareIds)).toEqual(ids);
    for (const c of [a, g, closedOnly]) await c.close();

    // A key of one tenant may not name another; an unknown type is refused.
    const other = connectSse(`${web.url}/v1/stream?tenant=globex`, acme.bearer);
    expect(await other.status()).toBe(403);
    await other.close();
    const badType = connectSse(`${web.url}/v1/stream?type=signal.teleported`, acme.bearer);
    expect(await badType.status()).toBe(400);
    await badType.close();
    // A resume id Redis would refuse mid-stream (a part above 2^64 - 1) is refused up front;
    // the largest id Redis takes is not.
    for (const [id, status] of [
      ['99999999999999999999-0', 400],
      ['1-18446744073709551616', 400],
      ['18446744073709551615-18446744073709551615', 200],
    ] as const) {
      const resume = connectSse(`${web.url}/v1/stream?lastEventId=${id}`, acme.bearer);
      expect([id, await resume.status()]).toEqual([id, status]);
      await resume.close();
    }
    // A query string over Node's 16 KiB is refused before any route: 431, in the API's error
    // shape (not fastify's own; api-v1 checks that every operation lists it).
    const huge = await fetch(`${web.url}/v1/stream?strategy=${'x'.repeat(20_000)}`, { headers: acme.bearer });
    expect([huge.status, ((await huge.json()) as { error: { code: string } }).error.code]).toEqual([
      431,
      'HEADERS_TOO_LARGE',
    ]);
    await web.close();
  });

  it('is served by two web servers at once, each with its own reader as two web processes have: every client of either gets every event once, with the same ids', async () => {
    const live = await start();
    const one = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix });
    const two = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix });
    const acme = await createTestKey(live.db, 'acme', ['read']);
    const clients = [one, two, one, two].map((web) =>
      tracker.track(connectSse(`${web.url}/v1/stream`, acme.bearer), 'sse'),
    );
    for (const c of clients) expect(await c.status()).toBe(200);

    await live.submitSignals([payload('m1', { tenant: 'acme' }), payload('m2', { tenant: 'acme' })]);
    await live.waitUntilDrained();
    await live.publishTicks(ticks('XYZ', T, 100, 111));
    await live.waitUntilDrained();
    for (const c of clients)
      await c.waitFor(
        (m) => m.filter((x) => x.data.includes('"signal.closed"')).length >= 2,
        15_000,
        'both closed',
      );
    await new Promise((r) => setTimeout(r, 300));

    const seen = clients.map((c) => c.events().map((e) => `${e.sseId} ${e.type} ${e.id}`));
    expect(seen[0]!.length).toBe(8); // accepted, filled, leg, closed, for each of the two
    expect(new Set(seen[0]).size, 'no duplicates').toBe(seen[0]!.length);
    for (const [i, list] of seen.entries()) expect(list, `client ${i}`).toEqual(seen[0]);
    for (const c of clients) await c.close();
    await Promise.all([one.close(), two.close()]);
  });

  it('resumes with Last-Event-ID without gap or duplicate, across a web server restart too', async () => {
    const live = await start();
    let web = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix });
    const acme = await createTestKey(live.db, 'acme', ['read']);
    const first = tracker.track(connectSse(`${web.url}/v1/stream`, acme.bearer), 'sse');
    await first.status();

    const signals = Array.from({ length: 6 }, (_, i) => payload(`r${i}`, { tenant: 'acme' }));
    await live.submitSignals(signals.slice(0, 3));
    await live.waitUntilDrained();
    await first.waitFor((m) => m.length >= 3, 10_000, 'three accepted');
    const seen = first.events();
    const lastId = seen[seen.length - 1]!.sseId;
    await first.close();

    // While nobody listens: more events, and the web server restarts.
    await live.submitSignals(signals.slice(3));
    await live.waitUntilDrained();
    await live.publishTicks(ticks('XYZ', T, 100, 105, 111));
    await live.waitUntilDrained();
    await web.close();
    web = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix });
    await live.submitSignals([payload('r6', { tenant: 'acme' })]);
    await live.waitUntilDrained();

    const resumed = tracker.track(
      connectSse(`${web.url}/v1/stream`, { ...acme.bearer, 'last-event-id': lastId }),
      'sse',
    );
    // Every signal closes (4 events each once accepted), r6 only accepted.
    const expected = 3 * 3 + 3 * 4 + 1;
    await resumed.waitFor((m) => m.length >= expected, 15_000, `${expected} events`);
    await new Promise((r) => setTimeout(r, 300));
    const got = resumed.events();
    const all = [...seen, ...got];
    const keys = all.map((e) => `${e.type}:${e.id}`);
    expect(new Set(keys).size, 'no duplicate').toBe(keys.length);
    for (const s of signals)
      expect(types({ events: () => all } as SseClient, s.id)).toEqual([
        'signal.accepted',
        'signal.filled',
        'signal.leg',
        'signal.closed',
      ]);
    expect(got.map((e) => e.sseId).every((id) => compareIds(id, lastId) > 0)).toBe(true);
    expect(resumed.messages.some((m) => m.event === 'gap')).toBe(false);
    await resumed.close();
    await web.close();
  });

  it('says `gap` when the entries after Last-Event-ID were trimmed, then goes on from the first it has', async () => {
    const redis = tracker.redis();
    const pool = tracker.pool(db.url);
    const keys = new EventKeys(ns.prefix);
    const admin = await createTestKey(pool, 'ops', ['admin']);
    const event = (n: number) => ({
      key: `k${n}`,
      event: { type: 'signal.accepted' as const, id: `s${n}`, tenant: 't', symbol: 'XYZ', ts: n, data: {} },
    });
    const ids = await publishEvents(
      redis,
      keys,
      [1, 2, 3, 4, 5].map(event),
      { maxLen: 1000, maxAgeMs: 0 },
      Date.now,
    );
    await redis.xtrim(keys.stream, 'MAXLEN', 2);
    const web = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix });
    const c = tracker.track(
      connectSse(`${web.url}/v1/stream`, { ...admin.bearer, 'last-event-id': ids[0]! }),
      'sse',
    );
    await c.waitFor((m) => m.length >= 3, 5000, 'a gap and two events');
    expect(c.messages[0]).toEqual({
      event: 'gap',
      data: JSON.stringify({ lastEventId: ids[0], firstAvailableId: ids[3] }),
    });
    expect(c.events().map((e) => e.id)).toEqual(['s4', 's5']);
    await c.close();

    // Resuming from the last retained entry is no gap; a repeat (same key) is dropped.
    await publishEvents(redis, keys, [event(5), event(6)], { maxLen: 1000, maxAgeMs: 0 }, Date.now);
    const d = tracker.track(
      connectSse(`${web.url}/v1/stream`, { ...admin.bearer, 'last-event-id': ids[3]! }),
      'sse',
    );
    await d.waitFor((m) => m.some((x) => x.data.includes('"s6"')), 5000, 's6');
    expect(d.messages.map((m) => m.event)).toEqual(['message', 'message']);
    expect(d.events().map((e) => e.id)).toEqual(['s5', 's6']);
    await d.close();
    await web.close();
    await pool.end();
    await quit(redis);
  });
});

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am! < bm! ? -1 : am! > bm! ? 1 : as! < bs! ? -1 : as! > bs! ? 1 : 0;
}

describe('a client that reads too slowly', () => {
  it('is sent an error event and disconnected once its unsent output passes SSE_MAX_BUFFER_BYTES', async () => {
    const redis = tracker.redis();
    const pool = tracker.pool(db.url);
    const admin = await createTestKey(pool, 'ops', ['admin']);
    const web = await webServer(tracker, {
      databaseUrl: db.url,
      prefix: ns.prefix,
      maxBufferBytes: 64 * 1024,
    });
    const { port } = new URL(web.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n${'Authorization'}: ${admin.bearer.authorization}\r\n\r\n`,
    );
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    const ended = new Promise((r) => socket.once('end', r));
    await new Promise((r) => setTimeout(r, 200));
    socket.pause(); // reads nothing from now on
    const pad = 'x'.repeat(1000);
    for (let b = 0; b < 20; b++) {
      const batch = Array.from({ length: 500 }, (_, i) => ({
        key: `slow${b}:${i}`,
        event: { type: 'signal.leg' as const, id: `s${i}`, tenant: 't', symbol: 'XYZ', ts: i, data: { pad } },
      }));
      await publishEvents(redis, new EventKeys(ns.prefix), batch, { maxLen: 100_000, maxAgeMs: 0 }, Date.now);
    }
    await new Promise((r) => setTimeout(r, 500));
    socket.resume();
    const closed = await Promise.race([
      ended.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 5000)),
    ]);
    expect(closed, 'the server closed the connection').toBe(true);
    expect(text).toMatch(/event: error\ndata: \{"code":"SLOW_CONSUMER"/);
    expect(text.indexOf('event: error'), 'the error is the last thing sent').toBeGreaterThan(
      text.lastIndexOf('id: '),
    );
    socket.destroy();
    await web.close();
    await pool.end();
    await quit(redis);
  });
});

describe('streams per key', () => {
  it('holds at most SSE_MAX_STREAMS_PER_KEY streams of one key open: one more is a 429 naming the limit until one closes; other keys are not counted', async () => {
    const pool = tracker.pool(db.url);
    const key = await createTestKey(pool, 'acme', ['read']);
    const other = await createTestKey(pool, 'acme', ['read']);
    await pool.end();
    const web = await webServer(tracker, { databaseUrl: db.url, prefix: ns.prefix, maxStreamsPerKey: 2 });
    const first = tracker.track(connectSse(`${web.url}/v1/stream`, key.bearer), 'sse');
    const second = tracker.track(connectSse(`${web.url}/v1/stream`, key.bearer), 'sse');
    expect([await first.status(), await second.status()]).toEqual([200, 200]);
    const third = await fetch(`${web.url}/v1/stream`, { headers: key.bearer });
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('5');
    const body = (await third.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('RATE_LIMITED');
    expect(body.error.message).toMatch(/holds 2 live streams open already \(SSE_MAX_STREAMS_PER_KEY\)/);
    const another = tracker.track(connectSse(`${web.url}/v1/stream`, other.bearer), 'sse');
    expect(await another.status()).toBe(200);
    // One closed: its place is free once the server has seen it go.
    await first.close();
    let again: SseClient | null = null;
    for (let i = 0; i < 50 && again === null; i++) {
      const probe = connectSse(`${web.url}/v1/stream`, key.bearer);
      if ((await probe.status()) === 200) again = tracker.track(probe, 'sse');
      else {
        await probe.close();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(again, 'a stream once one closed').not.toBeNull();
    await Promise.all([second.close(), another.close(), again!.close()]);
    await web.close();
  });
});

describe('the output gate', () => {
  let services: IsolatedServices | undefined;
  beforeAll(async () => {
    services = await startIsolatedServices();
    await migrate({ databaseUrl: services.databaseUrl, log: silentLog });
  }, 120_000);
  afterAll(async () => {
    await services?.stop();
  });

  it('publishes no signal.closed while PostgreSQL is down, though the shard has closed the signal; it arrives once PostgreSQL is back', async () => {
    // PostgreSQL of the test's own (it is stopped), the shared Redis.
    const cfg: PipelineConfig = {
      redisUrl: redisUrl(),
      databaseUrl: services!.databaseUrl,
      prefix: `${ns.prefix}-gate`,
      shards: 2,
      flusher: true,
    };
    const workers = tracker.track(await startInProcessWorkers(cfg), 'workers');
    // "Drained" means the queues here: the outbox cannot drain while PostgreSQL is down.
    const live = tracker.track(createPipelineClient({ ...cfg, flusher: false }), 'pipeline client');
    const web = await webServer(tracker, { databaseUrl: cfg.databaseUrl, prefix: cfg.prefix });
    const key = await createTestKey(live.db, 'acme', ['read']);
    const c = tracker.track(connectSse(`${web.url}/v1/stream`, key.bearer), 'sse');
    expect(await c.status()).toBe(200);

    await live.submitSignals([payload('gated', { tenant: 'acme' })]);
    await live.waitUntilDrained();
    await live.publishTicks(ticks('XYZ', T, 100));
    await live.waitUntilDrained();
    await c.waitFor((m) => m.some((x) => x.data.includes('"signal.filled"')), 10_000, 'the fill');

    await services!.pgStop('fast');
    await live.publishTicks(ticks('XYZ', T + 1000, 105, 111));
    await live.waitUntilDrained();
    const deadline = Date.now() + 10_000;
    while (!(await live.outbox()).some((r) => r.key === 'closed:gated')) {
      if (Date.now() > deadline) throw new Error('the shard did not close the signal');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(types(c, 'gated'), 'nothing leaves before PostgreSQL has it').toEqual([
      'signal.accepted',
      'signal.filled',
    ]);

    await services!.pgStart();
    await c.waitFor(
      (m) => m.some((x) => x.data.includes('"signal.closed"')),
      30_000,
      'the close, after the restart',
    );
    expect(types(c, 'gated')).toEqual(['signal.accepted', 'signal.filled', 'signal.leg', 'signal.closed']);
    const stored = await live.db.query(`SELECT outcome FROM signal_outcomes WHERE signal_id = 'gated'`);
    expect(stored.rows).toEqual([{ outcome: 'TP_HIT' }]);

    await c.close();
    await web.close();
    await live.close();
    await workers.close();
  }, 60_000);
});
