/**
 * The live pipeline under test, wired as the processes wire it, against real Redis and
 * PostgreSQL:
 *
 * - {@link startInProcessWorkers}: the worker process's wiring (src/processes/runWorker.ts: intake,
 *   shard and analyzer workers) in this process, and the flusher's (runFlusher).
 * - {@link spawnWorker} / {@link spawnFlusher}: real processes (`node --import tsx workers/…`)
 *   with their output captured for failure messages.
 * - {@link createPipelineClient}: what upstream and the feeds do (submit signals and operations
 *   through their queues, publish ticks through the tick publisher), waiting until every queue
 *   and outbox is drained, and reading back the outcomes: closed ones from PostgreSQL
 *   (`signal_outcomes` and `tp_sl_hits`), open ones from the shards' checkpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue, type Job, type JobType } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { afterEach } from 'vitest';
import { redisUrl, type ResourceTracker } from './services.ts';
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { Leg, OutcomeLine, Tick } from '../../machines/types.ts';
import { loadConfig } from '../../src/config.ts';
import type { RedisClient } from '../../src/RedisClient.ts';
import type { JobRetention } from '../../src/live/createIntakeWorkers.ts';
import { runFlusher } from '../../src/processes/runFlusher.ts';
import { runWorker } from '../../src/processes/runWorker.ts';
import { createTickPublisher, type TickPublisher } from '../../src/live/createTickPublisher.ts';
import { QUEUE_NAMES, queueNameOn, ShardKeys, shardQueueName } from '../../src/names.ts';
import type { OutboxEntry } from '../../src/storage/OutboxEntry.ts';
import { shardCodec } from '../../src/live/shardCodec.ts';
import { loadShard } from '../../src/live/shardStore.ts';
import { readOutcomeLines } from '../../src/storage/readOutcomeLines.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface PipelineConfig {
  redisUrl: string;
  /**
   * REDIS_CLUSTER_NODES: run on this Redis Cluster (`host:port,…`) instead of `redisUrl`, with
   * cluster clients and the cluster's queue names (queueNameOn).
   */
  clusterNodes?: string;
  databaseUrl: string;
  /** QUEUE_PREFIX: a test's Redis namespace. */
  prefix: string;
  /** SHARDS. */
  shards: number;
  /** TICK_BUFFER_SIZE. @defaultValue 100000 */
  bufferSize?: number;
  /** TICK_BATCH_SIZE of the tick publisher. @defaultValue 2000 */
  batchSize?: number;
  /** LOCK_DURATION_MS of shard workers. @defaultValue 30000 */
  lockDurationMs?: number;
  /**
   * Whether a flusher runs (startInProcessWorkers starts one; with worker processes, start
   * one with spawnFlusher): then "drained" includes empty outboxes and closed outcomes are read
   * from PostgreSQL; without one they are read from the outboxes. @defaultValue false
   */
  flusher?: boolean;
}

/** A logger for code under test: silent unless TEST_LOG_LEVEL asks for more. */
export function testLogger(): Logger {
  return pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

function workerRedis(cfg: PipelineConfig): RedisClient {
  const options = { maxRetriesPerRequest: null };
  const redis =
    cfg.clusterNodes === undefined
      ? new Redis(cfg.redisUrl, options)
      : new Cluster(clusterNodesOf(cfg.clusterNodes), { redisOptions: options });
  // Failures surface through commands; an unhandled 'error' event would crash the test process.
  redis.on('error', () => {});
  return redis;
}

function clusterNodesOf(spec: string): { host: string; port: number }[] {
  return spec.split(',').map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) }));
}

/** The settings of `cfg`'s Redis, as a process reads them from its environment. */
export function redisEnv(cfg: PipelineConfig): Record<string, string> {
  return cfg.clusterNodes === undefined
    ? { REDIS_URL: cfg.redisUrl }
    : { REDIS_CLUSTER_NODES: cfg.clusterNodes };
}

// ------------------------------------------------------------------------------------------------
// In-process workers

export interface InProcessWorkers {
  close(): Promise<void>;
}

/**
 * The worker process's wiring in this process (src/processes/runWorker.ts), and (with
 * `cfg.flusher`) the flusher process's (runFlusher).
 */
export async function startInProcessWorkers(
  cfg: PipelineConfig,
  options: {
    shards?: number[];
    now?: () => number;
    intakeConcurrency?: number;
    /** The intake's job retention (KEEP_* settings). @defaultValue the intake's own default */
    retention?: JobRetention;
    /** More settings, as a process would read them from its environment. */
    env?: Record<string, string>;
  } = {},
): Promise<InProcessWorkers> {
  const log = testLogger();
  const redis = workerRedis(cfg);
  const connection = workerRedis(cfg);
  const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 8, application_name: 'test workers' });
  pool.on('error', () => {});
  const keep = options.retention;
  // The settings a worker process would read from its environment.
  const config = loadConfig({
    QUEUE_PREFIX: cfg.prefix,
    SHARDS: String(cfg.shards),
    WORKER_SHARDS: options.shards?.join(',') ?? '',
    INTAKE_CONCURRENCY: String(options.intakeConcurrency ?? 8),
    // An operation may arrive before its signal is accepted; tests need not wait 30 s to see one rejected.
    OP_WAIT_FOR_SIGNAL_MS: '3000',
    TICK_BUFFER_SIZE: String(cfg.bufferSize ?? 100_000),
    LOCK_DURATION_MS: String(cfg.lockDurationMs ?? 30_000),
    FLUSH_BATCH_SIZE: '1000',
    FLUSH_INTERVAL_MS: '20',
    ...(keep && {
      KEEP_COMPLETED_JOBS: String(keep.removeOnComplete.count),
      KEEP_COMPLETED_SECONDS: String(keep.removeOnComplete.age),
      KEEP_FAILED_JOBS: String(keep.removeOnFail.count),
      KEEP_FAILED_SECONDS: String(keep.removeOnFail.age),
    }),
    ...options.env,
  });
  const now = options.now ?? Date.now;
  const worker = await runWorker(config, { redis, connection, pool, log }, { now });
  const flusher = cfg.flusher ? runFlusher(config, { redis, pool, log }) : undefined;
  return {
    async close() {
      await Promise.all([worker.close(), flusher?.close()]);
      await pool.end();
      redis.disconnect();
      connection.disconnect();
    },
  };
}

/**
 * For a test file: `start()` runs in-process workers (with a flusher unless `flusher: false`)
 * and a client on the file's database and the test's Redis namespace, both read when it is
 * called; `stop()` closes them, as the file's afterEach does for whatever is still running.
 */
export function useLivePipeline(settings: {
  db: { readonly url: string };
  ns: { readonly prefix: string };
  tracker: ResourceTracker;
  shards: number;
  flusher?: boolean;
  /** TICK_BATCH_SIZE of the client's tick publisher. @defaultValue 2000 */
  batchSize?: number;
}): { start(): Promise<PipelineClient>; stop(): Promise<void> } {
  let running: (() => Promise<void>) | undefined;
  const stop = async (): Promise<void> => {
    const close = running;
    running = undefined;
    await close?.();
  };
  afterEach(stop);
  return {
    stop,
    async start() {
      const cfg: PipelineConfig = {
        redisUrl: redisUrl(),
        databaseUrl: settings.db.url,
        prefix: settings.ns.prefix,
        shards: settings.shards,
        flusher: settings.flusher ?? true,
        ...(settings.batchSize === undefined ? {} : { batchSize: settings.batchSize }),
      };
      const workers = settings.tracker.track(await startInProcessWorkers(cfg), 'in-process workers');
      const live = settings.tracker.track(createPipelineClient(cfg), 'pipeline client');
      running = async () => {
        await workers.close();
        await live.close();
      };
      return live;
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Worker processes

export interface WorkerProcess {
  readonly label: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves once its output contains `text`; rejects when it exits first or after `timeoutMs`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves when it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** SIGTERM and wait (SIGKILL after `timeoutMs`); a no-op once it has exited. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/** Starts `node --import tsx workers/worker.ts` with `env` on top of this process's environment. */
export function spawnWorker(label: string, env: Record<string, string>): WorkerProcess {
  return spawnProcess(label, 'workers/worker.ts', env);
}

/** Starts `node --import tsx workers/flusher.ts` (FLUSH_INTERVAL_MS 20 unless `env` says otherwise). */
export function spawnFlusher(label: string, env: Record<string, string>): WorkerProcess {
  return spawnProcess(label, 'workers/flusher.ts', { FLUSH_INTERVAL_MS: '20', ...env });
}

/** Starts `node --import tsx <script>` in the repository with `env` on top of this process's. */
export function spawnProcess(label: string, script: string, env: Record<string, string>): WorkerProcess {
  const inherited = { ...process.env };
  // A process given a cluster must not also see the test Redis (loadConfig refuses both).
  if (env.REDIS_CLUSTER_NODES !== undefined) delete inherited.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPO_ROOT,
    env: { ...inherited, MIGRATE_ON_START: 'off', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      running = false;
      for (const l of listeners) l();
      resolve({ code, signal });
    });
  });
  const worker: WorkerProcess = {
    label,
    pid: child.pid!,
    child,
    output: () => out,
    exited,
    isRunning: () => running,
    waitForOutput(text, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (out.includes(text)) done(null);
          else if (!running) done(new Error(`${label} exited before writing "${text}":\n${tail(out)}`));
        };
        const timer = setTimeout(
          () => done(new Error(`${label} did not write "${text}" within ${timeoutMs} ms:\n${tail(out)}`)),
          timeoutMs,
        );
        const done = (err: Error | null): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(timeoutMs = 15_000) {
      if (!running) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (!running) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  return worker;
}

/** The last lines of a process's output, for failure messages. */
export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

// ------------------------------------------------------------------------------------------------
// The client side: upstream, feeds, and what the shards hold

export interface OutboxRecord {
  shard: number;
  key: string;
  entry: OutboxEntry;
}

export interface PipelineClient {
  readonly redis: RedisClient;
  readonly trackSignal: Queue;
  readonly signalOps: Queue;
  shardQueue(n: number): Queue;
  /** Adds `track-signal` jobs (auto job ids unless `jobId` gives one), in order. */
  submitSignals(payloads: readonly unknown[], jobOptions?: { attempts?: number }): Promise<Job[]>;
  /** Adds `signal-ops` jobs, in order. */
  submitOps(ops: readonly unknown[], jobOptions?: { attempts?: number }): Promise<Job[]>;
  /** Publishes ticks through the documented producer path (createTickPublisher). */
  publishTicks(ticks: readonly Tick[], options?: { batchId?: string }): Promise<void>;
  /**
   * Waits until no queue (track-signal, signal-ops, every shard) has a job waiting, delayed or
   * active, twice in a row. `diagnostics` adds to the timeout message (worker output…).
   */
  waitUntilDrained(options?: { timeoutMs?: number; diagnostics?: () => string }): Promise<void>;
  /** Shard jobs that failed (each one would be ticks or registrations dropped). */
  failedShardJobs(): Promise<Job[]>;
  /** Shard jobs recorded as poison (skipped), per shard. */
  poisonEntries(): Promise<{ shard: number; jobId: string; record: unknown }[]>;
  /** Every entry of every shard's outbox. */
  outbox(): Promise<OutboxRecord[]>;
  /**
   * The live outcome of each id, in the given order: open ones from the checkpoints (restored
   * as a worker taking over would restore them); closed ones from PostgreSQL when a flusher
   * runs (`signal_outcomes`, with the legs as `tp_sl_hits` holds them), else from the outboxes.
   * Anything else is reported so that a comparison fails naming it: `{ id, missing: true }`,
   * `{ id, unflushed }` (still in an outbox), `{ id, openAndClosed }`, `{ id, legsDiffer }`
   * (`signal_outcomes.legs` vs `tp_sl_hits`).
   */
  collectOutcomes(ids: readonly string[]): Promise<unknown[]>;
  /** A pool on the pipeline's database (the client's own; closed with it). */
  readonly db: pg.Pool;
  /** Progress markers (last applied job id) per shard. */
  progressMarkers(): Promise<(string | null)[]>;
  close(): Promise<void>;
}

const BUSY_STATES: JobType[] = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'];

export function createPipelineClient(cfg: PipelineConfig): PipelineClient {
  const redis = workerRedis(cfg);
  const connection = workerRedis(cfg);
  const db = new pg.Pool({ connectionString: cfg.databaseUrl, max: 2, application_name: 'test client' });
  db.on('error', () => {});
  const flushed = cfg.flusher === true;
  const queues: Queue[] = [];
  const makeQueue = (name: string): Queue => {
    const q = new Queue(name, { connection, prefix: cfg.prefix });
    q.on('error', () => {});
    queues.push(q);
    return q;
  };
  const cluster = cfg.clusterNodes !== undefined;
  const trackSignal = makeQueue(queueNameOn(QUEUE_NAMES.trackSignal, cluster));
  const signalOps = makeQueue(queueNameOn(QUEUE_NAMES.signalOps, cluster));
  const shardQueues = Array.from({ length: cfg.shards }, (_, n) => makeQueue(shardQueueName(n)));
  const shardKeys = Array.from({ length: cfg.shards }, (_, n) => new ShardKeys(cfg.prefix, n));
  let publisher: TickPublisher | undefined;

  const busyCounts = async (): Promise<Record<string, number>> => {
    const busy: Record<string, number> = {};
    // Intake queues first: an intake job completes only after forwarding to its shard, so a
    // job that left an intake queue before this look is already in a shard queue after it.
    for (const q of [trackSignal, signalOps, ...shardQueues]) {
      const counts = await q.getJobCounts(...BUSY_STATES);
      const n = Object.values(counts).reduce((a, b) => a + b, 0);
      if (n > 0) busy[q.name] = n;
    }
    // Last: a shard job commits its outbox entries before it completes.
    if (flushed) {
      for (const keys of shardKeys) {
        const n = await redis.hlen(keys.outbox);
        if (n > 0) busy[keys.outbox] = n;
      }
    }
    return busy;
  };

  const client: PipelineClient = {
    redis,
    db,
    trackSignal,
    signalOps,
    shardQueue: (n) => shardQueues[n]!,
    async submitSignals(payloads, jobOptions = {}) {
      return trackSignal.addBulk(payloads.map((data) => ({ name: 'signal', data, opts: jobOptions })));
    },
    async submitOps(ops, jobOptions = {}) {
      return signalOps.addBulk(ops.map((data) => ({ name: 'op', data, opts: jobOptions })));
    },
    async publishTicks(ticks, options) {
      publisher ??= createTickPublisher({
        connection,
        prefix: cfg.prefix,
        shards: cfg.shards,
        batchSize: cfg.batchSize ?? 2000,
      });
      await publisher.publish(ticks, options);
    },
    async waitUntilDrained(options = {}) {
      const timeoutMs = options.timeoutMs ?? 60_000;
      const deadline = Date.now() + timeoutMs;
      let idleLooks = 0;
      let busy: Record<string, number> = {};
      while (idleLooks < 2) {
        busy = await busyCounts();
        idleLooks = Object.keys(busy).length === 0 ? idleLooks + 1 : 0;
        if (idleLooks >= 2) break;
        if (Date.now() > deadline) {
          throw new Error(
            `queues not drained within ${timeoutMs} ms: ${JSON.stringify(busy)}` +
              (options.diagnostics ? `\n${options.diagnostics()}` : ''),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async failedShardJobs() {
      return (await Promise.all(shardQueues.map((q) => q.getFailed()))).flat();
    },
    async poisonEntries() {
      const out: { shard: number; jobId: string; record: unknown }[] = [];
      for (const keys of shardKeys) {
        for (const [jobId, json] of Object.entries(await redis.hgetall(keys.poison)))
          out.push({ shard: keys.shard, jobId, record: JSON.parse(json) });
      }
      return out;
    },
    async outbox() {
      const out: OutboxRecord[] = [];
      for (const keys of shardKeys) {
        for (const [key, json] of Object.entries(await redis.hgetall(keys.outbox)))
          out.push({ shard: keys.shard, key, entry: shardCodec.decodeOutboxEntry(json) });
      }
      return out;
    },
    async collectOutcomes(ids) {
      const inOutbox = new Map<string, OutcomeLine>();
      for (const { entry } of await client.outbox())
        if (entry.kind === 'closed') inOutbox.set(entry.outcome.id, entry.outcome);
      const stored = flushed ? await readStoredOutcomes(db, ids) : new Map<string, unknown>();
      const open = new Map<string, OutcomeLine>();
      for (const keys of shardKeys) {
        const runtime = await loadShard(redis, keys, 0);
        for (const c of runtime.openSignals()) open.set(c.id, outcomeLine(c));
      }
      return ids.map((id) => {
        const o = open.get(id);
        const c = flushed ? stored.get(id) : inOutbox.get(id);
        if (flushed && inOutbox.has(id)) return { id, unflushed: inOutbox.get(id) };
        if (c !== undefined && o !== undefined) return { id, openAndClosed: { open: o, closed: c } };
        return c ?? o ?? { id, missing: true };
      });
    },
    async progressMarkers() {
      return Promise.all(shardKeys.map((k) => redis.get(k.progress)));
    },
    async close() {
      await publisher?.close();
      await Promise.all(queues.map((q) => q.close()));
      await db.end();
      redis.disconnect();
      connection.disconnect();
    },
  };
  return client;
}

/**
 * Closed outcomes as PostgreSQL holds them: `signal_outcomes` read back by the storage layer,
 * and each outcome's legs as `tp_sl_hits` holds them (which must agree).
 */
async function readStoredOutcomes(db: pg.Pool, ids: readonly string[]): Promise<Map<string, unknown>> {
  const lines = await readOutcomeLines(db, [...ids]);
  const { rows } = await db.query<{
    signal_id: string;
    reason: Leg['reason'];
    level: number | null;
    stop_kind: Leg['stopKind'] | null;
    price: number;
    fraction: number;
    ts: number;
  }>(
    `SELECT signal_id, reason, level, stop_kind, price, fraction,
            round(extract(epoch FROM ts) * 1000)::float8 AS ts
     FROM tp_sl_hits WHERE signal_id = ANY($1::text[]) ORDER BY signal_id, leg_index`,
    [[...ids]],
  );
  const hits = new Map<string, Leg[]>();
  for (const r of rows) {
    const leg = { reason: r.reason } as Leg;
    if (r.level !== null) leg.level = r.level;
    if (r.stop_kind !== null) leg.stopKind = r.stop_kind;
    Object.assign(leg, { price: r.price, fraction: r.fraction, ts: r.ts });
    let list = hits.get(r.signal_id);
    if (list === undefined) hits.set(r.signal_id, (list = []));
    list.push(leg);
  }
  const out = new Map<string, unknown>();
  for (const [id, line] of lines) {
    const legs = hits.get(id) ?? [];
    out.set(
      id,
      JSON.stringify(legs) === JSON.stringify(line.legs)
        ? line
        : { id, legsDiffer: { signalOutcomes: line.legs, tpSlHits: legs } },
    );
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Ticks

/** Ticks of several files merged in time order (stable: equal times keep file order). */
export function mergeByTime(...lists: readonly (readonly Tick[])[]): Tick[] {
  return lists
    .flat()
    .map((t, i) => ({ t, i }))
    .sort((a, b) => a.t.ts - b.t.ts || a.i - b.i)
    .map(({ t }) => t);
}
