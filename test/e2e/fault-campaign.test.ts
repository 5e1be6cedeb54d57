/**
 * The fault campaign (issue 12; docs/RELIABILITY.md): rounds of real faults against the real
 * processes of the Procfile, checked against an independent model, `replay`.
 *
 * Each round runs, on private Redis and PostgreSQL instances, a web process, two workers, two
 * flushers and two schedulers (the stale sweep and the analyzer on short schedules), and feeds
 * them real ticks (the IBM and Binance files) with a few hundred varied signals and operations,
 * through the queues and through the HTTP API. Meanwhile a seeded injector, one fault at a time
 * at random moments: SIGKILLs a worker (mid-batch), a flusher (mid-transaction), a scheduler or
 * the web process, each started again as a supervisor would; SIGSTOPs a worker past its lock
 * and wakes it; restarts Redis (AOF, as production runs it); stops PostgreSQL `fast` or
 * `immediate` and starts it again; pauses every Redis client past the lock duration; fills Redis
 * to its maxmemory (noeviction) for a few seconds. Producers keep submitting through all of it,
 * retrying what they were refused, as docs/QUEUES.md and docs/API.md tell producers to.
 *
 * After each round: outcomes in PostgreSQL (and open ones in the checkpoints) and `export` equal
 * `replay` line for line; each tick applied once; no duplicate row in any table; no outbox entry
 * left; every accepted signal forwarded; no job failed but for bad input; no process crashed.
 *
 * FAULT_ROUNDS (default 1 here, npm run test:faults runs more), FAULT_SIGNALS (signals per round,
 * default 150), FAULT_TICKS (the share of each tick file, default 0.3) and FAULT_SEED (default:
 * drawn, and printed) size it; FAULT_FIRST_ROUND (default 1) starts at a later round of the seed; FAULT_PROGRESS=on prints each phase; FAULT_ROUND_TIMEOUT_MS
 * (default 900000) bounds a round.
 */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { verifyAudit } from '../../src/audit/verifyAudit.ts';
import { exportLines } from '../../src/cli/exportCommand.ts';
import { generateSignals, seededRandom, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { QUEUE_NAMES, ShardKeys, shardOf, signalJobId } from '../../src/names.ts';
import { appliedTickCount } from '../../src/live/shardStore.ts';
import { replay } from '../../src/replay/replay.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { createTestKey } from '../support/apiKeys.ts';
import { readDataTicks } from '../support/dataFile.ts';
import { Cast, FAULT_KINDS, injectFault, type FaultKind, type FaultRecord } from '../support/faults.ts';
import { createPipelineClient, type PipelineClient } from '../support/livePipeline.ts';
import { operationsAt } from '../support/operationsAt.ts';
import { freePort } from '../support/realProcesses.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  buildOperations,
  buildSignals,
  describeMarket,
  opPlanArb,
  signalPlanArb,
} from '../support/signalPlans.ts';
import { silentLog, startIsolatedServices, type IsolatedServices } from '../support/services.ts';

const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 1);
/** The number of the first round: FAULT_SEED=S FAULT_FIRST_ROUND=5 FAULT_ROUNDS=1 runs round 5 of seed S alone. */
const FIRST_ROUND = Number(process.env.FAULT_FIRST_ROUND ?? 1);
const SIGNALS = Number(process.env.FAULT_SIGNALS ?? 150);
/** The share of each tick file a round publishes (its first part), 0 < FAULT_TICKS <= 1. */
const TICK_SHARE = Number(process.env.FAULT_TICKS ?? 0.3);
const ROUND_TIMEOUT_MS = Number(process.env.FAULT_ROUND_TIMEOUT_MS ?? 900_000);
const SEED = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SHARDS = 4;
const LOCK_DURATION_MS = 2000;
/** Tick phases per round: operations are submitted at each cut, in time order with the ticks. */
const PHASES = 3;
const TENANT = 'faults';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let services: IsolatedServices | undefined;
let ibm: Tick[] = [];
let binance: Tick[] = [];
/** What every round found, printed at the end (docs/RELIABILITY.md records it). */
const summary: RoundSummary[] = [];

interface RoundSummary {
  round: number;
  signals: number;
  viaHttp: number;
  operations: number;
  ticks: number;
  faults: FaultRecord[];
  mismatches: number;
  seconds: number;
}

beforeAll(async () => {
  console.log(
    `fault campaign: FAULT_SEED=${SEED} FAULT_ROUNDS=${ROUNDS} FAULT_SIGNALS=${SIGNALS} FAULT_TICKS=${TICK_SHARE}`,
  );
  services = await startIsolatedServices();
  const share = (ticks: Tick[]): Tick[] => ticks.slice(0, Math.ceil(ticks.length * TICK_SHARE));
  ibm = share(await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz'));
  binance = share(await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz'));
}, 180_000);

afterAll(async () => {
  await services?.stop();
  const faults = new Map<FaultKind, number>(FAULT_KINDS.map((k) => [k, 0]));
  for (const r of summary) for (const f of r.faults) faults.set(f.kind, faults.get(f.kind)! + 1);
  console.log(
    JSON.stringify({
      seed: SEED,
      rounds: summary.length,
      signals: summary.reduce((n, r) => n + r.signals, 0),
      viaHttp: summary.reduce((n, r) => n + r.viaHttp, 0),
      operations: summary.reduce((n, r) => n + r.operations, 0),
      ticks: summary.reduce((n, r) => n + r.ticks, 0),
      faults: Object.fromEntries(faults),
      mismatches: summary.reduce((n, r) => n + r.mismatches, 0),
      seconds: summary.reduce((n, r) => n + r.seconds, 0),
    }),
  );
});

/** A fresh, migrated database on the private PostgreSQL. */
async function freshDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: services!.databaseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(services!.databaseUrl);
  u.pathname = `/${name}`;
  await migrate({ databaseUrl: u.toString(), log: silentLog });
  return u.toString();
}

/** Runs `fn` until it succeeds: what a producer does with a refused or unanswered submission. */
async function persist<T>(what: string, fn: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`${what}: still failing after ${timeoutMs} ms`, { cause: err });
      await sleep(200);
    }
  }
}

class Transient extends Error {}

/** An HTTP call that throws Transient on no answer, 5xx and 429, and fails the round on other surprises. */
async function http(
  base: string,
  key: string,
  path: string,
  body: unknown,
  ok: readonly number[],
): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
  } catch (err) {
    throw new Transient(`POST ${path}: no answer (${(err as Error).message})`);
  }
  const text = await res.text();
  if (res.status >= 500 || res.status === 429) throw new Transient(`POST ${path}: ${res.status} ${text}`);
  if (!ok.includes(res.status)) throw new Error(`POST ${path}: unexpected ${res.status} ${text}`);
  return { status: res.status, body: JSON.parse(text) as unknown };
}

/** Retries Transient failures of `fn`; anything else fails at once. */
async function persistHttp<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof Transient) || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** The round's workload: signals by arrival phase and channel, ticks by phase, cuts per family. */
function workload(round: number, seed: number) {
  const rnd = seededRandom(seed);
  const p = `r${round}`;
  const nIbm = Math.round(SIGNALS * 0.45);
  const nBin = Math.round(SIGNALS * 0.3);
  const nPlan = SIGNALS - nIbm - nBin;
  const generated = [
    ...generateSignals(spreadAnchors(ibm, nIbm), { count: nIbm, seed: seed + 1, prefix: `${p}-ibm` }),
    ...generateSignals(spreadAnchors(binance, nBin), { count: nBin, seed: seed + 2, prefix: `${p}-bin` }),
  ];
  // Signals from the property tests' plans: every SPEC feature, edge placements, a symbol
  // without ticks; on real prices (a 1/100 grid).
  const market = describeMarket([...ibm, ...binance], 100);
  const plans = fc.sample(signalPlanArb, { seed: seed + 3, numRuns: nPlan });
  const built = buildSignals(plans, market).map((b) => ({
    ...b,
    payload: { ...b.payload, id: `${p}-plan-${b.payload.id}` },
  }));
  const planned = built.map((b) => b.payload);
  const signals: SignalPayload[] = [...generated, ...planned];
  // A third of the generated ones go through POST /v1/signals (the key's tenant is theirs).
  const viaHttp = new Set(generated.filter(() => rnd() < 1 / 3).map((s) => s.id));
  const arrival = new Map(signals.map((s) => [s.id, Math.floor(rnd() * PHASES)]));

  const family = (symbol: string): 'ibm' | 'bin' | 'none' =>
    symbol.toUpperCase() === 'IBM' ? 'ibm' : /^(BTC|ETH)USDT$/i.test(symbol) ? 'bin' : 'none';
  /** The cut after phase k of each family: the ts of its last tick in that phase. */
  const cuts = (list: Tick[]): number[] =>
    Array.from({ length: PHASES }, (_, k) =>
      k === PHASES - 1
        ? list[list.length - 1]!.ts + 1000
        : list[Math.floor((list.length * (k + 1)) / PHASES)]!.ts,
    );
  const cutIbm = cuts(ibm);
  const cutBin = cuts(binance);
  const phaseTicks = Array.from({ length: PHASES }, (_, k) => {
    const inPhase = (cut: number[]) => (t: Tick) => (k === 0 || t.ts > cut[k - 1]!) && t.ts <= cut[k]!;
    return [...ibm.filter(inPhase(cutIbm)), ...binance.filter(inPhase(cutBin))];
  });
  const cutOf = (symbol: string, k: number): number => {
    const f = family(symbol);
    return f === 'ibm' ? cutIbm[k]! : f === 'bin' ? cutBin[k]! : Math.max(cutIbm[k]!, cutBin[k]!);
  };

  /**
   * Operations at cut k on signals that arrived by phase k, in time order with the ticks: each
   * moved to its family's cut. Queue ones carry job ids (a resubmission is a no-op); HTTP ones
   * are those operationsAt makes (full exits, cancels, amends), whose repetition changes nothing.
   */
  const opsAt = (k: number): { queue: Record<string, unknown>[]; http: Record<string, unknown>[] } => {
    const arrived = signals.filter((s) => arrival.get(s.id)! <= k);
    const generatedHere = arrived.filter((s) => !s.id.includes('-plan-'));
    const byCut = new Map<number, SignalPayload[]>();
    for (const s of generatedHere) {
      const c = cutOf(s.symbol, k);
      byCut.set(c, [...(byCut.get(c) ?? []), s]);
    }
    const simple = [...byCut].flatMap(([c, list], i) => operationsAt(list, c, seed + 10 * k + i));
    const arrivedPlans = built.filter((b) => arrival.get(b.payload.id)! <= k);
    const opPlans = fc.sample(opPlanArb, {
      seed: seed + 100 + k,
      numRuns: Math.ceil(arrivedPlans.length / 4),
    });
    const planned = buildOperations(opPlans, arrivedPlans, market).map((op) => {
      const symbol = signals.find((s) => s.id === (op as { id?: unknown }).id)?.symbol ?? 'NOTICKS';
      const o = op as Record<string, unknown>;
      // Malformed times (missing, fractional, far future) stay as they are: rejected as such.
      return Number.isSafeInteger(o.ts) && (o.ts as number) < 4e12 ? { ...o, ts: cutOf(symbol, k) } : o;
    });
    return {
      queue: [...simple.filter((o) => !viaHttp.has(o.id as string)), ...planned],
      http: simple.filter((o) => viaHttp.has(o.id as string)),
    };
  };
  const bad = [
    { ...generated[0]!, id: `${p}-bad-side`, side: 'up' },
    { ...generated[1]!, id: `${p}-bad-stop`, stopLoss: { price: -1 } },
  ];
  const badHttp = { ...generated[2]!, id: `${p}-bad-http`, entry: { type: 'moon' } };
  return { signals, viaHttp, arrival, phaseTicks, opsAt, bad, badHttp };
}

describe('fault campaign', () => {
  let cast: Cast | undefined;
  let live: PipelineClient | undefined;
  let admin: Redis | undefined;
  afterEach(async () => {
    await cast?.killAll();
    await live?.close();
    admin?.disconnect();
    cast = live = admin = undefined;
  });

  for (let round = FIRST_ROUND; round < FIRST_ROUND + ROUNDS; round++) {
    it(
      `round ${round}: outcomes equal replay through kills, freezes, restarts, pauses and a full Redis`,
      async () => {
        const started = Date.now();
        const rnd = seededRandom(SEED + round * 7919);
        const prefix = `fc-r${round}`;
        const w = workload(round, SEED + round * 104_729);
        const databaseUrl = await freshDatabase(`faults_r${round}`);
        const port = await freePort();
        const base = `http://127.0.0.1:${port}`;
        const env = {
          REDIS_URL: services!.redisUrl,
          DATABASE_URL: databaseUrl,
          QUEUE_PREFIX: prefix,
          SHARDS: String(SHARDS),
          LOCK_DURATION_MS: String(LOCK_DURATION_MS),
          TICK_BUFFER_SIZE: '200000',
          OP_WAIT_FOR_SIGNAL_MS: '30000',
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: String(port),
          HTTP_RATE_LIMIT_PER_MINUTE: '0',
          API_KEY_CACHE_MS: '0',
          SWEEP_CRON: '*/2 * * * * *',
          // Replay has no stale closes, and the Binance file's clock is years past IBM's: a grace
          // this long lets the sweep run through every fault without closing what replay keeps open.
          STALE_GRACE_MS: String(20 * 366 * 86_400_000),
          ANALYZE_CRON: '*/3 * * * * *',
          LOG_LEVEL: 'info',
        };
        admin = new Redis(services!.redisUrl, { maxRetriesPerRequest: null });
        admin.on('error', () => {});
        // Production settings (docs/OPERATIONS.md "Persistence"); the round's faults change maxmemory.
        await admin.config('SET', 'maxmemory-policy', 'noeviction');
        await admin.config('SET', 'maxmemory', '0');

        const keyPool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
        const { key } = await createTestKey(keyPool, TENANT, ['submit', 'read']);
        await keyPool.end();

        cast = new Cast(env);
        const c = cast;
        await Promise.all([
          c.start('web', 0),
          c.start('worker', 0),
          c.start('worker', 1),
          c.start('flusher', 0),
          c.start('flusher', 1),
          c.start('scheduler', 0),
          c.start('scheduler', 1),
        ]);
        live = createPipelineClient({
          redisUrl: services!.redisUrl,
          databaseUrl,
          prefix,
          shards: SHARDS,
          batchSize: 2000,
          flusher: true,
        });
        const l = live;

        // ---- the injector: one fault at a time while the producers run
        const faults: FaultRecord[] = [];
        let producing = true;
        const order: FaultKind[] = [...FAULT_KINDS];
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(rnd() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const shardQueues = Array.from({ length: SHARDS }, (_, n) => l.shardQueue(n));
        const injector = (async () => {
          let i = 0;
          await sleep(500 + rnd() * 1500);
          while (producing) {
            const kind = order[i++ % order.length]!;
            const at = Date.now() - started;
            const record = await injectFault(kind, {
              cast: c,
              services: services!,
              admin: admin!,
              lockDurationMs: LOCK_DURATION_MS,
              rnd,
              activeShardJobs: async () =>
                (await Promise.all(shardQueues.map((q) => q.getActiveCount()))).reduce((a, b) => a + b, 0),
              outboxLength: async () =>
                (
                  await Promise.all(
                    Array.from({ length: SHARDS }, (_, n) => admin!.hlen(new ShardKeys(prefix, n).outbox)),
                  )
                ).reduce((a, b) => a + b, 0),
            });
            faults.push({ ...record, at });
            await sleep(300 + rnd() * 1500);
          }
        })();

        // ---- the producers
        const allOps: Record<string, unknown>[] = [];
        let lastLook = '';
        const look = async (): Promise<void> => {
          const jobs = async (q: Queue, states: ('waiting' | 'active' | 'delayed' | 'failed')[]) =>
            ((await q.getJobs(states, 0, 20)) as Job[]).map(
              (j) =>
                `${j.id} ${JSON.stringify(j.data).slice(0, 120)} ${j.failedReason ?? ''} ${JSON.stringify(j.progress)}`,
            );
          lastLook = [
            `faults so far: ${faults.map((f) => `${f.kind}@${(f.at / 1000).toFixed(1)}s`).join(', ')}`,
            `track-signal failed: ${(await jobs(l.trackSignal, ['failed'])).join('\n  ')}`,
            `signal-ops busy: ${(await jobs(l.signalOps, ['waiting', 'active', 'delayed'])).join('\n  ')}`,
            `signal-ops failed: ${(await jobs(l.signalOps, ['failed'])).join('\n  ')}`,
          ].join('\n');
        };
        const drained = () =>
          l
            .waitUntilDrained({ timeoutMs: 180_000, diagnostics: () => `${lastLook}\n${c.outputs(10)}` })
            .catch(async (err: Error) => {
              await look();
              throw new Error(`${err.message.split('\n')[0]}\n${lastLook}\n${c.outputs(10)}`);
            });
        const submitSignals = async (list: SignalPayload[]): Promise<void> => {
          const queued = list.filter((s) => !w.viaHttp.has(s.id));
          const overHttp = list.filter((s) => w.viaHttp.has(s.id));
          await Promise.all([
            (async () => {
              for (const part of chunk(queued, 50)) {
                // Job id = signalJobId(id) (docs/QUEUES.md): a resubmission is a no-op.
                await persist('track-signal addBulk', () =>
                  l.trackSignal.addBulk(
                    part.map((s) => ({ name: 'signal', data: s, opts: { jobId: signalJobId(s.id) } })),
                  ),
                );
              }
            })(),
            (async () => {
              for (const part of chunk(overHttp, 40)) {
                const answer = await persistHttp('POST /v1/signals', () =>
                  http(base, key, '/v1/signals', { signals: part }, [202]),
                );
                const results = (answer.body as { signals: { status: string }[] }).signals;
                for (const r of results)
                  expect(['accepted', 'duplicate'], JSON.stringify(results)).toContain(r.status);
              }
            })(),
          ]);
        };
        let batches = 0;
        const publish = async (ticks: Tick[]): Promise<void> => {
          // One shard's ticks per publish, under a batch id of its own: a publish that was
          // refused, or whose reply was lost while Redis restarted, is sent again under the same
          // id and queued and applied once (docs/QUEUES.md "Publishing ticks safely"). Without
          // the id, a lost reply doubled a batch (a CI round: 6311 ticks applied, 6301 sent).
          const byShard = new Map<number, Tick[]>();
          for (const t of ticks) {
            const n = shardOf(t.symbol, SHARDS);
            let list = byShard.get(n);
            if (list === undefined) byShard.set(n, (list = []));
            list.push(t);
          }
          await Promise.all(
            [...byShard.values()].map(async (list) => {
              for (const part of chunk(list, 2000)) {
                const batchId = `campaign-${SEED}-${round}-${++batches}`;
                await persist('publish ticks', () => l.publishTicks(part, { batchId }));
              }
            }),
          );
        };
        const submitOps = async (k: number): Promise<void> => {
          const { queue, http: overHttp } = w.opsAt(k);
          allOps.push(...queue, ...overHttp);
          await Promise.all([
            persist('signal-ops addBulk', () =>
              l.signalOps.addBulk(
                queue.map((data, i) => ({ name: 'op', data, opts: { jobId: `op-${round}-${k}-${i}` } })),
              ),
            ),
            (async () => {
              for (const op of overHttp) {
                const { op: kind, id, ...body } = op;
                await persistHttp(`POST ${String(kind)}`, () =>
                  http(
                    base,
                    key,
                    `/v1/signals/${encodeURIComponent(String(id))}/${String(kind)}`,
                    body,
                    [202, 409],
                  ),
                );
              }
            })(),
          ]);
        };

        try {
          const progress = (what: string): void => {
            if (process.env.FAULT_PROGRESS === 'on')
              console.error(
                `round ${round} ${((Date.now() - started) / 1000).toFixed(1)} s: ${what} (faults: ${faults.length})`,
              );
          };
          progress('processes up');
          for (let k = 0; k < PHASES; k++) {
            progress(`phase ${k}`);
            const arriving = w.signals.filter((s) => w.arrival.get(s.id) === k);
            await Promise.all([submitSignals(arriving), publish(w.phaseTicks[k]!)]);
            if (k === 0) {
              await persist('bad signals', () =>
                l.trackSignal.addBulk(
                  w.bad.map((s) => ({ name: 'signal', data: s, opts: { jobId: signalJobId(s.id) } })),
                ),
              );
              const answer = await persistHttp('POST /v1/signals (bad)', () =>
                http(base, key, '/v1/signals', { signals: [w.badHttp] }, [202]),
              );
              expect(JSON.stringify(answer.body)).toContain('rejected');
            }
            progress(`phase ${k} submitted`);
            await drained();
            progress(`phase ${k} drained`);
            await submitOps(k);
            await drained();
          }
        } catch (err) {
          await look().catch(() => {});
          throw new Error(
            `${(err as Error).message} (at ${((Date.now() - started) / 1000).toFixed(1)} s)\n${lastLook}\n${c.outputs(15)}`,
            {
              cause: err,
            },
          );
        } finally {
          producing = false;
          await injector;
        }
        await drained();
        // The sweep and the analyzer keep running; one more look after the last fault healed.
        await sleep(1000);
        await drained();

        // ---- the checks
        const problems: string[] = [];
        const check = (ok: boolean, what: string): void => {
          if (!ok) problems.push(what);
        };
        check(c.crashes.length === 0, `processes crashed: ${c.crashes.join('; ')}`);

        const failedShard = await l.failedShardJobs();
        check(
          failedShard.length === 0,
          `failed shard jobs: ${failedShard.map((j) => `${j.id}: ${j.failedReason}`).join('; ')}`,
        );
        const poison = await l.poisonEntries();
        check(poison.length === 0, `poison entries: ${JSON.stringify(poison).slice(0, 500)}`);
        const failedSignals = (await l.trackSignal.getFailed()) as Job[];
        const badIds = w.bad.map((s) => s.id).sort();
        check(
          JSON.stringify(failedSignals.map((j) => (j.data as { id: string }).id).sort()) ===
            JSON.stringify(badIds),
          `failed track-signal jobs other than the bad payloads: ${failedSignals.map((j) => `${j.id}: ${j.failedReason}`).join('; ')}`,
        );
        const failedOps = (await l.signalOps.getFailed()) as Job[];
        for (const j of failedOps)
          check(
            /^rejected operation: /.test(j.failedReason),
            `signal-ops job ${j.id} failed: ${j.failedReason}`,
          );
        const analyzeQueue = new Queue(QUEUE_NAMES.analyze, { connection: l.redis, prefix });
        const failedAnalyze = await analyzeQueue.getFailed();
        const analyzed = await analyzeQueue.getCompletedCount();
        await analyzeQueue.close();
        check(
          failedAnalyze.length === 0,
          `failed analyze jobs: ${failedAnalyze.map((j) => `${j.id}: ${j.failedReason}`).join('; ')}`,
        );
        check(analyzed > 0, 'the analyzer completed no job');
        const outbox = await l.outbox();
        check(outbox.length === 0, `outbox entries left: ${outbox.length}`);

        // Each tick applied once: each symbol's book counted exactly its ticks.
        for (const [symbol, count] of [
          ['IBM', ibm.length],
          ['BTCUSDT', binance.filter((t) => t.symbol === 'BTCUSDT').length],
          ['ETHUSDT', binance.filter((t) => t.symbol === 'ETHUSDT').length],
        ] as const) {
          const keys = new ShardKeys(prefix, shardOf(symbol, SHARDS));
          const seq = await appliedTickCount(l.redis, keys, symbol);
          check(seq === count, `${symbol}: ${seq} ticks applied, ${count} published`);
        }

        const expected = await replay({ signals: w.signals, ticks: [...ibm, ...binance], ops: allOps });
        const ids = w.signals.map((s) => s.id);
        const stored = describeDifference(await l.collectOutcomes(ids), expected.lines);
        check(stored === null, `PostgreSQL and checkpoints vs replay: ${stored}`);
        const exported = new Map<string | null, unknown>();
        for await (const line of exportLines({ redis: l.redis, db: l.db, prefix, shards: SHARDS }))
          exported.set(line.id, line);
        const viaExport = describeDifference(
          ids.map((id) => exported.get(id)),
          expected.lines,
        );
        check(viaExport === null, `export vs replay: ${viaExport}`);
        let mismatches = 0;
        for (const [i, line] of expected.lines.entries())
          if (describeDifference([exported.get(ids[i]!)], [line]) !== null) mismatches++;

        // No duplicate row in any table.
        const dupes = await l.db.query<{ what: string; n: number }>(
          `SELECT 'accepted signals' AS what, count(*) - count(DISTINCT id) AS n FROM signals WHERE status = 'accepted'
         UNION ALL SELECT 'rejected signals', count(*) - count(DISTINCT (id, errors::text)) FROM signals WHERE status = 'rejected'
         UNION ALL SELECT 'signal_outcomes', count(*) - count(DISTINCT signal_id) FROM signal_outcomes
         UNION ALL SELECT 'tp_sl_hits', count(*) - count(DISTINCT (signal_id, leg_index)) FROM tp_sl_hits
         UNION ALL SELECT 'closed_signals', count(*) - count(DISTINCT signal_id) FROM closed_signals
         UNION ALL SELECT 'audit accepted/closed', count(*) - count(DISTINCT (signal_id, event)) FROM audit_logs WHERE event IN ('accepted', 'closed')
         UNION ALL SELECT 'performance_metrics', count(*) - count(DISTINCT (tenant, window_name, window_end, group_kind, group_key)) FROM performance_metrics`,
        );
        for (const d of dupes.rows) check(Number(d.n) === 0, `duplicate rows in ${d.what}: ${d.n}`);
        // Each queued operation ended as one audit row: applied, or rejected with its reasons.
        const httpIds = [...w.viaHttp];
        const opRows = await l.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM audit_logs
         WHERE event IN ('amended', 'cancelled', 'exited', 'op_rejected')
           AND (signal_id IS NULL OR NOT (signal_id = ANY($1::text[])))`,
          [httpIds],
        );
        const queuedOps = allOps.filter((o) => !w.viaHttp.has(o.id as string)).length;
        if (opRows.rows[0]!.n !== queuedOps) {
          const twice = await l.db.query<{ signal_id: string; event: string; details: unknown; n: number }>(
            `SELECT signal_id, event, details, count(*)::int AS n FROM audit_logs
           WHERE event IN ('amended', 'cancelled', 'exited', 'op_rejected')
           GROUP BY signal_id, event, details HAVING count(*) > 1`,
          );
          problems.push(
            `${opRows.rows[0]!.n} audit rows for ${queuedOps} queued operations; repeated: ${JSON.stringify(twice.rows).slice(0, 2000)}`,
          );
        }
        // Every tenant's audit chain is intact through the kills and the outages: positions, links,
        // hashes and heads, as verify-audit checks them.
        const chain = await verifyAudit({ db: l.db });
        check(chain.problems.length === 0, `audit chain: ${JSON.stringify(chain.problems).slice(0, 2000)}`);
        const counts = await l.db.query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM signals GROUP BY status ORDER BY status`,
        );
        check(
          JSON.stringify(counts.rows) ===
            JSON.stringify([
              { status: 'accepted', n: w.signals.length },
              { status: 'rejected', n: w.bad.length + 1 },
            ]),
          `signals stored: ${JSON.stringify(counts.rows)}`,
        );
        const unforwarded = await l.db.query(
          `SELECT id FROM signals WHERE status = 'accepted' AND forwarded_at IS NULL`,
        );
        check(unforwarded.rows.length === 0, `accepted, never forwarded: ${unforwarded.rows.length}`);
        const closed = expected.lines.filter((x) => x.state === 'closed').length;
        const outcomes = await l.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM signal_outcomes`);
        check(outcomes.rows[0]!.n === closed, `signal_outcomes ${outcomes.rows[0]!.n} vs ${closed} closed`);

        // Every process still standing stops cleanly.
        const unclean = await c.stopAll();
        check(unclean.length === 0, `unclean exits: ${unclean.join('\n')}`);

        const kinds = faults.map((f) => `${f.kind}@${(f.at / 1000).toFixed(1)}s(${f.landed})`);
        summary.push({
          round,
          signals: w.signals.length,
          viaHttp: w.viaHttp.size,
          operations: allOps.length,
          ticks: ibm.length + binance.length,
          faults,
          mismatches,
          seconds: Math.round((Date.now() - started) / 1000),
        });
        console.log(
          `round ${round}: ${w.signals.length} signals (${w.viaHttp.size} over HTTP), ${allOps.length} operations, ` +
            `${faults.length} faults [${kinds.join(', ')}], ${mismatches} mismatches, ${Math.round((Date.now() - started) / 1000)} s`,
        );
        expect(problems, `seed ${SEED}, round ${round}\n${c.outputs(20)}`).toEqual([]);
      },
      ROUND_TIMEOUT_MS,
    );
  }
});
