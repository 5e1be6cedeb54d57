/**
 * `npm run bench -- api [--seconds=10] [--connections=8] [--batch=100] [--seeded=2000]`
 *
 * The `/v1` HTTP API on loopback, measured with autocannon against the web wiring in a child
 * process (bench/apiServer.ts: createWebServer with the `/v1` routes and, through its `routes`
 * option, a no-op route behind the same front door). Uses REDIS_URL / DATABASE_URL, or starts
 * private instances when they are unset (bench/privateServices.ts); PostgreSQL figures use a
 * scratch database, migrated here, and Redis keys a prefix of the run's own, both removed after.
 *
 * 1. Seeding: the worker and flusher wiring (runWorker, runFlusher) run in this process while
 *    `--seeded` generateSignals payloads (anchored on the Binance trades) are submitted through
 *    `POST /v1/signals` and the Binance trades through `POST /v1/ticks`; once every queue and
 *    outbox is empty they stop. The seeded ids end closed (in PostgreSQL), open (in a shard
 *    checkpoint) or pending, as live signals do.
 * 2. `api.noop_per_sec` then `api.signals_per_sec`: `--connections` keep-alive connections post
 *    bodies of `--batch` valid signals (the same payloads, ids made unique per request) for
 *    `--seconds` each, after a 2-second warm-up; counted as signals per second (2xx answers
 *    × batch). With no intake running, the accepted signals wait on `track-signal`.
 * 3. `api.queue_intake_signals_per_sec`: the worker wiring started again on that backlog, its
 *    rate over `--seconds` (the figure docs/BENCHMARKS.md calls `intake`, here in-process).
 * 4. `api.get_signal_p50_ms` / `_p99_ms`: `GET /v1/signals/{id}` over the seeded ids, round
 *    robin, with `--connections` connections for `--seconds`; autocannon's percentiles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon, { type Result } from 'autocannon';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import type { SignalPayload, Tick } from '../machines/types.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { generateSignals, spreadAnchors } from '../src/demo/generateSignals.ts';
import { QUEUE_NAMES, ShardKeys, shardQueueName } from '../src/names.ts';
import { runFlusher } from '../src/processes/runFlusher.ts';
import { runWorker } from '../src/processes/runWorker.ts';
import { insertApiKey } from '../src/storage/insertApiKey.ts';
import { migrate } from '../src/storage/migrate.ts';
import { readTicks } from '../src/ticks/readTicks.ts';
import { createApiKey } from '../src/web/apiKey.ts';
import { dropPrefix } from './pipeline/dropPrefix.ts';
import { quietLog, scratchDatabase } from './pipeline/scratchDatabase.ts';
import { withServices } from './privateServices.ts';
import type { Report } from './Report.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const BINANCE = 'data/binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz';
const NOOP_PATH = '/bench/noop';
const SHARDS = 8; // SHARDS default
const WARM_UP_SECONDS = 2;
/** Stands for the per-request part of each id in the body template. */
const ID_TOKEN = '@ID@';

const say = (msg: string): void => {
  process.stderr.write(`[api] ${msg}\n`);
};

interface Settings {
  seconds: number;
  connections: number;
  batch: number;
  seeded: number;
}

function settings(flags: string[]): Settings {
  const num = (name: string, fallback: number): number => {
    const f = flags.find((x) => x.startsWith(`--${name}=`));
    return f === undefined ? fallback : Number(f.slice(name.length + 3));
  };
  return {
    seconds: num('seconds', 10),
    connections: num('connections', 8),
    batch: num('batch', 100),
    seeded: num('seeded', 2000),
  };
}

export async function run(report: Report, flags: string[]): Promise<void> {
  const set = settings(flags);
  await withServices('api', say, async (services) => {
    if (!services.private) say('using REDIS_URL / DATABASE_URL: other clients of them add noise');
    await measure(report, set, services.redisUrl, services.databaseUrl);
  });
}

/** The settings every process of the run reads, as a web, worker or flusher would from its environment. */
function environment(redisUrl: string, databaseUrl: string, prefix: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: prefix,
    SHARDS: String(SHARDS),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    // The limit would refuse the load after 600 requests a minute; it costs a Redis INCR a request.
    HTTP_RATE_LIMIT_PER_MINUTE: '0',
    // Request logs would be two JSON lines a request written to a pipe nobody reads here.
    LOG_LEVEL: 'warn',
    FLUSH_INTERVAL_MS: '20',
  };
}

/** The web wiring in a child process; resolves with its port once it listens. */
async function startServer(env: Record<string, string>): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/apiServer.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, BENCH_NOOP_PATH: NOOP_PATH },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bench/apiServer.ts exited (${code}) before listening`)));
  });
  return { port, child };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Every queue the pipeline uses and every outbox is empty, twice in a row. */
async function waitDrained(redis: Redis, prefix: string, timeoutMs = 120_000): Promise<void> {
  const names = [
    QUEUE_NAMES.trackSignal,
    QUEUE_NAMES.signalOps,
    ...Array.from({ length: SHARDS }, (_, n) => shardQueueName(n)),
  ];
  const queues = names.map((name) => new Queue(name, { connection: redis, prefix }));
  const deadline = Date.now() + timeoutMs;
  try {
    let idle = 0;
    while (idle < 2) {
      let busy = 0;
      for (const q of queues)
        busy += Object.values(await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).reduce(
          (a, b) => a + b,
          0,
        );
      for (let n = 0; n < SHARDS; n++) busy += await redis.hlen(new ShardKeys(prefix, n).outbox);
      idle = busy === 0 ? idle + 1 : 0;
      if (Date.now() > deadline) throw new Error(`not drained within ${timeoutMs} ms (${busy} busy)`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

/** The worker and flusher wiring in this process, as workers/worker.ts and workers/flusher.ts run it. */
async function startPipeline(config: Config, url: string, databaseUrl: string): Promise<() => Promise<void>> {
  const log = pino({ level: 'warn' });
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const worker = await runWorker(config, { redis, connection, pool, log });
  const flusher = runFlusher(config, { redis, pool, log });
  return async () => {
    await Promise.all([worker.close(), flusher.close()]);
    await pool.end();
    redis.disconnect();
    connection.disconnect();
  };
}

async function post(base: string, key: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as unknown;
  if (res.status !== 202)
    throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(answer).slice(0, 300)}`);
  return answer;
}

/** The signals of one request of the load: ids `<token>-00000` …, made unique by replacing the token. */
function bodyTemplate(anchors: Tick[], batch: number): string {
  const signals = generateSignals(anchors, { count: batch, seed: 77, prefix: ID_TOKEN });
  return JSON.stringify({ signals });
}

function checked(what: string, r: Result): Result {
  if (r.errors > 0 || r.timeouts > 0 || r.non2xx > 0)
    throw new Error(`${what}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} answers not 2xx`);
  return r;
}

/** Posts `template` with its token replaced by a fresh value per request, for `seconds`. */
async function postLoad(
  base: string,
  key: string,
  path: string,
  template: string,
  tag: string,
  set: Settings,
  seconds: number,
): Promise<Result> {
  let n = 0;
  return checked(
    `POST ${path}`,
    await autocannon({
      url: base,
      connections: set.connections,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          path,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: template.replaceAll(ID_TOKEN, `${tag}${n++}`) }),
        },
      ],
    }),
  );
}

async function measure(report: Report, set: Settings, url: string, databaseUrl: string): Promise<void> {
  const prefix = `bench${process.pid}api`;
  const db = await scratchDatabase(databaseUrl);
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  let server: ChildProcess | undefined;
  try {
    await migrate({ databaseUrl: db.url, log: quietLog });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { key, hash } = createApiKey();
    await insertApiKey(client, { tenant: 'bench', scopes: ['submit', 'read'], hash, label: 'bench' });
    await client.end();

    const env = environment(url, db.url, prefix);
    const config = loadConfig(env);
    const started = await startServer(env);
    server = started.child;
    const base = `http://127.0.0.1:${started.port}`;

    // 1. Seeding, through the API, with the pipeline running.
    const ticks: Tick[] = [];
    for await (const t of readTicks(BINANCE)) ticks.push(t);
    const seeded: SignalPayload[] = generateSignals(spreadAnchors(ticks, set.seeded), {
      count: set.seeded,
      seed: 31,
      prefix: `seed${process.pid}`,
    });
    let stopPipeline = await startPipeline(config, url, db.url);
    try {
      for (let i = 0; i < seeded.length; i += 100)
        await post(base, key, '/v1/signals', { signals: seeded.slice(i, i + 100) });
      await waitDrained(redis, prefix);
      for (let i = 0; i < ticks.length; i += 10_000)
        await post(base, key, '/v1/ticks', {
          ticks: ticks.slice(i, i + 10_000).map((t) => [t.symbol, t.ts, t.price]),
        });
      await waitDrained(redis, prefix);
    } finally {
      await stopPipeline();
    }
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const { rows } = await pool.query<{ closed: number }>(
      'SELECT count(*)::int AS closed FROM signal_outcomes',
    );
    await pool.end();
    say(
      `seeded ${seeded.length} signals and ${ticks.length} ticks through the API: ${rows[0]!.closed} closed`,
    );
    report({ name: 'api.seeded_closed_signals', value: rows[0]!.closed, unit: 'signals' });

    // 2. Submission against the no-op, same bodies, same front door.
    const anchors = spreadAnchors(ticks, 500);
    const template = bodyTemplate(anchors, set.batch);
    const sample = (await post(
      base,
      key,
      '/v1/signals',
      JSON.parse(template.replaceAll(ID_TOKEN, 'probe')),
    )) as {
      accepted: number;
    };
    if (sample.accepted !== set.batch)
      throw new Error(`a probe batch had ${sample.accepted} of ${set.batch} accepted`);
    say(
      `bodies of ${set.batch} signals, ${Buffer.byteLength(template)} bytes; ${set.connections} connections, ${set.seconds} s each`,
    );
    const rate = (r: Result): number => (r['2xx'] * set.batch) / r.duration;
    await postLoad(base, key, NOOP_PATH, template, 'w', set, WARM_UP_SECONDS);
    const noop = await postLoad(base, key, NOOP_PATH, template, 'n', set, set.seconds);
    await postLoad(base, key, '/v1/signals', template, 'w', set, WARM_UP_SECONDS);
    const real = await postLoad(base, key, '/v1/signals', template, 'r', set, set.seconds);
    const trackSignal = new Queue(QUEUE_NAMES.trackSignal, { connection: redis, prefix });
    const backlog = await trackSignal.getWaitingCount();
    // Each measured answer was 202 with every signal accepted only if each is on the queue.
    if (backlog < real['2xx'] * set.batch)
      throw new Error(
        `track-signal holds ${backlog} jobs, fewer than the ${real['2xx'] * set.batch} measured`,
      );
    say(
      `noop: ${noop['2xx']} requests (p50 ${noop.latency.p50} ms, p99 ${noop.latency.p99} ms); ` +
        `signals: ${real['2xx']} requests (p50 ${real.latency.p50} ms, p99 ${real.latency.p99} ms); ` +
        `track-signal holds ${backlog} jobs (the measured run's, the warm-up's and the probe's)`,
    );
    report({ name: 'api.noop_per_sec', value: rate(noop), unit: `signals/s (${set.batch} a request)` });
    report({ name: 'api.signals_per_sec', value: rate(real), unit: 'signals/s' });
    report({ name: 'api.signals_to_noop_ratio', value: rate(real) / rate(noop), unit: 'ratio' });
    report({ name: 'api.post_signals_p99_ms', value: real.latency.p99, unit: 'ms' });

    // 3. The queue intake on that backlog, for comparison.
    stopPipeline = await startPipeline(config, url, db.url);
    const before = await trackSignal.getWaitingCount();
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, set.seconds * 1000));
    const after = await trackSignal.getWaitingCount();
    const intakeRate = (before - after) / ((performance.now() - t0) / 1000);
    await stopPipeline();
    await trackSignal.close();
    report({ name: 'api.queue_intake_signals_per_sec', value: intakeRate, unit: 'signals/s' });

    // 4. Reading signals under load.
    const ids = seeded.map((s) => encodeURIComponent(s.id));
    let next = 0;
    const reads = checked(
      'GET /v1/signals/{id}',
      await autocannon({
        url: base,
        connections: set.connections,
        duration: set.seconds,
        requests: [
          {
            method: 'GET',
            headers: { authorization: `Bearer ${key}` },
            setupRequest: (request) => ({ ...request, path: `/v1/signals/${ids[next++ % ids.length]}` }),
          },
        ],
      }),
    );
    report({ name: 'api.get_signal_per_sec', value: reads['2xx'] / reads.duration, unit: 'requests/s' });
    report({ name: 'api.get_signal_p50_ms', value: reads.latency.p50, unit: 'ms' });
    report({ name: 'api.get_signal_p99_ms', value: reads.latency.p99, unit: 'ms' });
  } finally {
    if (server) await stopServer(server);
    await dropPrefix(redis, prefix);
    redis.disconnect();
    await db.drop();
  }
}
