/**
 * `npm run bench -- pipeline [--quick] [--only=ticks,latency,breakdown,intake,flush,recovery]`
 * Settings: `--shards=8 --workers=2 --batch=2000 --buffer=20000 --ticks=6000000 --signals=100000
 * --rate=20000 --interval=10`. Diagnostics: `--profile` (CPU profiles of the worker processes in
 * .tmp/bench-profiles), `--v8=FLAG` (a V8 flag for the worker processes), `--dump=FILE` (every
 * paced job's publish and done time), `--keep-recovery` (leave the 1M-signal data set in Redis).
 *
 * The live pipeline against the Redis and PostgreSQL of REDIS_URL / DATABASE_URL (for private
 * ones: `scripts/services.sh start && eval "$(scripts/services.sh env)"`). Every figure is
 * measured in the same run as its raw baseline:
 *
 * - ticks: producer (this process, createTickPublisher) → shard queues → shard workers in a
 *   child process (createShardWorkers) applying to the open signals and checkpointing, beside
 *   the same producer and batches into workers that only acknowledge.
 * - latency: a producer paced at 20,000 ticks/s; per tick, the time from its batch's publish
 *   (job.timestamp, set by addBulk) to the worker finishing the job (checkpoint committed, job
 *   marked completed).
 * - intake: track-signal jobs validated, stored in PostgreSQL and forwarded, beside a no-op
 *   BullMQ worker with the same job count and concurrency.
 * - flush: the flusher draining closed outcomes into PostgreSQL, beside a plain multi-row
 *   INSERT of the same rows (skipped while src/live/createFlusher.ts does not exist).
 * - breakdown: one shard's job taken apart in this process (parse, apply, checkpoint; the
 *   checkpoint's Redis time from INFO commandstats; bytes of book clocks and recent ticks).
 * - recovery: a worker process taking over shards that hold 1M open signals (and full
 *   recent-tick buffers) until it has applied the next tick on every one.
 *
 * Prices are real: the IBM trade path of the bundled Lean file, replicated for 500 symbols
 * with different offsets into it and different scales. Signal levels sit beyond the path's
 * range (one in a thousand inside it), so few trigger, as in bench/engine.ts. The stores are
 * filled through the real code: ShardRuntime computes the deltas, commitShard writes them.
 * Keys live under a prefix of their own and are removed afterwards; PostgreSQL figures use a
 * scratch database (created and dropped) when the role may create one.
 */
import { farSignal } from './farSignal.ts';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { NormalizedSignal } from '../machines/signalContext.ts';
import type { OutcomeLine, Tick } from '../machines/types.ts';
import { generateSignals, seededRandom } from '../src/demo/generateSignals.ts';
import { createTickPublisher, type TickPublisher } from '../src/live/createTickPublisher.ts';
import { QUEUE_NAMES, ShardKeys, shardOf, shardQueueName } from '../src/names.ts';
import { toWire, type ShardJobData } from '../src/live/messages.ts';
import { shardCodec } from '../src/live/shardCodec.ts';
import { commitShard, loadShard } from '../src/live/shardStore.ts';
import { emptyDelta, ShardRuntime, type ShardDelta } from '../src/live/ShardRuntime.ts';
import { migrate } from '../src/storage/migrate.ts';
import { readTicks } from '../src/ticks/readTicks.ts';
import { validateSignal } from '../src/validation/validateSignal.ts';
import type { ChildConfig, ChildMessage } from './pipelineWorker.ts';
import type { Report } from './Report.ts';

const IBM_TRADES = 'data/lean_usequity_IBM_trades_2013-10-07_11.csv.gz';
const SYMBOLS = 500;
const INTAKE_CONCURRENCY = 16; // INTAKE_CONCURRENCY default
const FLUSH_BATCH_SIZE = 1000; // FLUSH_BATCH_SIZE default

interface Settings {
  quick: boolean;
  only: Set<string> | null;
  shards: number;
  batch: number;
  workers: number;
  profile: boolean;
  /** Leave the recovery data set in Redis (for profiling loadShard on its own). */
  keepRecovery: boolean;
  /** Extra V8 flags for the worker processes, e.g. --v8=--max-semi-space-size=64. */
  childV8: string[];
  /** TICK_BUFFER_SIZE of the workers. */
  bufferSize: number;
  openSignals: number;
  pipelineHistory: number;
  ticks: number;
  latencyRate: number;
  latencySeconds: number;
  latencyIntervalMs: number;
  intakeJobs: number;
  flushOutcomes: number;
  recoverySignals: number;
  recoveryHistory: number;
}

function settings(flags: string[]): Settings {
  const quick = flags.includes('--quick');
  const num = (name: string, fallback: number): number => {
    const f = flags.find((x) => x.startsWith(`--${name}=`));
    return f === undefined ? fallback : Number(f.slice(name.length + 3));
  };
  const only = flags.find((f) => f.startsWith('--only='));
  return {
    quick,
    only: only === undefined ? null : new Set(only.slice('--only='.length).split(',')),
    shards: num('shards', 8),
    batch: num('batch', 2000),
    workers: num('workers', 2),
    profile: flags.includes('--profile'),
    keepRecovery: flags.includes('--keep-recovery'),
    bufferSize: num('buffer', 20_000), // TICK_BUFFER_SIZE default
    childV8: flags.filter((f) => f.startsWith('--v8=')).map((f) => f.slice('--v8='.length)),
    openSignals: num('signals', quick ? 20_000 : 100_000),
    pipelineHistory: quick ? 200 : 1000,
    ticks: num('ticks', quick ? 400_000 : 6_000_000),
    latencyRate: num('rate', 20_000),
    latencySeconds: quick ? 5 : 20,
    latencyIntervalMs: num('interval', 10),
    intakeJobs: quick ? 2000 : 20_000,
    flushOutcomes: quick ? 2000 : 20_000,
    recoverySignals: quick ? 100_000 : 1_000_000,
    recoveryHistory: quick ? 2000 : 20_000,
  };
}

const say = (msg: string): void => {
  process.stderr.write(`[pipeline] ${msg}\n`);
};

// ---------------------------------------------------------------------------------------------
// Prices: the real IBM trade path, replicated.

/**
 * 500 symbols' tick streams from one real path: symbol s reads the IBM trade prices from its
 * own offset on (wrapping around), times its own scale (log-uniform, about $9 to $1,800).
 * Ticks come round-robin over the symbols; tick g is symbol g mod 500 at time t0 + g ms, so a
 * stream is a pure function of g and any phase can start where another ended.
 */
class TickStreams {
  readonly symbols: string[] = [];
  private readonly offset: Int32Array;
  private readonly scale: Float64Array;

  constructor(
    private readonly path: Float64Array,
    readonly t0: number,
    seed: number,
  ) {
    const rnd = seededRandom(seed);
    this.offset = new Int32Array(SYMBOLS);
    this.scale = new Float64Array(SYMBOLS);
    for (let s = 0; s < SYMBOLS; s++) {
      this.symbols.push(`X${String(s).padStart(3, '0')}`);
      this.offset[s] = Math.floor(rnd() * path.length);
      this.scale[s] = Math.exp(Math.log(0.05) + rnd() * Math.log(200));
    }
  }

  /** Symbol s's j-th price. */
  price(s: number, j: number): number {
    return Math.round(this.path[(this.offset[s]! + j) % this.path.length]! * this.scale[s]! * 1e4) / 1e4;
  }

  tick(g: number): Tick {
    const s = g % SYMBOLS;
    return { symbol: this.symbols[s]!, ts: this.t0 + g, price: this.price(s, (g - s) / SYMBOLS) };
  }

  take(g: number, n: number): Tick[] {
    const out = new Array<Tick>(n);
    for (let i = 0; i < n; i++) out[i] = this.tick(g + i);
    return out;
  }
}

async function loadStreams(): Promise<TickStreams> {
  const prices: number[] = [];
  let t0 = 0;
  for await (const t of readTicks(IBM_TRADES)) {
    if (prices.length === 0) t0 = t.ts;
    prices.push(t.price);
  }
  return new TickStreams(Float64Array.from(prices), t0, 17);
}

function farSignals(streams: TickStreams, count: number, tag: string): NormalizedSignal[] {
  const rnd = seededRandom(5);
  const out: NormalizedSignal[] = [];
  for (let i = 0; i < count; i++) {
    const s = i % SYMBOLS;
    out.push(farSignal(`${tag}${i}`, i, streams.symbols[s]!, streams.price(s, 0), streams.t0 - 1, rnd));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Filling Redis through the real code: ShardRuntime computes, commitShard writes.

/** Folds a later job's delta into `into`, as committing both in order would leave Redis. */
function mergeDelta(into: ShardDelta, d: ShardDelta, bufferSize: number): void {
  for (const [id, r] of d.set) into.set.set(id, r);
  for (const id of d.del) {
    into.set.delete(id);
    into.del.add(id);
  }
  for (const [k, v] of d.ids) into.ids.set(k, v);
  for (const [k, v] of d.books) into.books.set(k, v);
  for (const [k, v] of d.outbox) into.outbox.set(k, v);
  for (const [symbol, ticks] of d.recent) {
    let list = into.recent.get(symbol);
    if (list === undefined) into.recent.set(symbol, (list = []));
    for (const t of ticks) list.push(t);
    if (list.length > 2 * bufferSize) list.splice(0, list.length - bufferSize);
  }
  if (d.lastTickTs !== null) into.lastTickTs = Math.max(into.lastTickTs ?? -Infinity, d.lastTickTs);
}

/**
 * Writes a merged delta with commitShard in pieces small enough for one Lua call each; the
 * last piece leaves the progress marker at "0", so the queue's first job (id 1) comes next.
 * The recent-tick lists (millions of entries for full buffers) are pushed directly, encoded as
 * commitShard encodes them (shardCodec), which is much faster than passing them through the
 * checkpoint script.
 */
async function writeDelta(redis: Redis, keys: ShardKeys, d: ShardDelta, bufferSize: number): Promise<void> {
  if (bufferSize > 0) {
    for (const [symbol, list] of d.recent) {
      const kept = list.slice(-bufferSize).map((t) => shardCodec.encodeRecentTick(t));
      const pipeline = redis.pipeline();
      for (let i = 0; i < kept.length; i += 5000)
        pipeline.rpush(keys.recent(symbol), ...kept.slice(i, i + 5000));
      pipeline.ltrim(keys.recent(symbol), -bufferSize, -1);
      for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    }
  }
  const pieces: ShardDelta[] = [];
  const sets = [...d.set];
  const ids = [...d.ids];
  const PIECE = 10_000;
  for (let i = 0; i < Math.max(sets.length, ids.length); i += PIECE) {
    const p = emptyDelta();
    p.set = new Map(sets.slice(i, i + PIECE));
    p.ids = new Map(ids.slice(i, i + PIECE));
    pieces.push(p);
  }
  const last = emptyDelta();
  last.books = d.books;
  last.outbox = d.outbox;
  last.del = d.del;
  last.lastTickTs = d.lastTickTs;
  pieces.push(last);
  let marker: string | null = null;
  for (let k = 0; k < pieces.length; k++) {
    const id = k === pieces.length - 1 ? '0' : `seed-${k}`;
    if (!(await commitShard(redis, keys, marker, id, pieces[k]!, bufferSize, Date.now()))) {
      throw new Error(`seeding ${keys.signals}: checkpoint marker moved`);
    }
    marker = id;
  }
}

interface Seeded {
  open: number;
  recordBytes: number;
  recentTicks: number;
  outbox: number;
  /** The stream position after the history. */
  next: number;
}

/**
 * Registers `signals` on their shards and applies `history` rounds of ticks (every symbol
 * once per round), in jobs of about `batch` ticks, then writes each shard's state.
 */
async function seedShards(
  redis: Redis,
  prefix: string,
  shardCount: number,
  streams: TickStreams,
  signals: NormalizedSignal[],
  history: number,
  batch: number,
  bufferSize: number,
): Promise<Seeded> {
  const result: Seeded = { open: 0, recordBytes: 0, recentTicks: 0, outbox: 0, next: history * SYMBOLS };
  let sampled = 0;
  let sampledBytes = 0;
  for (let shard = 0; shard < shardCount; shard++) {
    const symbolsHere: number[] = [];
    for (let s = 0; s < SYMBOLS; s++)
      if (shardOf(streams.symbols[s]!, shardCount) === shard) symbolsHere.push(s);
    const mine = new Set(symbolsHere.map((s) => streams.symbols[s]!));
    const rt = new ShardRuntime(bufferSize);
    const merged = emptyDelta();
    for (const signal of signals) {
      if (mine.has(signal.symbol))
        mergeDelta(merged, rt.apply('seed', { kind: 'register', signal }, new Map()), bufferSize);
    }
    const rounds = Math.max(1, Math.floor(batch / Math.max(1, symbolsHere.length)));
    for (let j0 = 0; j0 < history; j0 += rounds) {
      const wire = [];
      for (let j = j0; j < Math.min(history, j0 + rounds); j++) {
        for (const s of symbolsHere) wire.push(toWire(streams.tick(j * SYMBOLS + s)));
      }
      mergeDelta(merged, rt.apply('seed', { kind: 'ticks', ticks: wire }, new Map()), bufferSize);
    }
    for (const r of merged.set.values()) {
      if (sampled++ >= 2000) break;
      sampledBytes += JSON.stringify(r).length;
    }
    result.open += rt.openCount;
    result.outbox += merged.outbox.size;
    for (const list of merged.recent.values()) result.recentTicks += Math.min(list.length, bufferSize);
    await writeDelta(redis, new ShardKeys(prefix, shard), merged, bufferSize);
  }
  result.recordBytes = sampled === 0 ? 0 : sampledBytes / Math.min(sampled, 2000);
  return result;
}

/** Removes every key under `prefix:` (the bench's own namespace). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

// ---------------------------------------------------------------------------------------------
// Child processes.

const CHILD = fileURLToPath(new URL('./pipelineWorker.ts', import.meta.url));

interface JobDone {
  pub: number;
  at: number;
  n: number;
}

/** Worker child processes and what they report. */
export class Fleet {
  completedTicks = 0;
  completedJobs = 0;
  /** Per job, while recording (latency). */
  recording: JobDone[] | null = null;
  readonly doneByShard = new Map<number, JobDone[]>();
  messages: ChildMessage[] = [];
  private error: Error | null = null;
  private wake: (() => void)[] = [];

  private constructor(
    readonly children: ChildProcess[],
    readonly spawnedAt: number,
  ) {}

  static async spawn(configs: ChildConfig[], profile: boolean, v8: string[]): Promise<Fleet> {
    const execArgv = ['--import', 'tsx', '--max-old-space-size=8192', ...v8];
    if (profile) execArgv.push('--cpu-prof', '--cpu-prof-dir=.tmp/bench-profiles');
    const spawnedAt = Date.now();
    const children = configs.map((c) =>
      fork(CHILD, [JSON.stringify(c)], { execArgv, stdio: ['ignore', 2, 2, 'ipc'] }),
    );
    const fleet = new Fleet(children, spawnedAt);
    for (const child of children) {
      child.on('message', (m: ChildMessage) => fleet.onMessage(m));
      child.on('exit', (code) => {
        if (code !== 0 && code !== null) fleet.fail(new Error(`worker child exited with ${code}`));
      });
    }
    await fleet.until(
      () => fleet.messages.filter((m) => m.e === 'ready').length === children.length,
      120_000,
    );
    return fleet;
  }

  private onMessage(m: ChildMessage): void {
    if (m.e === 'done') {
      this.completedTicks += m.n;
      this.completedJobs++;
      const rec = { pub: m.pub, at: m.at, n: m.n };
      this.recording?.push(rec);
      let list = this.doneByShard.get(m.shard);
      if (list === undefined) this.doneByShard.set(m.shard, (list = []));
      list.push(rec);
    } else if (m.e === 'failed') {
      this.fail(new Error(`job ${m.id ?? ''} on shard ${m.shard ?? '-'} failed: ${m.error}`));
    } else {
      this.messages.push(m);
    }
    this.poke();
  }

  private fail(err: Error): void {
    this.error ??= err;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  /** Resolves once `pred` holds (checked on every message); rejects on a child's failure. */
  async until(pred: () => boolean, timeoutMs = 600_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      if (this.error) throw this.error;
      if (pred()) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the worker processes');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** GC and event-loop figures of the children since the previous `cpuMs` call. */
  pauses = { gcMs: 0, gcMaxMs: 0, loopMaxMs: 0, heapMb: 0 };

  /** CPU milliseconds used by the children so far (and their pauses since the last call). */
  async cpuMs(): Promise<number> {
    const before = this.messages.length;
    for (const c of this.children) c.send({ cmd: 'cpu' });
    await this.until(
      () => this.messages.slice(before).filter((m) => m.e === 'cpu').length === this.children.length,
      30_000,
    );
    const replies = this.messages
      .slice(before)
      .filter((m): m is Extract<ChildMessage, { e: 'cpu' }> => m.e === 'cpu');
    this.pauses = {
      gcMs: replies.reduce((a, m) => a + m.gcMs, 0),
      gcMaxMs: Math.max(...replies.map((m) => m.gcMaxMs)),
      loopMaxMs: Math.max(...replies.map((m) => m.loopMaxMs)),
      heapMb: replies.reduce((a, m) => a + m.heapMb, 0),
    };
    return replies.reduce((a, m) => a + m.cpuMs, 0);
  }

  async stop(): Promise<void> {
    const exits = this.children.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
    for (const c of this.children) if (c.connected) c.send({ cmd: 'stop' });
    const timer = setTimeout(() => {
      for (const c of this.children) c.kill('SIGKILL');
    }, 60_000);
    await Promise.all(exits);
    clearTimeout(timer);
  }
}

export function splitShards(shards: number, workers: number): number[][] {
  const out: number[][] = Array.from({ length: Math.min(workers, shards) }, () => []);
  for (let s = 0; s < shards; s++) out[s % out.length]!.push(s);
  return out;
}

/** Redis's own CPU seconds so far (INFO cpu). */
async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string): number => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
}

/** Redis INFO commandstats as command → [calls, usec]. */
async function commandStats(redis: Redis): Promise<Map<string, [number, number]>> {
  const out = new Map<string, [number, number]>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out.set(m[1]!, [Number(m[2]), Number(m[3])]);
  }
  return out;
}

function statsDelta(a: Map<string, [number, number]>, b: Map<string, [number, number]>): string {
  const rows = [...b]
    .map(
      ([cmd, [calls, usec]]) => [cmd, calls - (a.get(cmd)?.[0] ?? 0), usec - (a.get(cmd)?.[1] ?? 0)] as const,
    )
    .filter(([, calls]) => calls > 0)
    .sort((x, y) => y[2] - x[2])
    .slice(0, 8);
  return rows.map(([cmd, calls, usec]) => `${cmd} ${calls} calls ${(usec / 1000).toFixed(0)} ms`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// The tick pipeline.

interface Drive {
  seconds: number;
  jobs: number;
  producerCpuMs: number;
  workerCpuMs: number;
  redisCpuMs: number;
  redisTop: string;
}

/**
 * Publishes `total` ticks from stream position `g` as fast as the workers take them (at most
 * `window` ticks published and not yet applied), until the last is applied.
 */
async function driveFlat(
  fleet: Fleet,
  redis: Redis,
  publisher: TickPublisher,
  streams: TickStreams,
  g: number,
  total: number,
  chunk: number,
  window: number,
): Promise<Drive> {
  const startTicks = fleet.completedTicks;
  const startJobs = fleet.completedJobs;
  const cpu0 = process.cpuUsage();
  const [w0, r0, s0] = await Promise.all([fleet.cpuMs(), redisCpuMs(redis), commandStats(redis)]);
  const t0 = performance.now();
  let published = 0;
  while (published < total) {
    await fleet.until(() => published - (fleet.completedTicks - startTicks) <= window);
    const n = Math.min(chunk, total - published);
    await publisher.publish(streams.take(g + published, n));
    published += n;
  }
  await fleet.until(() => fleet.completedTicks - startTicks >= total);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const [w1, r1, s1] = await Promise.all([fleet.cpuMs(), redisCpuMs(redis), commandStats(redis)]);
  return {
    seconds,
    jobs: fleet.completedJobs - startJobs,
    producerCpuMs: (cpu.user + cpu.system) / 1000,
    workerCpuMs: w1 - w0,
    redisCpuMs: r1 - r0,
    redisTop: statsDelta(s0, s1),
  };
}

/** Publishes at `rate` ticks/s for `seconds`, every `intervalMs`; returns every job's timing. */
async function drivePaced(
  fleet: Fleet,
  publisher: TickPublisher,
  streams: TickStreams,
  g: number,
  rate: number,
  seconds: number,
  intervalMs: number,
): Promise<{
  jobs: JobDone[];
  ticks: number;
  workerCpuMs: number;
  producerCpuMs: number;
  pauses: Fleet['pauses'];
}> {
  const startTicks = fleet.completedTicks;
  const cpu0 = process.cpuUsage();
  const w0 = await fleet.cpuMs();
  fleet.recording = [];
  const t0 = performance.now();
  let sent = 0;
  for (let k = 1; ; k++) {
    const elapsed = performance.now() - t0;
    if (elapsed >= seconds * 1000) break;
    const due = Math.floor((rate * elapsed) / 1000) - sent;
    if (due > 0) {
      await publisher.publish(streams.take(g + sent, due));
      sent += due;
    }
    const wait = t0 + k * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await fleet.until(() => fleet.completedTicks - startTicks >= sent);
  const jobs = fleet.recording;
  fleet.recording = null;
  const cpu = process.cpuUsage(cpu0);
  return {
    jobs,
    ticks: sent,
    workerCpuMs: (await fleet.cpuMs()) - w0,
    producerCpuMs: (cpu.user + cpu.system) / 1000,
    pauses: fleet.pauses,
  };
}

/** The tick-weighted quantile of job latencies. */
function quantile(jobs: JobDone[], q: number): number {
  const sorted = jobs.filter((j) => j.n > 0).sort((a, b) => a.at - a.pub - (b.at - b.pub));
  const total = sorted.reduce((a, j) => a + j.n, 0);
  let seen = 0;
  for (const j of sorted) {
    seen += j.n;
    if (seen >= q * total) return j.at - j.pub;
  }
  return NaN;
}

/** The biggest `publish` chunk (whole rounds over the symbols) that gives no shard more than `batch` ticks. */
function chunkFor(streams: TickStreams, shards: number, batch: number): number {
  const perShard = new Array<number>(shards).fill(0);
  for (const s of streams.symbols) perShard[shardOf(s, shards)]!++;
  const rounds = Math.max(1, Math.floor(batch / Math.max(...perShard)));
  return rounds * SYMBOLS;
}

async function tickBenches(
  report: Report,
  set: Settings,
  redis: Redis,
  streams: TickStreams,
  base: string,
  flags: string[],
): Promise<void> {
  const url = process.env.REDIS_URL!;
  const chunk = chunkFor(streams, set.shards, set.batch);
  const window = chunk * 4;
  const warm = chunk * set.shards * 2;
  const groups = splitShards(set.shards, set.workers);
  say(
    `ticks: SHARDS=${set.shards}, ${groups.length} worker process(es), publish chunks of ${chunk} ticks ` +
      `(≤ ${set.batch} per shard job), at most ${window} ticks in flight, ${set.ticks} ticks per run`,
  );
  const producerConnection = new Redis(url, { maxRetriesPerRequest: null });
  const publisherFor = (prefix: string): TickPublisher =>
    createTickPublisher({ connection: producerConnection, prefix, shards: set.shards, batchSize: set.batch });

  // The raw baseline: the same producer and batches into workers that only acknowledge.
  const noopPrefix = `${base}noop`;
  const measured = set.only === null || set.only.has('ticks');
  const paced = set.only === null || set.only.has('latency');
  /** Two seconds at the pace to settle, then the measured run; returns the stream position after it. */
  const pacedRun = async (
    fleet: Fleet,
    publisher: TickPublisher,
    g: number,
    noop: boolean,
  ): Promise<number> => {
    const settle = await drivePaced(fleet, publisher, streams, g, set.latencyRate, 2, set.latencyIntervalMs);
    g += settle.ticks;
    const run = await drivePaced(
      fleet,
      publisher,
      streams,
      g,
      set.latencyRate,
      set.latencySeconds,
      set.latencyIntervalMs,
    );
    const dump = flags.find((f) => f.startsWith('--dump='));
    if (dump !== undefined && !noop) {
      writeFileSync(dump.slice(7), run.jobs.map((j) => `${j.pub} ${j.at} ${j.n}`).join('\n'));
    }
    const name = noop ? 'pipeline.noop_tick_to_ack' : 'pipeline.tick_to_checkpoint';
    if (!noop)
      report({
        name: 'pipeline.paced_ticks_per_sec',
        value: run.ticks / set.latencySeconds,
        unit: 'ticks/s',
      });
    report({ name: `${name}_p50_ms`, value: quantile(run.jobs, 0.5), unit: 'ms' });
    report({ name: `${name}_p99_ms`, value: quantile(run.jobs, 0.99), unit: 'ms' });
    if (!noop) report({ name: `${name}_max_ms`, value: quantile(run.jobs, 1), unit: 'ms' });
    say(
      `${noop ? 'noop ' : ''}paced: ${run.ticks} ticks in ${run.jobs.length} jobs (${(run.ticks / run.jobs.length).toFixed(0)} ticks/job), ` +
        `publishing every ${set.latencyIntervalMs} ms; CPU ms per job: workers ${(run.workerCpuMs / run.jobs.length).toFixed(2)}, ` +
        `producer ${(run.producerCpuMs / run.jobs.length).toFixed(2)}; workers' GC ${run.pauses.gcMs.toFixed(0)} ms ` +
        `(longest ${run.pauses.gcMaxMs.toFixed(0)}), longest event-loop stall ${run.pauses.loopMaxMs.toFixed(0)} ms; workers' heap ${run.pauses.heapMb.toFixed(0)} MB`,
    );
    return g + run.ticks;
  };
  {
    const fleet = await Fleet.spawn(
      groups.map((shards) => ({
        mode: 'noop-shard',
        redisUrl: url,
        prefix: noopPrefix,
        shards,
        bufferSize: set.bufferSize,
      })),
      false,
      set.childV8,
    );
    const publisher = publisherFor(noopPrefix);
    try {
      let g = set.pipelineHistory * SYMBOLS;
      await driveFlat(fleet, redis, publisher, streams, g, warm, chunk, window);
      g += warm;
      if (measured) {
        const d = await driveFlat(fleet, redis, publisher, streams, g, set.ticks, chunk, window);
        g += set.ticks;
        report({ name: 'pipeline.noop_ticks_per_sec', value: set.ticks / d.seconds, unit: 'ticks/s' });
        say(
          `noop: ${set.ticks} ticks in ${d.seconds.toFixed(2)} s, ${d.jobs} jobs; CPU ms: producer ${d.producerCpuMs.toFixed(0)}, ` +
            `workers ${d.workerCpuMs.toFixed(0)}, redis ${d.redisCpuMs.toFixed(0)}; redis: ${d.redisTop}`,
        );
      }
      if (paced) await pacedRun(fleet, publisher, g, true);
    } finally {
      await publisher.close();
      await fleet.stop();
      await dropPrefix(redis, noopPrefix);
    }
  }

  // The real pipeline on open signals.
  const livePrefix = `${base}live`;
  const t = performance.now();
  const seeded = await seedShards(
    redis,
    livePrefix,
    set.shards,
    streams,
    farSignals(streams, set.openSignals, 'p'),
    set.pipelineHistory,
    set.batch,
    set.bufferSize,
  );
  say(
    `seeded ${seeded.open} open signals (${seeded.recordBytes.toFixed(0)} B per checkpoint record), ` +
      `${seeded.recentTicks} buffered ticks, in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  report({ name: 'pipeline.open_signals', value: seeded.open, unit: 'signals' });
  const fleet = await Fleet.spawn(
    groups.map((shards) => ({
      mode: 'shard',
      redisUrl: url,
      prefix: livePrefix,
      shards,
      bufferSize: set.bufferSize,
    })),
    set.profile,
    set.childV8,
  );
  const publisher = publisherFor(livePrefix);
  try {
    let g = seeded.next;
    // Warm-up: every shard loads its signals and the code gets compiled.
    await driveFlat(fleet, redis, publisher, streams, g, warm, chunk, window);
    g += warm;
    if (measured) {
      const d = await driveFlat(fleet, redis, publisher, streams, g, set.ticks, chunk, window);
      g += set.ticks;
      report({ name: 'pipeline.ticks_per_sec', value: set.ticks / d.seconds, unit: 'ticks/s' });
      report({ name: 'pipeline.ticks_per_job', value: set.ticks / d.jobs, unit: 'ticks' });
      say(
        `live: ${set.ticks} ticks in ${d.seconds.toFixed(2)} s, ${d.jobs} jobs; CPU ms: producer ${d.producerCpuMs.toFixed(0)}, ` +
          `workers ${d.workerCpuMs.toFixed(0)}, redis ${d.redisCpuMs.toFixed(0)}; redis: ${d.redisTop}`,
      );
    }
    if (paced) await pacedRun(fleet, publisher, g, false);
  } finally {
    await publisher.close();
    await fleet.stop();
    producerConnection.disconnect();
    await dropPrefix(redis, livePrefix);
  }
}

// ---------------------------------------------------------------------------------------------
// Where a shard job's time goes, in this process: the steps of createShardWorkers one by one.

async function breakdownBench(
  report: Report,
  set: Settings,
  redis: Redis,
  streams: TickStreams,
  base: string,
): Promise<void> {
  const prefix = `${base}parts`;
  try {
    await seedShards(
      redis,
      prefix,
      set.shards,
      streams,
      farSignals(streams, set.openSignals, 'b'),
      set.pipelineHistory,
      set.batch,
      set.bufferSize,
    );
    const keys = new ShardKeys(prefix, 0);
    const runtime = await loadShard(redis, keys, set.bufferSize);
    const symbolsHere: number[] = [];
    for (let s = 0; s < SYMBOLS; s++) if (shardOf(streams.symbols[s]!, set.shards) === 0) symbolsHere.push(s);
    let round = set.pipelineHistory;
    const jobTicks = (n: number): Tick[] => {
      const out: Tick[] = [];
      while (out.length < n) {
        for (const s of symbolsHere) if (out.length < n) out.push(streams.tick(round * SYMBOLS + s));
        round++;
      }
      return out;
    };
    say(`breakdown: shard 0 holds ${runtime.openCount} open signals, ${symbolsHere.length} symbols`);
    for (const size of [set.batch, 25]) {
      const jobs = size > 100 ? (set.quick ? 40 : 150) : set.quick ? 400 : 2000;
      const t = { parse: 0, apply: 0, commit: 0, redis: 0, books: 0, recent: 0 };
      let marker = runtime.appliedJob;
      for (let k = 0; k < jobs + 10; k++) {
        const measured = k >= 10;
        const text = JSON.stringify({ kind: 'ticks', ticks: jobTicks(size).map(toWire) });
        const t0 = performance.now();
        const data = JSON.parse(text) as ShardJobData;
        const t1 = performance.now();
        const delta = runtime.apply(`${k + 1}`, data, new Map());
        const t2 = performance.now();
        const s0 = measured ? (await commandStats(redis)).get('evalsha') : undefined;
        const t3 = performance.now();
        if (!(await commitShard(redis, keys, marker, `${k + 1}`, delta, set.bufferSize, Date.now())))
          throw new Error('breakdown: marker moved');
        const t4 = performance.now();
        marker = runtime.appliedJob = `${k + 1}`;
        if (!measured) continue;
        const s1 = (await commandStats(redis)).get('evalsha')!;
        t.parse += t1 - t0;
        t.apply += t2 - t1;
        t.commit += t4 - t3;
        t.redis += (s1[1] - (s0?.[1] ?? 0)) / 1000;
        for (const c of delta.books.values()) t.books += shardCodec.encodeBookClock(c).length;
        for (const list of delta.recent.values())
          for (const x of list) t.recent += JSON.stringify(shardCodec.encodeRecentTick(x)).length;
      }
      const per = (x: number): number => x / jobs;
      const label = `job${size}`;
      report({ name: `pipeline.${label}.parse_ms`, value: per(t.parse), unit: 'ms' });
      report({ name: `pipeline.${label}.apply_ms`, value: per(t.apply), unit: 'ms' });
      report({ name: `pipeline.${label}.commit_ms`, value: per(t.commit), unit: 'ms' });
      report({ name: `pipeline.${label}.commit_redis_ms`, value: per(t.redis), unit: 'ms' });
      report({ name: `pipeline.${label}.books_bytes`, value: per(t.books), unit: 'B' });
      report({ name: `pipeline.${label}.recent_bytes`, value: per(t.recent), unit: 'B' });
    }
  } finally {
    await dropPrefix(redis, prefix);
  }
}

// ---------------------------------------------------------------------------------------------
// Recovery.

async function recoveryBench(
  report: Report,
  set: Settings,
  redis: Redis,
  streams: TickStreams,
  base: string,
): Promise<void> {
  const url = process.env.REDIS_URL!;
  const prefix = `${base}rec`;
  try {
    const t = performance.now();
    const seeded = await seedShards(
      redis,
      prefix,
      set.shards,
      streams,
      farSignals(streams, set.recoverySignals, 'r'),
      set.recoveryHistory,
      set.batch,
      set.bufferSize,
    );
    say(
      `recovery: seeded ${seeded.open} open signals (${seeded.recordBytes.toFixed(0)} B per record) and ` +
        `${seeded.recentTicks} buffered ticks over ${set.shards} shards in ${((performance.now() - t) / 1000).toFixed(1)} s; ` +
        `redis used_memory ${/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? '?'} B`,
    );
    report({ name: 'recovery.open_signals', value: seeded.open, unit: 'signals' });
    const producerConnection = new Redis(url, { maxRetriesPerRequest: null });
    const publisher = createTickPublisher({
      connection: producerConnection,
      prefix,
      shards: set.shards,
      batchSize: set.batch,
    });
    /**
     * One worker process takes over every shard: the next tick of every symbol waits in the
     * queues (one job per shard); timed from just before createShardWorkers to the last shard's
     * job done. Run twice: as configured, and again (the next round of ticks) with a larger
     * young generation, which spares the scavenger most of the copying of what loadShard builds.
     */
    const takeOver = async (
      round: number,
      v8: string[],
    ): Promise<{ seconds: number; withStart: number; gc: string }> => {
      await publisher.publish(streams.take(seeded.next + round * SYMBOLS, SYMBOLS));
      const fleet = await Fleet.spawn(
        [
          {
            mode: 'shard',
            redisUrl: url,
            prefix,
            shards: Array.from({ length: set.shards }, (_, i) => i),
            bufferSize: set.bufferSize,
          },
        ],
        set.profile,
        v8,
      );
      try {
        await fleet.until(() => fleet.doneByShard.size === set.shards, 300_000);
        const start = fleet.messages.find((m) => m.e === 'start')!.at;
        const last = Math.max(...[...fleet.doneByShard.values()].map((l) => l[0]!.at));
        await fleet.cpuMs();
        const gc = `GC ${fleet.pauses.gcMs.toFixed(0)} ms (longest ${fleet.pauses.gcMaxMs.toFixed(0)})`;
        return { seconds: (last - start) / 1000, withStart: (last - fleet.spawnedAt) / 1000, gc };
      } finally {
        await fleet.stop();
      }
    };
    try {
      const plain = await takeOver(0, set.childV8);
      report({ name: 'recovery.seconds', value: plain.seconds, unit: 's' });
      report({ name: 'recovery.seconds_with_process_start', value: plain.withStart, unit: 's' });
      const semi = await takeOver(1, [...set.childV8, '--max-semi-space-size=64']);
      report({ name: 'recovery.seconds_semi_space_64mb', value: semi.seconds, unit: 's' });
      say(`recovery: worker ${plain.gc}; with --max-semi-space-size=64: ${semi.gc}`);
    } finally {
      await publisher.close();
      producerConnection.disconnect();
    }
  } finally {
    if (set.keepRecovery) say(`recovery: kept the seeded shards under prefix ${prefix}`);
    else await dropPrefix(redis, prefix);
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a scratch database.

export async function scratchDatabase(databaseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ot_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.end();
    say(`cannot create a scratch database (${String(err)}); using DATABASE_URL's own`);
    return { url: databaseUrl, drop: async () => {} };
  }
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/**
 * Stores `signals` as accepted rows of the `signals` table, as the intake would have (the
 * flusher writes an outcome only for a signal PostgreSQL knows).
 */
export async function insertSignals(client: pg.Client, signals: NormalizedSignal[]): Promise<void> {
  for (let i = 0; i < signals.length; i += 5000) {
    await client.query(
      `INSERT INTO signals (id, status, tenant, symbol, side, strategy, model, model_version, timeframe, confidence,
                            created_at, payload, normalized)
       SELECT x.id, 'accepted', x.tenant, x.symbol, x.side, x.strategy, x.model, x.model_version, x.timeframe,
              x.confidence, timestamptz 'epoch' + x.created_at * interval '1 millisecond', x.payload, x.payload
       FROM jsonb_to_recordset($1::jsonb) AS x(id text, tenant text, symbol text, side text, strategy text, model text,
            model_version text, timeframe text, confidence float8, created_at bigint, payload jsonb)`,
      [
        JSON.stringify(
          signals.slice(i, i + 5000).map((s) => ({
            id: s.id,
            tenant: s.tenant,
            symbol: s.symbol,
            side: s.side,
            strategy: s.strategy ?? null,
            model: s.model ?? null,
            model_version: s.modelVersion ?? null,
            timeframe: s.timeframe ?? null,
            confidence: s.confidence ?? null,
            created_at: s.createdAt,
            payload: s,
          })),
        ),
      ],
    );
  }
}

export const quietLog = { debug() {}, info() {}, warn() {}, error() {} };

async function intakeBench(
  report: Report,
  set: Settings,
  streams: TickStreams,
  databaseUrl: string,
  base: string,
  redis: Redis,
): Promise<void> {
  const url = process.env.REDIS_URL!;
  const anchors = streams.take(0, SYMBOLS * 20);
  const payloads = generateSignals(anchors, { count: set.intakeJobs, seed: 21, prefix: `in${process.pid}` });
  const fill = async (prefix: string): Promise<void> => {
    const connection = new Redis(url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAMES.trackSignal, { connection, prefix });
    for (let i = 0; i < payloads.length; i += 1000) {
      await queue.addBulk(payloads.slice(i, i + 1000).map((data) => ({ name: 'track-signal', data })));
    }
    await queue.close();
    connection.disconnect();
  };
  const measure = async (mode: 'intake' | 'noop-intake', prefix: string, dbUrl: string): Promise<number> => {
    await fill(prefix);
    const fleet = await Fleet.spawn(
      [
        {
          mode,
          redisUrl: url,
          databaseUrl: dbUrl,
          prefix,
          shardCount: set.shards,
          concurrency: INTAKE_CONCURRENCY,
          expect: payloads.length,
        },
      ],
      set.profile && mode === 'intake',
      set.childV8,
    );
    try {
      await fleet.until(() => fleet.messages.some((m) => m.e === 'finished'));
      const m = fleet.messages.find(
        (x): x is Extract<ChildMessage, { e: 'finished' }> => x.e === 'finished',
      )!;
      if (m.failed > 0) throw new Error(`${mode}: ${m.failed} jobs failed`);
      return m.count / ((m.t1 - m.t0) / 1000);
    } finally {
      await fleet.stop();
    }
  };
  const db = await scratchDatabase(databaseUrl);
  try {
    await migrate({ databaseUrl: db.url, log: quietLog });
    const noop = await measure('noop-intake', `${base}inoop`, db.url);
    await dropPrefix(redis, `${base}inoop`);
    const real = await measure('intake', `${base}intake`, db.url);
    const forwarded = (
      await Promise.all(
        Array.from({ length: set.shards }, async (_, n) => {
          const q = new Queue(shardQueueName(n), { connection: redis, prefix: `${base}intake` });
          return q.getWaitingCount();
        }),
      )
    ).reduce((a, b) => a + b, 0);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const stored = Number(
      (await client.query(`SELECT count(*) FROM signals WHERE status = 'accepted'`)).rows[0].count,
    );
    await client.end();
    if (stored !== payloads.length || forwarded !== payloads.length) {
      throw new Error(`intake: stored ${stored}, forwarded ${forwarded}, expected ${payloads.length}`);
    }
    report({ name: 'intake.signals_per_sec', value: real, unit: 'signals/s' });
    report({ name: 'intake.bullmq_noop_jobs_per_sec', value: noop, unit: 'jobs/s' });
    say(
      `intake: ${payloads.length} jobs, concurrency ${INTAKE_CONCURRENCY}, pg pool 10; all stored and forwarded`,
    );
  } finally {
    await dropPrefix(redis, `${base}inoop`);
    await dropPrefix(redis, `${base}intake`);
    await db.drop();
  }
}

// ---------------------------------------------------------------------------------------------
// The flusher.

async function flushBench(
  report: Report,
  set: Settings,
  streams: TickStreams,
  databaseUrl: string,
  base: string,
  redis: Redis,
): Promise<void> {
  if (!existsSync(fileURLToPath(new URL('../src/live/createFlusher.ts', import.meta.url)))) {
    say('flush: skipped, src/live/createFlusher.ts does not exist yet');
    return;
  }
  const url = process.env.REDIS_URL!;
  const prefix = `${base}flush`;
  // Varied signals (every SPEC feature) on the real paths, each with a time limit and an
  // entry expiry so that all of them close within the ticks applied below.
  const payloads = generateSignals(streams.take(0, SYMBOLS * 20), {
    count: set.flushOutcomes,
    seed: 33,
    prefix: `fl${process.pid}`,
  });
  const signals: NormalizedSignal[] = payloads.map((p) => {
    p.timeLimitMs = Math.min(p.timeLimitMs ?? 30_000, 30_000);
    if (p.entry.type !== 'market')
      p.entryExpiresAt = Math.min(p.entryExpiresAt ?? Infinity, p.createdAt + 30_000);
    const checked = validateSignal(p);
    if (!checked.ok) throw new Error(`flush: generated signal invalid: ${checked.errors.join('; ')}`);
    return checked.signal;
  });
  const db = await scratchDatabase(databaseUrl);
  const client = new pg.Client({ connectionString: db.url });
  try {
    await migrate({ databaseUrl: db.url, log: quietLog });
    await client.connect();
    // The signals are in PostgreSQL before their outcomes (the intake stored them).
    await insertSignals(client, signals);
    const seeded = await seedShards(redis, prefix, set.shards, streams, signals, 200, set.batch, 0);
    if (seeded.outbox !== signals.length) say(`flush: ${seeded.outbox} of ${signals.length} signals closed`);
    // The same rows, written plainly: multi-row INSERTs of FLUSH_BATCH_SIZE outcome rows.
    const bySignal = new Map(signals.map((s) => [s.id, s]));
    const outcomes: OutcomeLine[] = [];
    for (let shard = 0; shard < set.shards; shard++) {
      for (const json of Object.values(await redis.hgetall(new ShardKeys(prefix, shard).outbox))) {
        const entry = shardCodec.decodeOutboxEntry(json);
        if (entry.kind === 'closed') outcomes.push(entry.outcome);
      }
    }
    await client.query('CREATE TABLE bench_raw_outcomes (LIKE signal_outcomes INCLUDING ALL)');
    const at = (ms: number | null | undefined): Date | null =>
      ms === null || ms === undefined ? null : new Date(ms);
    const t0 = performance.now();
    for (let i = 0; i < outcomes.length; i += FLUSH_BATCH_SIZE) {
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (const o of outcomes.slice(i, i + FLUSH_BATCH_SIZE)) {
        const s = bySignal.get(o.id)!;
        const row = [
          o.id,
          at(o.closedAt),
          s.tenant,
          s.symbol,
          s.side,
          s.strategy ?? null,
          s.model ?? null,
          s.modelVersion ?? null,
          s.timeframe ?? null,
          s.confidence ?? null,
          at(s.createdAt),
          o.outcome,
          o.partial ?? false,
          at(o.fill?.ts),
          o.fill?.price ?? null,
          o.holdingMs ?? null,
          o.grossReturn ?? null,
          o.netReturn ?? null,
          o.rMultiple ?? null,
          o.mfe ?? null,
          o.mae ?? null,
          o.stale === true,
          JSON.stringify(o.legs),
        ];
        tuples.push(`(${row.map((_, k) => `$${values.length + k + 1}`).join(',')})`);
        values.push(...row);
      }
      await client.query(
        `INSERT INTO bench_raw_outcomes (signal_id, closed_at, tenant, symbol, side, strategy, model, model_version,
           timeframe, confidence, signal_created_at, outcome, partial, fill_ts, fill_price, holding_ms,
           gross_return, net_return, r_multiple, mfe, mae, stale, legs) VALUES ${tuples.join(',')}`,
        values,
      );
    }
    const raw = outcomes.length / ((performance.now() - t0) / 1000);

    const fleet = await Fleet.spawn(
      [
        {
          mode: 'flush',
          redisUrl: url,
          databaseUrl: db.url,
          prefix,
          shardCount: set.shards,
          batchSize: FLUSH_BATCH_SIZE,
          expect: outcomes.length,
        },
      ],
      set.profile,
      set.childV8,
    );
    let flushed: number;
    try {
      await fleet.until(() => fleet.messages.some((m) => m.e === 'finished'));
      const m = fleet.messages.find(
        (x): x is Extract<ChildMessage, { e: 'finished' }> => x.e === 'finished',
      )!;
      flushed = m.count / ((m.t1 - m.t0) / 1000);
    } finally {
      await fleet.stop();
    }
    const stored = Number((await client.query('SELECT count(*) FROM signal_outcomes')).rows[0].count);
    if (stored !== outcomes.length)
      throw new Error(`flush: ${stored} outcomes stored, expected ${outcomes.length}`);
    report({ name: 'flush.outcomes_per_sec', value: flushed, unit: 'outcomes/s' });
    report({ name: 'flush.raw_insert_rows_per_sec', value: raw, unit: 'rows/s' });
    say(
      `flush: ${outcomes.length} outcomes over ${set.shards} outboxes, FLUSH_BATCH_SIZE ${FLUSH_BATCH_SIZE}; all stored`,
    );
  } finally {
    await client.end().catch(() => {});
    await dropPrefix(redis, prefix);
    await db.drop();
  }
}

// ---------------------------------------------------------------------------------------------

export async function run(report: Report, flags: string[]): Promise<void> {
  const set = settings(flags);
  const redisUrl = process.env.REDIS_URL;
  const databaseUrl = process.env.DATABASE_URL;
  if (redisUrl === undefined) {
    say('skipped: REDIS_URL is not set (scripts/services.sh start && eval "$(scripts/services.sh env)")');
    return;
  }
  const wants = (part: string): boolean => set.only === null || set.only.has(part);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const base = `bench${process.pid}`;
  try {
    const streams = await loadStreams();
    if (wants('breakdown')) await breakdownBench(report, set, redis, streams, base);
    if (wants('ticks') || wants('latency')) await tickBenches(report, set, redis, streams, base, flags);
    if (wants('intake') || wants('flush')) {
      if (databaseUrl === undefined) say('intake, flush: skipped, DATABASE_URL is not set');
      else {
        if (wants('intake')) await intakeBench(report, set, streams, databaseUrl, base, redis);
        if (wants('flush')) await flushBench(report, set, streams, databaseUrl, base, redis);
      }
    }
    if (wants('recovery')) await recoveryBench(report, set, redis, streams, base);
  } finally {
    redis.disconnect();
  }
}
