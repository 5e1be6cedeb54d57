/**
 * The live stream (docs/API.md "Live stream", DESIGN.md decision 12) against real Redis and
 * PostgreSQL: events reach SSE clients after their outcome is committed, scoped to the tenant
 * and filtered; a client resumes with Last-Event-ID without gap or duplicate, across a web
 * server restart too; a resume from before the retained entries gets an explicit gap.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { publishEvents } from '../../src/events/publishEvents.ts';
import { EventKeys } from '../../src/names.ts';
import { createWebServer } from '../../src/web/createWebServer.ts';
import { createTestKey, OPEN_ACCESS } from '../support/apiKeys.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import { connectSse, type SseClient } from '../support/sseClient.ts';
import {
  useRedisNamespace,
  useResourceTracker,
  useTestDatabase,
  type ResourceTracker,
} from '../support/services.ts';

const SHARDS = 2;
const silent = pino({ level: 'silent' });
const T = Date.now() - 120_000;

const db = useTestDatabase();
const ns = useRedisNamespace('stream');
const tracker = useResourceTracker();
const { start } = useLivePipeline({ db, ns, tracker, shards: SHARDS });

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
  options: { databaseUrl: string; prefix: string; allowPrivate?: boolean; maxBufferBytes?: number },
): Promise<Web> {
  const redis = tracker.redis();
  const connection = tracker.redis({}, 'bullmq connection');
  const pool = tracker.pool(options.databaseUrl);
  const app = await createWebServer({
    redis,
    connection,
    pool,
    prefix: options.prefix,
    shards: SHARDS,
    log: silent,
    access: OPEN_ACCESS,
    live: {
      heartbeatMs: 200,
      maxBufferBytes: options.maxBufferBytes ?? 1 << 20,
      allowPrivateWebhooks: options.allowPrivate ?? true,
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
    await web.close();
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

export async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  const ended = new Promise((resolve) => redis.once('end', resolve));
  redis.disconnect();
  await ended;
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am! < bm! ? -1 : am! > bm! ? 1 : as! < bs! ? -1 : as! > bs! ? 1 : 0;
}
