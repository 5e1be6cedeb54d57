/**
 * The `/v1` HTTP API end to end, as users run it: the web, worker and flusher processes
 * (`node --import tsx workers/…`), API keys made with the command line, and plain `fetch` on
 * loopback. Two tenants submit signals on real prices, the ticks arrive through `POST
 * /v1/ticks`, operations through `/v1/signals/{id}/cancel|exit`, and what `GET
 * /v1/signals/{id}` then answers is what replay prints; neither tenant sees the other's.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { replay, replaySync } from '../../src/replay/replay.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  spawnFlusher,
  spawnProcess,
  spawnWorker,
  tail,
} from '../support/livePipeline.ts';
import { createKey, freePort, useRealProcesses } from '../support/realProcesses.ts';
import { undocumentedAnswers, type SeenAnswer } from '../support/openApiConformance.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  createTestDatabase,
  redisUrl,
  useRedisNamespace,
  useResourceTracker,
  type TestDatabase,
} from '../support/services.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARDS = 2;
/** The most ticks one request may carry (MAX_TICKS_PER_REQUEST). */
const TICKS_PER_REQUEST = 10_000;

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});
const ns = useRedisNamespace('http-e2e');
const tracker = useResourceTracker();

let ibm: Tick[] = [];
let binance: Tick[] = [];
beforeAll(async () => {
  ibm = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  binance = await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz');
});

const run = useRealProcesses();
const { processes, outputs } = run;
const cliTarget = () => ({ repoRoot: REPO_ROOT, databaseUrl: db.url });

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

function api(base: string, seen: SeenAnswer[] = []) {
  return async (method: string, path: string, key: string | null, body?: unknown): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // JSON lines, CSV: the caller reads `text`.
    }
    seen.push({
      method,
      url: path,
      status: res.status,
      contentType: res.headers.get('content-type'),
      body: parsed,
    });
    return { status: res.status, body: parsed, text };
  };
}

const wire = (t: Tick): unknown[] =>
  t.bid === undefined && t.ask === undefined
    ? [t.symbol, t.ts, t.price]
    : [t.symbol, t.ts, t.price, t.bid ?? null, t.ask ?? null];

describe('the HTTP API over real processes', () => {
  it('tracks two tenants’ signals submitted, ticked and operated on over HTTP to the outcomes replay gives, each tenant seeing only its own', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      REDIS_URL: redisUrl(),
      DATABASE_URL: db.url,
      QUEUE_PREFIX: ns.prefix,
      SHARDS: String(SHARDS),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      // The test polls: room for that, while the limit stays on (counted in Redis).
      HTTP_RATE_LIMIT_PER_MINUTE: '100000',
    };
    const web = spawnProcess('web', 'workers/web.ts', env);
    const worker = spawnWorker('worker', env);
    const flusher = spawnFlusher('flusher', env);
    processes.push(web, worker, flusher);
    const [keyA, keyB] = await Promise.all([
      createKey(cliTarget(), 'acme', 'submit,read'),
      createKey(cliTarget(), 'globex', 'submit,read'),
    ]);
    await Promise.all([worker.waitForOutput('worker started'), flusher.waitForOutput('flusher started')]);
    // Every answer, checked against the OpenAPI document at the end.
    const seen: SeenAnswer[] = [];
    const call = api(base, seen);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await call('GET', '/ready', null).catch(() => null);
      if (ready?.status === 200) break;
      if (!web.isRunning() || Date.now() > deadline)
        throw new Error(`the web process did not become ready\n${outputs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Node prints a deprecation or other runtime warning as "(node:PID) … Warning: …" on stderr:
    // an operator starting the processes would see it.
    for (const p of [web, worker, flusher]) expect(p.output()).not.toMatch(/^\(node:\d+\) .*Warning/m);
    run.client = tracker.track(
      createPipelineClient({
        redisUrl: redisUrl(),
        databaseUrl: db.url,
        prefix: ns.prefix,
        shards: SHARDS,
        flusher: true,
      }),
      'pipeline client',
    );
    const drained = () => run.client!.waitUntilDrained({ diagnostics: outputs });

    // The document: public, and every route of docs/API.md in it.
    const doc = await call('GET', '/v1/openapi.json', null);
    expect(doc.status).toBe(200);
    const paths = (doc.body as { paths: Record<string, Record<string, unknown>> }).paths;
    const routes = Object.entries(paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /v1/signals',
        'GET /v1/signals/{id}',
        'POST /v1/signals/{id}/exit',
        'POST /v1/signals/{id}/cancel',
        'POST /v1/signals/{id}/amend',
        'POST /v1/ticks',
        'GET /v1/outcomes',
        'GET /v1/labels',
        'GET /v1/metrics',
        'GET /v1/insights',
        'POST /v1/analyze',
      ]),
    );
    const missing = await call('GET', '/v1/outcomes', null);
    expect(missing.status).toBe(401);
    expect((missing.body as { error: { code: string } }).error.code).toBe('API_KEY_MISSING');

    // Tenant A trades IBM, tenant B BTCUSDT and ETHUSDT; neither payload names its tenant.
    const signalsA = generateSignals(spreadAnchors(ibm, 60), { count: 60, seed: 41, prefix: 'acme-ibm' });
    const signalsB = generateSignals(spreadAnchors(binance, 40), {
      count: 40,
      seed: 42,
      prefix: 'globex-bin',
    });
    for (const [key, signals] of [
      [keyA, signalsA],
      [keyB, signalsB],
    ] as const) {
      const sent = await call('POST', '/v1/signals', key, { signals });
      expect(sent.status, sent.text).toBe(202);
      expect(sent.body).toMatchObject({ accepted: signals.length, duplicate: 0, rejected: 0 });
    }
    await drained();

    // The ticks in two phases, cut at 60 % of each file; the operations at the cut.
    const cutIbm = ibm[Math.floor(ibm.length * 0.6)]!.ts;
    const cutBin = binance[Math.floor(binance.length * 0.6)]!.ts;
    const phaseA = [...ibm.filter((t) => t.ts <= cutIbm), ...binance.filter((t) => t.ts <= cutBin)];
    const phaseB = [...ibm.filter((t) => t.ts > cutIbm), ...binance.filter((t) => t.ts > cutBin)];
    const postTicks = async (ticks: Tick[]): Promise<void> => {
      for (let i = 0; i < ticks.length; i += TICKS_PER_REQUEST) {
        const chunk = ticks.slice(i, i + TICKS_PER_REQUEST);
        const sent = await call('POST', '/v1/ticks', i % 2 === 0 ? keyA : keyB, { ticks: chunk.map(wire) });
        expect(sent.status, sent.text).toBe(202);
        expect(sent.body).toEqual({ published: chunk.length });
      }
    };
    await postTicks(phaseA);
    await drained();

    // What stands at the cut decides the operations: cancel a pending A signal, exit an open one.
    const atCut = replaySync({ signals: signalsA, ticks: phaseA.filter((t) => t.symbol === 'IBM') }).lines;
    const created = (id: string): number => signalsA.find((s) => s.id === id)!.createdAt;
    const pending = atCut.find((l) => l.state === 'pending' && created(l.id!) <= cutIbm);
    const open = atCut.find((l) => l.state === 'open');
    expect(pending, 'a pending IBM signal at the cut').toBeDefined();
    expect(open, 'an open IBM signal at the cut').toBeDefined();
    const ops = [
      { op: 'cancel', id: pending!.id!, ts: cutIbm },
      { op: 'exit', id: open!.id!, ts: cutIbm },
    ];
    // Tenant B may not touch A's signal: it is not found, as an unknown id is.
    const foreign = await call('POST', `/v1/signals/${encodeURIComponent(pending!.id!)}/cancel`, keyB, {
      ts: cutIbm,
    });
    expect(foreign.status).toBe(404);
    expect((foreign.body as { error: { code: string } }).error.code).toBe('SIGNAL_NOT_FOUND');
    for (const { op, id, ts } of ops) {
      const sent = await call('POST', `/v1/signals/${encodeURIComponent(id)}/${op}`, keyA, { ts });
      expect(sent.status, sent.text).toBe(202);
      expect(sent.body).toMatchObject({ id, op, ts });
    }
    await drained();
    await postTicks(phaseB);
    await drained();

    const expectedA = (await replay({ signals: signalsA, ticks: ibm, ops })).lines;
    const expectedB = (await replay({ signals: signalsB, ticks: binance })).lines;
    expect(expectedA.find((l) => l.id === pending!.id)).toMatchObject({ outcome: 'CANCELLED' });
    expect(expectedA.find((l) => l.id === open!.id)).toMatchObject({ outcome: 'MANUAL_EXIT' });
    const readAll = async (signals: SignalPayload[], key: string): Promise<unknown[]> =>
      Promise.all(
        signals.map(async (s) => {
          const got = await call('GET', `/v1/signals/${encodeURIComponent(s.id)}`, key);
          if (got.status !== 200) return { id: s.id, status: got.status, body: got.body };
          const { history: _history, ...line } = got.body as { history: unknown };
          return line;
        }),
      );
    // Drained means every queue and outbox is empty; the flusher's last commit may still be landing.
    let difference: string | null = 'not read yet';
    const until = Date.now() + 15_000;
    while (difference !== null && Date.now() < until) {
      difference =
        describeDifference(await readAll(signalsA, keyA), expectedA) ??
        describeDifference(await readAll(signalsB, keyB), expectedB);
      if (difference !== null) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(difference).toBeNull();
    // The operations are in A's signals' history.
    const cancelled = await call('GET', `/v1/signals/${encodeURIComponent(pending!.id!)}`, keyA);
    const events = (cancelled.body as { history: { event: string }[] }).history.map((h) => h.event);
    expect(events).toEqual(expect.arrayContaining(['accepted', 'cancelled', 'closed']));

    // Tenants apart: B's key finds none of A's signals, outcomes or labels.
    const idsA = new Set(signalsA.map((s) => s.id));
    const idsB = new Set(signalsB.map((s) => s.id));
    const closedIds = (lines: typeof expectedA): string[] =>
      lines.filter((l) => l.state === 'closed').map((l) => l.id!);
    const crossRead = await call('GET', `/v1/signals/${encodeURIComponent(signalsA[0]!.id)}`, keyB);
    expect(crossRead.status).toBe(404);
    expect((crossRead.body as { error: { code: string } }).error.code).toBe('SIGNAL_NOT_FOUND');
    expect((await call('GET', '/v1/outcomes?tenant=acme', keyB)).status).toBe(403);
    for (const [key, own, other, expected, tenant] of [
      [keyA, idsA, idsB, expectedA, 'acme'],
      [keyB, idsB, idsA, expectedB, 'globex'],
    ] as const) {
      const outcomes = await call('GET', '/v1/outcomes?limit=1000', key);
      expect(outcomes.status).toBe(200);
      const rows = (outcomes.body as { outcomes: { signalId: string; tenant: string }[] }).outcomes;
      expect(rows.map((r) => r.signalId).sort()).toEqual(closedIds(expected).sort());
      expect(rows.every((r) => r.tenant === tenant && own.has(r.signalId) && !other.has(r.signalId))).toBe(
        true,
      );
      const labels = await call('GET', '/v1/labels', key);
      expect(labels.status).toBe(200);
      const labelRows = labels.text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { signalId: string; tenant: string });
      expect(labelRows.map((r) => r.signalId).sort()).toEqual(closedIds(expected).sort());
      expect(labelRows.every((r) => r.tenant === tenant && !other.has(r.signalId))).toBe(true);
    }
    expect(closedIds(expectedA).length).toBeGreaterThan(10);
    expect(closedIds(expectedB).length).toBeGreaterThan(5);

    // A client generated from the document would have met no answer it does not describe.
    expect(seen.filter((a) => a.url.startsWith('/v1/')).length).toBeGreaterThan(20);
    expect(undocumentedAnswers(doc.body, seen)).toEqual([]);

    expect(await run.client.failedShardJobs()).toEqual([]);
    await run.client.close();
    run.client = undefined;
    await Promise.all(processes.map((p) => p.stop()));
    for (const p of processes)
      expect((await p.exited).code, `${p.label}'s exit\n${tail(p.output())}`).toBe(0);
  }, 90_000);
});
