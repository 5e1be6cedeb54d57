/**
 * Fuzzing the entry points of the running system (docs/FUZZING.md), against the real web,
 * worker and flusher processes (`node --import tsx workers/…`) on real Redis and PostgreSQL:
 *
 * - the queues: track-signal and signal-ops jobs, and shard jobs from a foreign producer
 *   (unknown kinds, wrong shapes, bad ticks), as objects and as stored text that is not JSON;
 * - HTTP: every operation of the OpenAPI document at /v1/openapi.json (so a new route is fuzzed
 *   too), with bad path parameters, query strings and bodies.
 *
 * Each bad input must end as a clear stored rejection (a rejected `signals` row, an
 * `op_rejected` audit row, a poison record) or a documented 4xx error body; no job may fail
 * for any other reason or be retried; no process may crash or answer 500; the processes'
 * memory stays within a generous bound; and valid signals submitted among the bad ones end as
 * replay says they end. The number of inputs per entry point is FUZZ_RUNS (or the CI count).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { checkShardJob, toWire } from '../../src/live/messages.ts';
import { SHARD_JOB_OPTIONS } from '../../src/live/shardQueues.ts';
import { shardOf, ShardKeys } from '../../src/names.ts';
import { replay } from '../../src/replay/replay.ts';
import { STORED_PAYLOAD_BYTES } from '../../src/storage/storedId.ts';
import { MAX_SCHEMA_PROBLEMS } from '../../src/validation/schemaErrors.ts';
import { undocumentedAnswers, type SeenAnswer } from '../support/openApiConformance.ts';
import { HTTP_ERRORS } from '../../src/web/httpErrors.ts';
import {
  T0,
  badJsonText,
  badOpPayload,
  badShardJob,
  badSignalPayload,
  badWireTick,
  fuzzRuns,
  nastyKey,
  nastyString,
  nastyTree,
  deepNesting,
  hugeArray,
  validSignal,
} from '../support/fuzzInputs.ts';
import {
  createPipelineClient,
  spawnFlusher,
  spawnProcess,
  spawnWorker,
  tail,
  type PipelineClient,
  type WorkerProcess,
} from '../support/livePipeline.ts';
import { createKey, freePort, outputsOf } from '../support/realProcesses.ts';
import { addRawJob, rawJobRecord } from '../support/rawJob.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  createRedisNamespace,
  createTestDatabase,
  redisUrl,
  type RedisNamespace,
  type TestDatabase,
} from '../support/services.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARDS = 2;
/** The seed of every sample here: FUZZ_SEED replays a reported failure. */
const SEED =
  Number.isSafeInteger(Number(process.env.FUZZ_SEED)) && process.env.FUZZ_SEED
    ? Number(process.env.FUZZ_SEED)
    : Date.now() % 2 ** 31;
/** A stack frame as Node prints it: must never reach a user. */
const STACK_FRAME = /\n\s+at .+:\d+:\d+/;
/** Growth of a process's resident memory over a round that we call unbounded (a generous bound). */
const RSS_GROWTH_LIMIT_MB = 400;

function sample<T>(arb: fc.Arbitrary<T>, n: number, salt: number): T[] {
  return fc.sample(arb, { numRuns: n, seed: SEED + salt });
}

/** Resident memory of a process in MB, from /proc (Linux). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

let db: TestDatabase;
let ns: RedisNamespace;
let client: PipelineClient;
let base: string;
let key: string;
let web: WorkerProcess;
let worker: WorkerProcess;
let flusher: WorkerProcess;
const processes: WorkerProcess[] = [];
const outputs = (): string => outputsOf(processes);
/** How many inputs each entry point was given (printed at the end for docs/FUZZING.md). */
const tried: Record<string, number> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  ns = createRedisNamespace('fuzz');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: redisUrl(),
    DATABASE_URL: db.url,
    QUEUE_PREFIX: ns.prefix,
    SHARDS: String(SHARDS),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
    // Operations on unknown signals are rejected after this wait; the fuzz sends many.
    OP_WAIT_FOR_SIGNAL_MS: '200',
    LOG_LEVEL: 'warn',
  };
  web = spawnProcess('web', 'workers/web.ts', env);
  worker = spawnWorker('worker', { ...env, LOG_LEVEL: 'info' });
  flusher = spawnFlusher('flusher', { ...env, LOG_LEVEL: 'info' });
  processes.push(web, worker, flusher);
  key = await createKey({ repoRoot: REPO_ROOT, databaseUrl: db.url }, 'fuzz', 'submit,read,admin');
  await Promise.all([worker.waitForOutput('worker started'), flusher.waitForOutput('flusher started')]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${base}/ready`).catch(() => null);
    if (ready?.status === 200) break;
    if (!web.isRunning() || Date.now() > deadline) throw new Error(`web did not become ready\n${outputs()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  client = createPipelineClient({
    redisUrl: redisUrl(),
    databaseUrl: db.url,
    prefix: ns.prefix,
    shards: SHARDS,
    flusher: true,
  });
}, 120_000);

afterAll(async () => {
  console.log(`fuzz (seed ${SEED}): inputs tried per entry point ${JSON.stringify(tried)}`);
  await client?.close();
  await Promise.all(processes.map((p) => p.kill()));
  await ns?.cleanup();
  await db?.drop();
});

function expectAllRunning(): void {
  for (const p of processes) expect(p.isRunning(), `${p.label} exited\n${outputs()}`).toBe(true);
}

/** Crash and unhandled-error lines that must not appear in a process's output. */
function expectNoCrashOutput(): void {
  for (const p of processes)
    expect(p.output(), `${p.label}\n${tail(p.output())}`).not.toMatch(
      /uncaught|unhandled ?rejection|FATAL ERROR|heap out of memory|Maximum call stack|webhook feeder failed/i,
    );
}

/**
 * `n` ticks on `symbol` rising from 100 to 105 with a little seeded noise on a 1/8 grid: the
 * long signals below reach both take-profits, the short ones their stop.
 */
function walk(symbol: string, n: number, from: number, seed: number): Tick[] {
  let x = seed;
  return Array.from({ length: n }, (_, i) => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    const noise = ((x >> 16) % 5) - 2;
    return { symbol, ts: from + i * 1000, price: Math.round(800 + (40 * i) / n + noise) / 8 };
  });
}

/** Valid signals on `symbol` around 100, both sides, created at `createdAt` and a little later. */
function goodSignals(prefix: string, symbol: string, n: number, createdAt: number): SignalPayload[] {
  return Array.from(
    { length: n },
    (_, i) =>
      validSignal(
        `${prefix}-${i}`,
        symbol,
        i % 2 === 0 ? 'long' : 'short',
        100,
        createdAt + i,
      ) as SignalPayload,
  );
}

describe('fuzz: the queues of the running worker', () => {
  it('stores a rejection or poison record for every bad job, fails none for another reason, and tracks the valid signals among them as replay does', async () => {
    const n = {
      signals: fuzzRuns(60),
      ops: fuzzRuns(40),
      shard: fuzzRuns(60),
      raw: Math.ceil(fuzzRuns(60) / 4),
    };
    const rssBefore = { worker: rssMb(worker.pid), flusher: rssMb(flusher.pid) };

    // Valid signals on GOOD, submitted among the bad ones.
    const good = goodSignals('good', 'GOOD', 6, T0);
    const ticks = walk('GOOD', 400, T0 + 100, 12_345);
    const badSignals = sample(badSignalPayload, n.signals, 1);
    const mixed: unknown[] = [...badSignals];
    good.forEach((s, i) => mixed.splice(Math.floor(((i + 1) * mixed.length) / (good.length + 1)) + i, 0, s));
    const signalJobs = await client.submitSignals(mixed, { attempts: 3 });
    const rawSignalIds: string[] = [];
    for (const text of sample(badJsonText, n.raw, 2))
      rawSignalIds.push(await addRawJob(client.redis, client.trackSignal, 'signal', text, { attempts: 3 }));

    // Operations: bad ones, on ids that do not exist or in shapes that do not parse.
    const opJobs = await client.submitOps(sample(badOpPayload, n.ops, 3), { attempts: 3 });
    const rawOpIds: string[] = [];
    for (const text of sample(badJsonText, n.raw, 4))
      rawOpIds.push(await addRawJob(client.redis, client.signalOps, 'op', text, { attempts: 3 }));
    await client.waitUntilDrained({ diagnostics: outputs, timeoutMs: 120_000 });

    // Ticks of GOOD in batches through the producer path, junk shard jobs in between on every shard.
    const goodShard = shardOf('GOOD', SHARDS);
    // A well-formed sweep is not bad input but a real one, which may expire GOOD's signals: left out.
    const isRealSweep = (d: unknown): boolean =>
      typeof d === 'object' &&
      d !== null &&
      (d as { kind?: unknown }).kind === 'sweep' &&
      Number.isFinite((d as { clock?: unknown }).clock) &&
      Number.isFinite((d as { graceMs?: unknown }).graceMs);
    // Nor is a registration of a valid signal: the intake's own message, which a foreign producer
    // can forge; its events then wait in the outbox for a signals row that never comes
    // (docs/FUZZING.md "Open findings").
    const isRealRegistration = (d: unknown): boolean => {
      const checked = checkShardJob(d);
      return checked.ok && checked.data.kind === 'register';
    };
    const junk = sample(badShardJob, n.shard, 5).filter((d) => !isRealSweep(d) && !isRealRegistration(d));
    const junkTicks = sample(
      fc.array(badWireTick, { minLength: 1, maxLength: 10 }),
      Math.ceil(n.shard / 4),
      6,
    );
    const rawShard = sample(badJsonText, n.raw, 7);
    const shardJobIds: { shard: number; id: string; raw: boolean }[] = [];
    const batches = 10;
    for (let b = 0; b < batches; b++) {
      await client.publishTicks(
        ticks.slice((b * ticks.length) / batches, ((b + 1) * ticks.length) / batches),
      );
      for (let s = 0; s < SHARDS; s++) {
        const queue = client.shardQueue(s);
        const share = <T>(list: T[]): T[] => list.filter((_, i) => i % (batches * SHARDS) === b * SHARDS + s);
        for (const data of share(junk))
          shardJobIds.push({
            shard: s,
            id: (await queue.add('junk', data, SHARD_JOB_OPTIONS)).id!,
            raw: false,
          });
        // Batches of bad ticks only (none on GOOD), so GOOD's path is the published one.
        for (const wires of share(junkTicks))
          shardJobIds.push({
            shard: s,
            id: (await queue.add('ticks', { kind: 'ticks', ticks: wires }, SHARD_JOB_OPTIONS)).id!,
            raw: false,
          });
        for (const text of share(rawShard))
          shardJobIds.push({
            shard: s,
            id: await addRawJob(client.redis, queue, 'junk', text, SHARD_JOB_OPTIONS),
            raw: true,
          });
      }
    }
    await client.waitUntilDrained({ diagnostics: outputs, timeoutMs: 120_000 });
    tried['track-signal'] = (tried['track-signal'] ?? 0) + badSignals.length + rawSignalIds.length;
    tried['signal-ops'] = (tried['signal-ops'] ?? 0) + opJobs.length + rawOpIds.length;
    tried['shard jobs'] = (tried['shard jobs'] ?? 0) + shardJobIds.length;

    // track-signal: each job accepted, or failed once (never retried) with a stored rejection.
    const { rows: stored } = await client.db.query<{
      job_id: string;
      status: string;
      payload: unknown;
      reasons: number;
    }>(
      `SELECT job_id, status, payload, COALESCE(jsonb_array_length(errors), 0) AS reasons
       FROM signals WHERE job_id IS NOT NULL`,
    );
    const byJob = new Map(stored.map((r) => [r.job_id, r]));
    const signalIds = [...signalJobs.map((j: Job) => j.id!), ...rawSignalIds];
    for (const id of signalIds) {
      const rec = await rawJobRecord(client.redis, client.trackSignal, id);
      const row = byJob.get(id);
      if (rec.state === 'failed') {
        expect(rec.attemptsMade, `job ${id} retried: ${rec.failedReason}`).toBe(1);
        expect(rec.failedReason).toMatch(/^rejected signal /);
        expect(row?.status, `job ${id} failed without a stored rejection: ${rec.failedReason}`).toBe(
          'rejected',
        );
      } else {
        expect(rec.state, `job ${id}`).toBe('completed');
        expect(rec.returnvalue).toMatchObject({ id: expect.any(String) });
      }
      if (row !== undefined) {
        // Measured as compact JSON, as storableJson bounds it (jsonb's text form adds spaces).
        expect(Buffer.byteLength(JSON.stringify(row.payload))).toBeLessThanOrEqual(STORED_PAYLOAD_BYTES);
        expect(row.reasons).toBeLessThanOrEqual(MAX_SCHEMA_PROBLEMS + 13);
      }
    }

    // signal-ops: each bad operation failed once with a stored op_rejected row naming its job.
    const { rows: opRows } = await client.db.query<{ job_id: string }>(
      `SELECT details->>'jobId' AS job_id FROM audit_logs WHERE event = 'op_rejected'`,
    );
    const rejectedOps = new Set(opRows.map((r) => r.job_id));
    for (const id of [...opJobs.map((j: Job) => j.id!), ...rawOpIds]) {
      const rec = await rawJobRecord(client.redis, client.signalOps, id);
      expect(rec.state, `op job ${id}`).toBe('failed');
      expect(rec.attemptsMade, `op job ${id} retried: ${rec.failedReason}`).toBe(1);
      expect(rec.failedReason).toMatch(/^rejected operation: /);
      expect(rejectedOps.has(id), `op job ${id} has no op_rejected row`).toBe(true);
    }

    // Shard jobs: none failed (a failed shard job is lost ticks); each bad one recorded as
    // poison or applied as the harmless job it turned out to be; poison records bounded.
    expect(await client.failedShardJobs()).toEqual([]);
    let trimmed = 0;
    for (const { shard, id, raw } of shardJobIds) {
      const rec = await rawJobRecord(client.redis, client.shardQueue(shard), id);
      const poison = await client.redis.hget(new ShardKeys(ns.prefix, shard).poison, id);
      if (raw) expect(poison, `raw shard job ${id} not recorded as poison`).not.toBeNull();
      if (poison !== null) expect(poison.length).toBeLessThanOrEqual(70_000);
      // Shard workers keep the last 200 completed jobs (failed ones a day): a job no longer
      // there completed, and its result went with it.
      if (rec.state === 'unknown') {
        trimmed++;
        continue;
      }
      expect(rec.state, `shard ${shard} job ${id}: ${rec.failedReason}`).toBe('completed');
      if (poison === null) expect(rec.returnvalue).not.toHaveProperty('poison');
    }
    expect(trimmed, 'shard jobs left to look at').toBeLessThan(shardJobIds.length);

    // The valid signals among the bad: as replay has them.
    const expected = (await replay({ signals: good, ticks })).lines;
    let difference: string | null = 'not read yet';
    const until = Date.now() + 15_000;
    while (difference !== null && Date.now() < until) {
      difference = describeDifference(await client.collectOutcomes(good.map((s) => s.id)), expected);
      if (difference !== null) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(difference, `shard ${goodShard}`).toBeNull();
    expect(expected.some((l) => l.state === 'closed')).toBe(true);

    expectAllRunning();
    expectNoCrashOutput();
    for (const [label, pid, before] of [
      ['worker', worker.pid, rssBefore.worker],
      ['flusher', flusher.pid, rssBefore.flusher],
    ] as const) {
      const after = rssMb(pid);
      console.log(
        `fuzz: ${label} RSS ${before.toFixed(0)} MB before, ${after.toFixed(0)} MB after the queue round`,
      );
      expect(after - before, `${label} RSS grew from ${before} to ${after} MB`).toBeLessThan(
        RSS_GROWTH_LIMIT_MB,
      );
    }
  }, 300_000);
});

// ------------------------------------------------------------------------------------------------
// HTTP

interface Operation {
  method: string;
  path: string;
  params: { name: string; in: string }[];
  hasBody: boolean;
}

/** Every operation the OpenAPI document lists. */
function operationsOf(doc: { paths: Record<string, Record<string, unknown>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const o = op as { parameters?: { name: string; in: string }[]; requestBody?: unknown };
      out.push({
        method: method.toUpperCase(),
        path,
        params: o.parameters ?? [],
        hasBody: o.requestBody !== undefined,
      });
    }
  }
  return out;
}

/** A path or query value as it can travel in a URL: percent-encoded, or raw bytes that are not UTF-8. */
const urlValue: fc.Arbitrary<string> = fc.oneof(
  nastyString.map((s) => {
    try {
      return encodeURIComponent(s.slice(0, 3000));
    } catch {
      return '%ED%A0%80'; // a lone surrogate as UTF-8 bytes: not valid UTF-8
    }
  }),
  fc.constantFrom(
    '%00',
    '%ED%A0%80',
    '%FF%FE',
    '%',
    '%zz',
    '..%2F..%2Fetc%2Fpasswd',
    '-1',
    '0',
    '1e309',
    'NaN',
    '__proto__',
  ),
);

/** A query string: the operation's own parameters with bad values, unknown and repeated ones, prototype keys. */
function queryArb(op: Operation): fc.Arbitrary<string> {
  const names = op.params.filter((p) => p.in === 'query').map((p) => p.name);
  const name = fc.oneof(
    ...(names.length > 0 ? [fc.constantFrom(...names)] : []),
    fc.constantFrom(
      '__proto__',
      'constructor',
      '__proto__[polluted]',
      'constructor[prototype][polluted]',
      'a[b][c]',
    ),
    nastyKey.map((k) => {
      try {
        return encodeURIComponent(k);
      } catch {
        return 'k';
      }
    }),
  );
  return fc
    .array(fc.tuple(name, urlValue), { maxLength: 6 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
}

/** A request body: JSON of bad trees, spoiled signals and ticks, huge and deep ones; or text that is not JSON. */
const bodyArb: fc.Arbitrary<{ text: string; type: string | null }> = fc.oneof(
  fc
    .oneof(
      nastyTree,
      fc.record({ signals: fc.oneof(fc.array(badSignalPayload, { maxLength: 5 }), nastyTree, hugeArray) }),
      fc.record({ ticks: fc.oneof(fc.array(badWireTick, { maxLength: 20 }), nastyTree, hugeArray) }),
      fc.record({ ts: fc.oneof(nastyTree, fc.constant(T0)), price: nastyTree, fraction: nastyTree }),
      fc.record({ url: nastyString, events: nastyTree, secret: nastyTree }),
      deepNesting,
    )
    .map((v) => ({ text: JSON.stringify(v) ?? 'null', type: 'application/json' })),
  badJsonText.map((text) => ({ text, type: 'application/json' })),
  fc
    .tuple(
      nastyString,
      fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        null,
        'application/json; charset=utf-16',
      ),
    )
    .map(([text, type]) => ({ text, type })),
);

const codes = Object.keys(HTTP_ERRORS);

describe('fuzz: every /v1 route of the OpenAPI document', () => {
  it('answers every bad request with a documented 4xx error body, never a 500 or a stack trace, and still tracks the valid signals sent among them', async () => {
    const rssBefore = rssMb(web.pid);
    const docRes = await fetch(`${base}/v1/openapi.json`);
    expect(docRes.status).toBe(200);
    const doc = (await docRes.json()) as { paths: Record<string, Record<string, unknown>> };
    const ops = operationsOf(doc);
    // Every answer, checked against the document at the end (statuses listed, bodies matching).
    const seen: SeenAnswer[] = [];
    expect(ops.length, 'routes in the OpenAPI document').toBeGreaterThan(8);

    // Valid signals and ticks over HTTP, sent among the fuzz.
    const good = goodSignals('http-good', 'HGOOD', 4, T0);
    const ticks = walk('HGOOD', 300, T0 + 100, 54_321);
    const send = async (method: string, url: string, body?: { text: string; type: string | null }) => {
      const headers: Record<string, string> = { authorization: `Bearer ${key}` };
      if (body?.type) headers['content-type'] = body.type;
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 10_000);
      try {
        const res = await fetch(`${base}${url}`, {
          method,
          headers,
          signal: abort.signal,
          ...(body !== undefined && method !== 'GET' && method !== 'DELETE' && { body: body.text }),
        });
        const contentType = res.headers.get('content-type');
        // An event stream answers 200 and stays open: its headers are the answer.
        if ((contentType ?? '').startsWith('text/event-stream')) {
          abort.abort();
          seen.push({ method, url, status: res.status, contentType, body: null });
          return { status: res.status, text: '' };
        }
        const text = await res.text();
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          // CSV, JSON lines: checked for their status only.
        }
        seen.push({ method, url, status: res.status, contentType, body: parsed });
        return { status: res.status, text };
      } finally {
        clearTimeout(timer);
      }
    };
    const sent = await send('POST', '/v1/signals', {
      text: JSON.stringify({ signals: good }),
      type: 'application/json',
    });
    expect(sent.status, sent.text).toBe(202);

    const perRoute = fuzzRuns(15);
    const tickBatches = 10;
    let total = 0;
    for (const [i, op] of ops.entries()) {
      const cases = sample(
        fc.record({
          path: fc.array(urlValue, { minLength: 4, maxLength: 4 }),
          query: queryArb(op),
          body: bodyArb,
        }),
        perRoute,
        100 + i,
      );
      for (const c of cases) {
        let n = 0;
        const url =
          op.path.replace(/\{[^}]+\}/g, () => c.path[n++ % 4]!) + (c.query === '' ? '' : `?${c.query}`);
        const res = await send(op.method, url, op.hasBody || op.method === 'POST' ? c.body : undefined);
        total++;
        const where = `${op.method} ${url.slice(0, 300)} → ${res.status} ${res.text.slice(0, 500)}\n${outputs()}`;
        expect(res.status, where).toBeLessThan(500);
        expect(res.text, where).not.toMatch(STACK_FRAME);
        if (res.status >= 400) {
          const body = JSON.parse(res.text) as {
            error: { code: string; message: string; details: unknown[] };
          };
          expect(codes, where).toContain(body.error.code);
          expect(HTTP_ERRORS[body.error.code as keyof typeof HTTP_ERRORS].status, where).toBe(res.status);
          expect(typeof body.error.message).toBe('string');
          expect(Array.isArray(body.error.details), where).toBe(true);
          expect(res.text.length, where).toBeLessThan(100_000);
        }
      }
      // A batch of the valid ticks after each route's fuzz.
      const b = Math.min(i, tickBatches - 1);
      const batch = ticks.slice((b * ticks.length) / tickBatches, ((b + 1) * ticks.length) / tickBatches);
      if (i < tickBatches && batch.length > 0) {
        const t = await send('POST', '/v1/ticks', {
          text: JSON.stringify({ ticks: batch.map((x) => toWire(x)) }),
          type: 'application/json',
        });
        expect(t.status, t.text).toBe(202);
      }
    }
    // The rest of the ticks, if there were fewer routes than batches.
    const sentTicks = Math.min(ops.length, tickBatches);
    const rest = ticks.slice((sentTicks * ticks.length) / tickBatches);
    if (rest.length > 0) {
      const t = await send('POST', '/v1/ticks', {
        text: JSON.stringify({ ticks: rest.map((x) => toWire(x)) }),
        type: 'application/json',
      });
      expect(t.status, t.text).toBe(202);
    }
    tried.http = (tried.http ?? 0) + total;
    tried['http routes'] = ops.length;
    console.log(
      `fuzz: routes of the OpenAPI document: ${ops.map((o) => `${o.method} ${o.path}`).join(', ')}`,
    );
    await client.waitUntilDrained({ diagnostics: outputs, timeoutMs: 120_000 });

    const expected = (await replay({ signals: good, ticks })).lines;
    const readAll = async (): Promise<unknown[]> =>
      Promise.all(
        good.map(async (s) => {
          const got = await send('GET', `/v1/signals/${encodeURIComponent(s.id)}`);
          if (got.status !== 200) return { id: s.id, status: got.status, body: got.text };
          const { history: _history, ...line } = JSON.parse(got.text) as { history: unknown };
          return line;
        }),
      );
    let difference: string | null = 'not read yet';
    const until = Date.now() + 15_000;
    while (difference !== null && Date.now() < until) {
      difference = describeDifference(await readAll(), expected);
      if (difference !== null) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(difference).toBeNull();
    // A client generated from the document meets no status it does not list, no body unlike it.
    expect(undocumentedAnswers(doc, seen, { skipUnknownPaths: true })).toEqual([]);

    expectAllRunning();
    expectNoCrashOutput();
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    const after = rssMb(web.pid);
    console.log(
      `fuzz: web RSS ${rssBefore.toFixed(0)} MB before, ${after.toFixed(0)} MB after ${total} requests`,
    );
    expect(after - rssBefore, `web RSS grew from ${rssBefore} to ${after} MB`).toBeLessThan(
      RSS_GROWTH_LIMIT_MB,
    );
  }, 300_000);
});
