/**
 * `Idempotency-Key` on `POST /v1/ticks` (docs/API.md "Ticks"): an HTTP producer that sends a
 * request again after an error or a lost answer has its ticks applied once. The fault campaign's
 * bug 6 (a tick batch applied twice after a Redis restart) was fixed for queue producers with
 * batch ids; this is the same promise over HTTP, against the real web routes, Redis and workers.
 */
import { describe, expect, it } from 'vitest';
import type { Tick } from '../../machines/types.ts';
import { shardOf, ShardKeys, WebKeys } from '../../src/names.ts';
import { appliedTickCount } from '../../src/live/shardStore.ts';
import { tickIdempotency } from '../../src/web/v1/tickIdempotency.ts';
import { createTestKey } from '../support/apiKeys.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import { ticks, T, webServer, type Web } from '../support/liveWeb.ts';
import { useRedisNamespace, useResourceTracker, useTestDatabase } from '../support/services.ts';

const db = useTestDatabase();
const ns = useRedisNamespace('tick-idem');
const tracker = useResourceTracker();
const SHARDS = 2;
/** Small shard jobs, so a request makes several; the web process and the test's producer cut alike. */
const BATCH = 7;
const pipeline = useLivePipeline({ db, ns, tracker, shards: SHARDS, flusher: false, batchSize: BATCH });

const wire = (list: Tick[]) => list.map((t) => [t.symbol, t.ts, t.price]);

async function post(web: Web, bearer: { authorization: string }, list: Tick[], key?: string) {
  const res = await fetch(`${web.url}/v1/ticks`, {
    method: 'POST',
    headers: {
      ...bearer,
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    },
    body: JSON.stringify({ ticks: wire(list) }),
  });
  return {
    status: res.status,
    replayed: res.headers.get('idempotent-replayed'),
    body: (await res.json()) as { published?: number; error?: { code: string } },
  };
}

describe('POST /v1/ticks with an Idempotency-Key', () => {
  async function setUp() {
    const live = await pipeline.start();
    const web = await webServer(tracker, {
      databaseUrl: db.url,
      prefix: ns.prefix,
      shards: SHARDS,
      api: { tickBatchSize: BATCH },
    });
    const pool = tracker.pool(db.url, 'keys');
    const acme = await createTestKey(pool, 'acme', ['submit']);
    const globex = await createTestKey(pool, 'globex', ['submit']);
    await pool.end();
    /** How many ticks of `symbol` its shard has applied. */
    const applied = async (symbol: string) => {
      return (
        (await appliedTickCount(live.redis, new ShardKeys(ns.prefix, shardOf(symbol, SHARDS)), symbol)) ?? 0
      );
    };
    return { live, web, acme, globex, applied };
  }

  it('applies the ticks once however often the request is sent, and answers a retry as the first time', async () => {
    const { live, web, acme, applied } = await setUp();
    const batch = ticks('IDA', T, ...Array.from({ length: 20 }, (_, i) => 100 + (i % 5)));
    // Three copies racing (a client timing out and retrying while the first is in flight) …
    const first = await Promise.all([1, 2, 3].map(() => post(web, acme.bearer, batch, 'feed-a-1')));
    expect(first.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(first.map((r) => r.body.published)).toEqual([20, 20, 20]);
    await live.waitUntilDrained();
    expect(await applied('IDA')).toBe(20);
    // … and a retry after it completed: nothing published, the first answer again.
    const again = await post(web, acme.bearer, batch, 'feed-a-1');
    expect(again).toMatchObject({ status: 202, replayed: 'true', body: { published: 20 } });
    await live.waitUntilDrained();
    expect(await applied('IDA')).toBe(20);
    expect(await live.failedShardJobs()).toEqual([]);
    await web.close();
  });

  it('refuses the key with other ticks (409), keeps tenants apart, and refuses a key it cannot use (400)', async () => {
    const { live, web, acme, globex, applied } = await setUp();
    expect((await post(web, acme.bearer, ticks('IDB', T, 100, 101), 'k-1')).status).toBe(202);
    const reused = await post(web, acme.bearer, ticks('IDB', T + 5000, 102), 'k-1');
    expect(reused).toMatchObject({ status: 409, body: { error: { code: 'IDEMPOTENCY_KEY_REUSED' } } });
    // The same key is another tenant's own: its ticks are published.
    expect((await post(web, globex.bearer, ticks('IDB', T + 5000, 102), 'k-1')).status).toBe(202);
    for (const bad of ['has space', 'x'.repeat(256), 'é'])
      expect(await post(web, acme.bearer, ticks('IDB', T + 9000, 103), bad)).toMatchObject({
        status: 400,
        body: { error: { code: 'BAD_REQUEST' } },
      });
    await live.waitUntilDrained();
    expect(await applied('IDB')).toBe(3);
    // Clients generated from the OpenAPI document know the header and the 409.
    const doc = (await (await fetch(`${web.url}/v1/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { parameters?: { in: string; name: string }[]; responses: object }>
      >;
    };
    const operation = doc.paths['/v1/ticks']!['post']!;
    expect(operation.parameters).toContainEqual(
      expect.objectContaining({ in: 'header', name: 'idempotency-key' }),
    );
    expect(Object.keys(operation.responses)).toContain('409');
    await web.close();
  });

  it('completes a request that died after publishing, before it recorded the answer, without a second copy', async () => {
    const { live, web, acme, applied } = await setUp();
    const batch = ticks('IDC', T, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109);
    // The first attempt claimed the key and published, then the process died.
    const once = tickIdempotency(live.redis, ns.prefix, 'acme', 'feed-c-9');
    expect(await once.claim(batch)).toEqual({ action: 'publish' });
    await live.publishTicks(batch, { batchId: once.batchId });
    await live.waitUntilDrained();
    expect(await applied('IDC')).toBe(10);
    // The retry finds the key claimed but not completed: it publishes under the same batch id.
    const retry = await post(web, acme.bearer, batch, 'feed-c-9');
    expect(retry).toMatchObject({ status: 202, replayed: null, body: { published: 10 } });
    await live.waitUntilDrained();
    expect(await applied('IDC')).toBe(10);
    // Now completed: the record holds the count, kept for a day.
    const record = new WebKeys(ns.prefix).tickIdempotency(once.batchId.slice('http-'.length));
    expect(JSON.parse((await live.redis.get(record))!)).toMatchObject({ published: 10 });
    const ttl = await live.redis.ttl(record);
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
    await web.close();
  });
});
