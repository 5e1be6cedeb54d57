/**
 * `npm run bench -- workers [--quick] [--cluster] [--symbols=16] [--shards=8] [--counts=1,2,4]`
 *
 * Tick throughput of 1, 2 and 4 real worker processes (workers/worker.ts) serving the same
 * shards (`wN`), and of 2 and 4 with the shards split between them (`split_wN`, WORKER_SHARDS),
 * with a flusher process, against the Redis and PostgreSQL of REDIS_URL / DATABASE_URL
 * (private ones when unset) or, with `--cluster`, the Redis Cluster of REDIS_CLUSTER_TEST_NODES
 * (`scripts/services.sh cluster-start`). Each run has its own key prefix and database: signals
 * go through `track-signal`; every tick is queued on paused shard queues; the clock runs from
 * resuming them until no shard job is waiting or running. The 1-worker figure is the baseline
 * of the others, from the same run. The outcomes of every run are read back (`exportLines`, as
 * `outcome-tracker export`) and compared with replay's and with the 1-worker run's: the
 * `…mismatches` figures must be 0.
 *
 * Ticks: the IBM trade path of the bundled Lean file under `--symbols` names; 125 signals a symbol.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import type { SignalPayload, Tick } from '../machines/types.ts';
import { exportLines } from '../src/cli/exportCommand.ts';
import { generateSignals, spreadAnchors } from '../src/demo/generateSignals.ts';
import { createTickPublisher } from '../src/live/createTickPublisher.ts';
import { QUEUE_NAMES, queueNameOn, shardQueueName, ShardKeys } from '../src/names.ts';
import type { RedisClient } from '../src/RedisClient.ts';
import { replay } from '../src/replay/replay.ts';
import { migrate } from '../src/storage/migrate.ts';
import { readTicks } from '../src/ticks/readTicks.ts';
import { scratchDatabase, quietLog } from './pipeline/scratchDatabase.ts';
import { withServices } from './privateServices.ts';
import type { Report } from './Report.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TICK_FILE = fileURLToPath(
  new URL('../data/lean_usequity_IBM_trades_2013-10-07_11.csv.gz', import.meta.url),
);
const SIGNALS_PER_SYMBOL = 125;

const say = (msg: string): void => void process.stderr.write(`[bench workers] ${msg}\n`);

interface Settings {
  symbols: number;
  shards: number;
  counts: number[];
  cluster: boolean;
}

function settings(flags: string[]): Settings {
  const value = (name: string): string | undefined =>
    flags.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = flags.includes('--quick');
  return {
    symbols: Number(value('symbols') ?? (quick ? 4 : 16)),
    shards: Number(value('shards') ?? 8),
    counts: (value('counts') ?? '1,2,4').split(',').map(Number),
    cluster: flags.includes('--cluster'),
  };
}

export async function run(report: Report, flags: string[]): Promise<void> {
  const set = settings(flags);
  await withServices('workers', say, async (services) => {
    if (!services.private) say('using REDIS_URL / DATABASE_URL: other clients of them add noise');
    const clusterNodes = set.cluster ? process.env.REDIS_CLUSTER_TEST_NODES : undefined;
    if (set.cluster && !clusterNodes) {
      say('--cluster: REDIS_CLUSTER_TEST_NODES is not set (scripts/services.sh cluster-start)');
      process.exitCode = 2;
      return;
    }
    const path: Tick[] = [];
    for await (const t of readTicks(TICK_FILE)) path.push(t);
    const perSymbol = Array.from({ length: set.symbols }, (_, k) =>
      path.map((t) => ({ ...t, symbol: `S${k}` })),
    );
    const ticks = perSymbol.flat();
    const signals = perSymbol.flatMap((list, k) =>
      generateSignals(spreadAnchors(list, SIGNALS_PER_SYMBOL), {
        count: SIGNALS_PER_SYMBOL,
        seed: 500 + k,
        prefix: `s${k}`,
      }),
    );
    const expected = new Map((await replay({ signals, ticks })).lines.map((l) => [l.id, comparable(l)]));
    say(
      `${ticks.length} ticks of ${set.symbols} symbols, ${signals.length} signals, ${set.shards} shards` +
        (set.cluster ? `, Redis Cluster ${clusterNodes}` : ''),
    );
    const target = { redisUrl: services.redisUrl, databaseUrl: services.databaseUrl, clusterNodes };
    let baseline: { perSec: number; lines: Map<string, string> } | null = null;
    // The same shards (every worker serves all) and, for comparison, the shards split between
    // the workers (WORKER_SHARDS): the way to more throughput.
    const runs = [
      ...set.counts.map((count) => ({ count, split: false })),
      ...set.counts.filter((c) => c > 1).map((count) => ({ count, split: true })),
    ];
    for (const { count, split } of runs) {
      const result = await measure(target, set, count, split, signals, ticks);
      const label = `${split ? 'split_' : ''}w${count}`;
      report({ name: `workers.ticks_per_sec.${label}`, value: result.perSec, unit: 'ticks/s' });
      baseline ??= result;
      if (result !== baseline)
        report({ name: `workers.ratio_to_1.${label}`, value: result.perSec / baseline.perSec, unit: 'x' });
      let vsReplay = 0;
      let vsFirst = 0;
      for (const s of signals) {
        const line = result.lines.get(s.id);
        if (line !== expected.get(s.id)) vsReplay++;
        if (line !== baseline.lines.get(s.id)) vsFirst++;
      }
      report({ name: `workers.replay_mismatches.${label}`, value: vsReplay, unit: 'signals' });
      report({ name: `workers.mismatches_vs_1.${label}`, value: vsFirst, unit: 'signals' });
    }
  });
}

/** A line as compared: numbers to 12 significant digits (PostgreSQL's float8 round trip aside). */
function comparable(line: unknown): string {
  return JSON.stringify(line, (_, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(12)) : v));
}

async function measure(
  target: { redisUrl: string; databaseUrl: string; clusterNodes: string | undefined },
  set: Settings,
  count: number,
  split: boolean,
  signals: SignalPayload[],
  ticks: Tick[],
): Promise<{ perSec: number; lines: Map<string, string> }> {
  const prefix = `bw${process.pid}-${split ? 's' : ''}${count}`;
  const db = await scratchDatabase(target.databaseUrl);
  await migrate({ databaseUrl: db.url, log: quietLog, retention: { outcomesDays: null, auditDays: null } });
  const cluster = target.clusterNodes !== undefined;
  const connect = (): RedisClient => {
    const client = cluster
      ? new Cluster(
          target
            .clusterNodes!.split(',')
            .map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })),
          { redisOptions: { maxRetriesPerRequest: null } },
        )
      : new Redis(target.redisUrl, { maxRetriesPerRequest: null });
    client.on('error', (err: Error) => say(`redis: ${err.message}`));
    return client;
  };
  const redis = connect();
  const env = {
    ...(cluster ? { REDIS_CLUSTER_NODES: target.clusterNodes! } : { REDIS_URL: target.redisUrl }),
    DATABASE_URL: db.url,
    QUEUE_PREFIX: prefix,
    SHARDS: String(set.shards),
    MIGRATE_ON_START: 'off',
    // info: started() waits for the start-up line.
    LOG_LEVEL: 'info',
    FLUSH_INTERVAL_MS: '20',
  };
  const children: ChildProcess[] = [];
  const queues: Queue[] = [];
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // An idle client's connection ended under it (the scratch database dropped) is no failure here.
  pool.on('error', (err) => say(`postgres: ${err.message}`));
  try {
    children.push(start('workers/flusher.ts', env));
    for (let i = 0; i < count; i++) {
      const served = Array.from({ length: set.shards }, (_, n) => n).filter((n) => n % count === i);
      children.push(start('workers/worker.ts', split ? { ...env, WORKER_SHARDS: served.join(',') } : env));
    }
    await Promise.all(children.map(started));
    const queue = (name: string): Queue => {
      const q = new Queue(name, { connection: redis, prefix });
      q.on('error', (err) => say(`queue ${name}: ${err.message}`));
      queues.push(q);
      return q;
    };
    const intake = queue(queueNameOn(QUEUE_NAMES.trackSignal, cluster));
    const shards = Array.from({ length: set.shards }, (_, n) => queue(shardQueueName(n)));
    for (let i = 0; i < signals.length; i += 1000)
      await intake.addBulk(signals.slice(i, i + 1000).map((data) => ({ name: 'signal', data })));
    await drained([intake, ...shards]);

    await Promise.all(shards.map((q) => q.pause()));
    const publisher = createTickPublisher({ connection: redis, prefix, shards: set.shards, batchSize: 2000 });
    await publisher.publish(ticks);
    await publisher.close();
    const t0 = performance.now();
    await Promise.all(shards.map((q) => q.resume()));
    await drained(shards);
    const seconds = (performance.now() - t0) / 1000;
    say(
      `${count} worker(s)${split ? ', shards split' : ''}: ${ticks.length} ticks in ${seconds.toFixed(2)} s`,
    );

    await outboxesEmpty(redis, prefix, set.shards);
    const lines = new Map<string, string>();
    for await (const line of exportLines({ redis, db: pool, prefix, shards: set.shards }))
      if (line.id !== null) lines.set(line.id, comparable(line));
    return { perSec: ticks.length / seconds, lines };
  } finally {
    await Promise.all(children.map(stop));
    await Promise.all(queues.map((q) => q.obliterate({ force: true }).catch(() => {})));
    await Promise.all(queues.map((q) => q.close()));
    await dropKeys(redis, prefix);
    redis.disconnect();
    await pool.end();
    await db.drop();
  }
}

function start(script: string, env: Record<string, string>): ChildProcess {
  const inherited = { ...process.env };
  if (env.REDIS_CLUSTER_NODES !== undefined) delete inherited.REDIS_URL;
  return spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPO_ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Resolves once the process logged its start-up line. */
function started(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (/"msg":"(worker|flusher) started"/.test(out)) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`a bench process exited (${code}) before it started:\n${out}`)),
    );
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** No job waiting (paused queues included), delayed or running in `queues`, twice in a row. */
async function drained(queues: Queue[]): Promise<void> {
  let idle = 0;
  while (idle < 2) {
    let busy = 0;
    for (const q of queues) {
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      busy += Object.values(counts).reduce((a, b) => a + b, 0);
    }
    idle = busy === 0 ? idle + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function outboxesEmpty(redis: RedisClient, prefix: string, shards: number): Promise<void> {
  for (let n = 0; n < shards; n++) {
    const key = new ShardKeys(prefix, n).outbox;
    while ((await redis.hlen(key)) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every key of the run's prefix, on every master of a cluster. */
async function dropKeys(redis: RedisClient, prefix: string): Promise<void> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      for (const key of keys) await node.unlink(key);
      cursor = next;
    } while (cursor !== '0');
  }
}
